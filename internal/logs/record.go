package logs

import "time"

// Stream names where a record came from.
type Stream uint8

// The streams of a record.
const (
	Stdout Stream = iota // the child's stdout
	Stderr               // the child's stderr
	Pysup                // pysup's own records (Pipeline.Emit)
)

// String is the stream's name as written in records.
func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return "pysup"
}

// The canonical levels; an app's other level names are kept lowercased.
const (
	LevelDebug    = "debug"
	LevelInfo     = "info"
	LevelWarning  = "warning"
	LevelError    = "error"
	LevelCritical = "critical"
)

// Partial marks one piece of a line longer than the maximum line length.
// The names follow Docker's (partial_message, partial_id, partial_ordinal,
// partial_last) so Fluent Bit's and Fluentd's concat filters can rejoin them.
type Partial struct {
	ID      string // shared by the pieces of one line; empty when not partial
	Ordinal int    // 1-based
	Last    bool
}

// Record is one log event on its way to the sinks. Byte slices point into
// buffers owned by the stream reader and are valid only until the sinks
// return: sinks that keep a record encode it first.
type Record struct {
	Time       time.Time
	timeText   []byte // Time as RFC3339Nano UTC, formatted once per read
	Stream     Stream
	Level      string
	Message    []byte // raw text; encoders sanitize it
	Logger     []byte // logger name from `LEVEL:name:message` lines
	ExcType    []byte // exception type of a joined traceback
	ExcMessage []byte
	Partial    Partial

	fields []field // the app's JSON members, in the app's order
	arena  []byte  // backing store of fields' keys and values
}

// field is one of the app's JSON members: the key's unescaped bytes and the
// value's compact, valid JSON encoding, as offsets into Record.arena.
type field struct {
	k0, k1, v0, v1 int
	// plainKey says the key's bytes go into a JSON string unescaped.
	plainKey bool
	plainVal bool  // the value is a string copied as the app wrote it
	class    uint8 // keyClass of the key
}

func (r *Record) reset() {
	*r = Record{Time: r.Time, timeText: r.timeText, Stream: r.Stream, fields: r.fields[:0], arena: r.arena[:0]}
}

func (r *Record) key(f field) []byte   { return r.arena[f.k0:f.k1] }
func (r *Record) value(f field) []byte { return r.arena[f.v0:f.v1] }

// hasAppField reports whether the app set a member named k; pysup's own
// member of that name is then left out (the app's fields win).
func (r *Record) hasAppField(k string) bool {
	for _, f := range r.fields {
		if string(r.arena[f.k0:f.k1]) == k {
			return true
		}
	}
	return false
}

// Key classes: the keys pysup maps or adds, found once per key while
// parsing so that neither the mapping nor the encoders compare strings.
const (
	keyOther uint8 = iota
	keyTime
	keyStream
	keyLevel
	keyMessage
	keyLogger
	keyExcType
	keyExcMessage
	keyPartialMessage
	keyPartialID
	keyPartialOrdinal
	keyPartialLast
	keyKubernetes
	keyLevelname
	keySeverity
	keyMsg
	keyEvent
)

func keyClass(k []byte) uint8 {
	switch string(k) {
	case "time":
		return keyTime
	case "stream":
		return keyStream
	case "level":
		return keyLevel
	case "message":
		return keyMessage
	case "logger":
		return keyLogger
	case "exception_type":
		return keyExcType
	case "exception_message":
		return keyExcMessage
	case "partial_message":
		return keyPartialMessage
	case "partial_id":
		return keyPartialID
	case "partial_ordinal":
		return keyPartialOrdinal
	case "partial_last":
		return keyPartialLast
	case "kubernetes":
		return keyKubernetes
	case "levelname":
		return keyLevelname
	case "severity":
		return keySeverity
	case "msg":
		return keyMsg
	case "event":
		return keyEvent
	}
	return keyOther
}

// The members pysup adds, as bits of appKeys.
const (
	appTime           = 1 << keyTime
	appStream         = 1 << keyStream
	appLevel          = 1 << keyLevel
	appMessage        = 1 << keyMessage
	appLogger         = 1 << keyLogger
	appExcType        = 1 << keyExcType
	appExcMessage     = 1 << keyExcMessage
	appPartialMessage = 1 << keyPartialMessage
	appPartialID      = 1 << keyPartialID
	appPartialOrdinal = 1 << keyPartialOrdinal
	appPartialLast    = 1 << keyPartialLast
	appKubernetes     = 1 << keyKubernetes
)

// appKeys reports which of the members pysup adds the app set (bit
// 1<<class for each of its fields' key classes), in one pass over its
// fields rather than a string comparison per member and field.
func (r *Record) appKeys() (m uint32) {
	for i := range r.fields {
		m |= 1 << r.fields[i].class
	}
	return m
}

// NumAppFields is how many of the app's JSON members the record carries.
func (r *Record) NumAppFields() int { return len(r.fields) }
