package logs

import (
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Field is a member added to every record of a pair of tagged streams.
type Field struct {
	Key     string
	enc     staticField
	console string // value as the console format shows it
}

// String is a field with a string value.
func String(key, value string) Field {
	f := Field{Key: key, enc: staticField{key: key}}
	f.enc.json = append(appendString(nil, []byte(key)), ':')
	f.enc.json = appendString(f.enc.json, []byte(value))
	f.enc.msgp = appendMsgpStr(appendMsgpStr(nil, []byte(key)), []byte(value))
	f.console = value
	return f
}

// Int is a field with an integer value.
func Int(key string, value int) Field {
	f := Field{Key: key, enc: staticField{key: key}}
	f.enc.json = append(appendString(nil, []byte(key)), ':')
	f.enc.json = strconv.AppendInt(f.enc.json, int64(value), 10)
	f.enc.msgp = appendMsgpInt(appendMsgpStr(nil, []byte(key)), int64(value))
	f.console = strconv.Itoa(value)
	return f
}

// Streams is a second pair of pipes into the pipeline whose records carry
// extra fields: the output of the pre-start commands, tagged with their
// phase. The child's own streams are untouched by it, so their hot path
// costs the same.
type Streams struct {
	wOut, wErr *os.File
	closeOnce  sync.Once
}

// Stdout is the write end to give a command as its fd 1.
func (s *Streams) Stdout() *os.File { return s.wOut }

// Stderr is the write end to give a command as its fd 2.
func (s *Streams) Stderr() *os.File { return s.wErr }

// Close closes pysup's write ends. The readers go on until every process
// holding a copy has closed it (EOF), so what a command left running still
// gets its lines tagged; Shutdown waits for them as for the child's.
func (s *Streams) Close() error {
	s.closeOnce.Do(func() {
		s.wOut.Close()
		s.wErr.Close()
	})
	return nil
}

// NewStreams opens a pair of tagged streams. The fields come before the
// static PYSUP_LOG_FIELDS (one of the same name is left out) and, like
// them, lose to the app's own fields. Call it before Shutdown.
func (p *Pipeline) NewStreams(fields ...Field) (*Streams, error) {
	static := make([]staticField, 0, len(fields)+len(p.enr.static))
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if !seen[f.Key] {
			static = append(static, f.enc)
			seen[f.Key] = true
		}
	}
	for _, f := range p.enr.static {
		if !seen[f.key] {
			static = append(static, f)
		}
	}
	// The console format shows the fields after the app's, as key=value.
	var tag []byte
	for _, f := range fields {
		tag = append(tag, ' ', ' ')
		tag = appendTerminalSafe(tag, []byte(f.Key))
		tag = append(tag, '=')
		tag = appendTerminalSafe(tag, []byte(f.console))
	}
	rOut, wOut, _, err := newPipe()
	if err != nil {
		return nil, err
	}
	rErr, wErr, _, err := newPipe()
	if err != nil {
		unix.Close(rOut)
		wOut.Close()
		return nil, err
	}
	rs := []*streamReader{newStreamReader(p, Stdout, rOut), newStreamReader(p, Stderr, rErr)}
	for _, r := range rs {
		r.static, r.consoleTag = static, tag
	}
	// A reader of its own, as the child's: the pair lives while the
	// commands run, before the child starts, and abort ends it too.
	p.extra.Go(func() {
		p.readThread(rs)
		unix.Close(rOut)
		unix.Close(rErr)
	})
	return &Streams{wOut: wOut, wErr: wErr}, nil
}
