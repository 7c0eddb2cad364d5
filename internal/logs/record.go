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

// The members pysup adds, as bits of appKeys.
const (
	appTime = 1 << iota
	appStream
	appLevel
	appMessage
	appLogger
	appExcType
	appExcMessage
	appPartialMessage
	appPartialID
	appPartialOrdinal
	appPartialLast
	appKubernetes
)

// appKeys reports which of the members pysup adds the app set, in one pass
// over its fields rather than one per member.
func (r *Record) appKeys() (m uint16) {
	for _, f := range r.fields {
		switch string(r.arena[f.k0:f.k1]) {
		case "time":
			m |= appTime
		case "stream":
			m |= appStream
		case "level":
			m |= appLevel
		case "message":
			m |= appMessage
		case "logger":
			m |= appLogger
		case "exception_type":
			m |= appExcType
		case "exception_message":
			m |= appExcMessage
		case "partial_message":
			m |= appPartialMessage
		case "partial_id":
			m |= appPartialID
		case "partial_ordinal":
			m |= appPartialOrdinal
		case "partial_last":
			m |= appPartialLast
		case "kubernetes":
			m |= appKubernetes
		}
	}
	return m
}

// NumAppFields is how many of the app's JSON members the record carries.
func (r *Record) NumAppFields() int { return len(r.fields) }
