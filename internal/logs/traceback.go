package logs

import (
	"bytes"
	"time"
)

// A Python traceback arrives as many lines, possibly over several reads:
//
//	ERROR:root:request failed            <- the logging record (the "head")
//	Traceback (most recent call last):
//	  File "app.py", line 3, in <module>
//	    main()
//	ValueError: boom
//	<blank>
//	During handling of the above exception, another exception occurred:
//	<blank>
//	Traceback (most recent call last):
//	  ...
//	RuntimeError: wrapped
//
// The joiner turns that into one event. Because the head comes before
// anything says a traceback follows, every line is held until the next line
// (or the flush timeout): in a busy stream the next line is already in the
// same read, so holding costs a copy, not latency.

var (
	tbStart     = []byte("Traceback (most recent call last):")
	chainCause  = []byte("The above exception was the direct cause of the following exception:")
	chainDuring = []byte("During handling of the above exception, another exception occurred:")
)

type tbState uint8

const (
	tbIdle     tbState = iota
	tbFrames           // after "Traceback ...": indented frame lines
	tbAfterExc         // after the "ExcType: message" line
	tbBlank1           // a blank line after the exception line
	tbChainMsg         // "During handling ..." / "The above exception ..."
	tbBlank2           // a blank line after the chain message
)

// event is what the joiner hands on: one line, or a joined traceback.
type event struct {
	text    []byte    // the line, or head + "\n" + traceback
	headLen int       // length of the head line within text; -1 if none
	tb      bool      // text holds a traceback
	excLine []byte    // the last "ExcType: message" line
	at      time.Time // arrival of the event's first line
}

// joiner joins Python tracebacks (and the log line before them) into one
// event. It holds at most max bytes; a longer traceback is emitted in parts.
type joiner struct {
	max     int
	head    []byte
	hasHead bool
	buf     []byte
	headLen int
	state   tbState
	exc0    int // offsets of the last exception line in buf
	exc1    int
	pend    int       // length of buf before unconfirmed blank lines
	now     time.Time // arrival time of the lines being pushed (set by the reader)
	headAt  time.Time
	bufAt   time.Time
	ev      event // reused: emit takes a pointer, and a fresh one would escape
}

// send emits one event through the reused event value.
func (j *joiner) send(emit func(*event), ev event) {
	j.ev = ev
	emit(&j.ev)
}

// holding reports whether the joiner keeps something back, so the reader
// knows to wake up after the flush timeout.
func (j *joiner) holding() bool { return j.hasHead || j.state != tbIdle }

// push takes one complete line (without its newline).
func (j *joiner) push(line []byte, emit func(*event)) {
	if j.state != tbIdle && len(j.buf)+1+len(line) > j.max {
		j.finish(emit)
	}
	switch j.state {
	case tbIdle:
		if isTBStart(line) {
			j.buf, j.headLen, j.bufAt = j.buf[:0], -1, j.now
			if j.hasHead && len(bytes.TrimSpace(j.head)) > 0 && len(j.head)+1+len(line) <= j.max {
				j.buf = append(append(j.buf, j.head...), '\n')
				j.headLen = len(j.head)
				j.bufAt = j.headAt
			} else if j.hasHead {
				j.send(emit, event{text: j.head, headLen: -1, at: j.headAt})
			}
			j.hasHead = false
			j.buf = append(j.buf, line...)
			j.state, j.exc0, j.exc1 = tbFrames, 0, 0
			return
		}
		if j.hasHead {
			j.send(emit, event{text: j.head, headLen: -1, at: j.headAt})
		}
		j.head = append(j.head[:0], line...)
		j.hasHead, j.headAt = true, j.now
	case tbFrames:
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			j.add(line)
			return
		}
		if len(bytes.TrimSpace(line)) == 0 {
			j.finish(emit)
			j.push(line, emit)
			return
		}
		j.add(line)
		j.exc0, j.exc1 = len(j.buf)-len(line), len(j.buf)
		j.state = tbAfterExc
	case tbAfterExc:
		switch {
		case len(line) > 0 && (line[0] == ' ' || line[0] == '\t'):
			j.add(line) // exception groups, indented continuation
		case len(line) == 0:
			j.pend = len(j.buf)
			j.add(line)
			j.state = tbBlank1
		case isChain(line):
			j.add(line)
			j.state = tbChainMsg
		default:
			j.finish(emit)
			j.push(line, emit)
		}
	case tbBlank1:
		if isChain(line) {
			j.add(line)
			j.state = tbChainMsg
			return
		}
		j.buf = j.buf[:j.pend]
		j.finish(emit)
		j.push(nil, emit) // the blank line is a line of its own
		j.push(line, emit)
	case tbChainMsg, tbBlank2:
		switch {
		case len(line) == 0 && j.state == tbChainMsg:
			j.add(line)
			j.state = tbBlank2
		case isTBStart(line):
			j.add(line)
			j.state = tbFrames
		default:
			j.finish(emit)
			j.push(line, emit)
		}
	}
}

func (j *joiner) add(line []byte) {
	j.buf = append(append(j.buf, '\n'), line...)
}

// isTBStart reports whether line opens a traceback. Every line is asked, so
// the common answer comes without trimming.
func isTBStart(line []byte) bool {
	if len(line) < len(tbStart) || line[0] != 'T' {
		return false
	}
	return bytes.Equal(bytes.TrimRight(line, " \t"), tbStart)
}

func isChain(line []byte) bool {
	line = bytes.TrimRight(line, " \t")
	return bytes.Equal(line, chainCause) || bytes.Equal(line, chainDuring)
}

// finish emits the traceback being joined.
func (j *joiner) finish(emit func(*event)) {
	if j.state == tbIdle {
		return
	}
	blank := j.state == tbBlank1
	if blank {
		j.buf = j.buf[:j.pend]
	}
	ev := event{text: j.buf, headLen: j.headLen, tb: true, at: j.bufAt}
	if j.exc1 > j.exc0 {
		ev.excLine = j.buf[j.exc0:j.exc1]
	}
	j.state = tbIdle
	j.send(emit, ev)
	if blank {
		j.send(emit, event{text: nil, headLen: -1, at: j.bufAt})
	}
}

// flush emits everything held: on the flush timeout, before a partial
// line, and at EOF.
func (j *joiner) flush(emit func(*event)) {
	j.finish(emit)
	if j.hasHead {
		j.hasHead = false
		j.send(emit, event{text: j.head, headLen: -1, at: j.headAt})
	}
}

// splitException splits "pkg.ExcType: message" into type and message. A
// line whose start is not a dotted name has no type.
func splitException(line []byte) (typ, msg []byte) {
	name := line
	i := bytes.IndexByte(line, ':')
	if i >= 0 {
		name = line[:i]
	}
	if len(name) == 0 {
		return nil, line
	}
	for _, c := range name {
		if !isWordByte(c) && c != '.' && c < 0x80 {
			return nil, line
		}
	}
	if i < 0 {
		return name, nil
	}
	return name, bytes.TrimLeft(line[i+1:], " ")
}
