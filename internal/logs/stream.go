package logs

import (
	"io"
	"strconv"
	"time"

	"github.com/pysup/pysup/internal/logs/fluent"
)

// outFlush bounds the encoded output a reader collects before writing it.
const outFlush = 256 << 10

// streamReader owns one pipe and everything per-stream: framer, joiner,
// the record being built and the encoding buffers, so the hot path shares
// nothing with the other stream but the sinks.
type streamReader struct {
	p      *Pipeline
	stream Stream
	fd     int // the pipe's read end, non-blocking; -1 in benchmarks
	eof    bool
	static []staticField // PYSUP_LOG_FIELDS, after a tagged stream's own
	// consoleTag is a tagged stream's fields for the console format.
	consoleTag []byte

	fr         *framer
	j          joiner
	rec        Record
	scratch    []byte
	msg        []byte // joined head message + traceback
	now        time.Time
	nowText    []byte
	heldText   []byte // arrival time of a held line, formatted
	lastRead   time.Time
	kube       encodedKube // the pod metadata of this read
	out        []byte
	outRecords uint64
	ship       []fluent.Entry
	shipBuf    []byte

	partialID    string
	partialLevel string
}

func newStreamReader(p *Pipeline, s Stream, fd int) *streamReader {
	return &streamReader{
		p: p, stream: s, fd: fd, static: p.enr.static,
		fr: newFramer(p.maxLine),
		j:  joiner{max: max(p.maxLine, 256<<10)},
	}
}

// readOnce reads what the pipe holds (up to the framer's free space),
// turns it into records and writes them out. It returns the bytes read and
// whether the pipe is now empty.
func (s *streamReader) readOnce() (n int, drained bool) {
	n, err := s.fr.fill(rawReader(s.fd))
	drained = n < s.fr.offered
	if n > 0 {
		s.p.bytesIn.Add(uint64(n))
		s.lastRead = time.Now()
		s.stamp(s.lastRead)
		s.frame()
	}
	switch {
	case err == nil || err == errAgain:
	case err == io.EOF:
		s.frame() // the final unterminated line
		s.finish()
	default:
		s.p.diag.Warn("logs: reading the child's output failed", "stream", s.stream.String(), "error", err)
		s.finish()
	}
	s.flush()
	return n, drained
}

// frame hands every complete line (or piece) in the framer on.
func (s *streamReader) frame() {
	emit := s.emitEvent
	for {
		pc, ok := s.fr.next()
		if !ok {
			return
		}
		s.piece(pc, emit)
		if len(s.out) >= outFlush {
			s.flush()
		}
	}
}

// holdDeadline is when what the joiner holds back is emitted if no more
// input comes: the flush timeout after the last read.
func (s *streamReader) holdDeadline() time.Time { return s.lastRead.Add(s.p.tbTimeout) }

// expire emits what the joiner holds: no more input came in time.
func (s *streamReader) expire() {
	s.stamp(time.Now())
	s.j.flush(s.emitEvent)
	s.flush()
}

// finish ends the stream: everything held is emitted and written.
func (s *streamReader) finish() {
	s.eof = true
	s.j.flush(s.emitEvent)
	s.flush()
}

// stamp sets the arrival time of the lines of one read: they arrived
// together, and formatting the time (and looking at the pod metadata)
// once per read is cheaper.
func (s *streamReader) stamp(t time.Time) {
	s.now, s.j.now = t, t
	s.nowText = t.UTC().AppendFormat(s.nowText[:0], time.RFC3339Nano)
	s.kube = s.p.enr.current()
}

func (s *streamReader) piece(pc piece, emit func(*event)) {
	if !pc.partial {
		s.j.push(pc.line, emit)
		return
	}
	// A piece of a long line: what the joiner holds goes first, in order.
	s.j.flush(emit)
	if pc.ordinal == 1 {
		s.partialID = s.p.newPartialID()
		s.partialLevel = LevelInfo
		if lv := findLevel(pc.line); lv != "" {
			s.partialLevel = lv
		}
	}
	r := s.begin()
	r.Level, r.Message = s.partialLevel, pc.line
	r.Partial = Partial{ID: s.partialID, Ordinal: pc.ordinal, Last: pc.last}
	s.p.partial.Add(1)
	s.write(r)
}

func (s *streamReader) begin() *Record {
	r := &s.rec
	r.reset()
	r.Time, r.timeText, r.Stream = s.now, s.nowText, s.stream
	return r
}

// emitEvent turns a line or joined traceback into a record.
func (s *streamReader) emitEvent(ev *event) {
	r := s.begin()
	if !ev.at.IsZero() && !ev.at.Equal(s.now) {
		// A line held back for traceback joining keeps its arrival time.
		s.heldText = ev.at.UTC().AppendFormat(s.heldText[:0], time.RFC3339Nano)
		r.Time, r.timeText = ev.at, s.heldText
	}
	if !ev.tb {
		r.parseLine(ev.text, &s.scratch)
		s.write(r)
		return
	}
	tbText := ev.text
	if ev.headLen >= 0 {
		head := ev.text[:ev.headLen]
		tbText = ev.text[ev.headLen+1:]
		r.parseLine(head, &s.scratch)
		if r.Level == LevelInfo && !levelExplicit(head) {
			r.Level = LevelError
		}
		s.msg = append(append(append(s.msg[:0], r.Message...), '\n'), tbText...)
		r.Message = s.msg
	} else {
		r.Level, r.Message = LevelError, tbText
	}
	if ev.excLine != nil {
		r.ExcType, r.ExcMessage = splitException(ev.excLine)
		if r.ExcMessage == nil {
			r.ExcMessage = []byte{}
		}
	}
	s.write(r)
}

// levelExplicit reports whether a head line names its level; a traceback
// after a line without one is an error.
func levelExplicit(line []byte) bool {
	return findLevel(line) != "" || len(line) > 0 && line[0] == '{'
}

// write hands a finished record to the sinks.
func (s *streamReader) write(r *Record) {
	p, kube := s.p, s.kube
	p.recordsIn.Add(1)
	s.outRecords++
	if p.console {
		s.out = appendConsole(s.out, r, p.color)
		if s.consoleTag != nil {
			s.out = append(append(s.out[:len(s.out)-1], s.consoleTag...), '\n')
		}
	} else {
		s.out = appendJSON(s.out, r, s.static, kube.json)
	}
	if p.ship != nil {
		start := len(s.shipBuf)
		s.shipBuf = appendMsgpack(s.shipBuf, r, s.static, kube.msgp, &s.scratch)
		s.ship = append(s.ship, fluent.Entry{Time: r.Time, Record: s.shipBuf[start:len(s.shipBuf):len(s.shipBuf)]})
	}
}

// flush writes the collected output to stdout (blocking: the one
// acceptable backpressure) and hands the records to the shipper (never
// blocking).
func (s *streamReader) flush() {
	if len(s.out) > 0 {
		if err := s.p.writeOut(s.out); err == nil {
			s.p.recordsOut.Add(s.outRecords)
		}
		s.out, s.outRecords = s.out[:0], 0
	}
	if len(s.ship) > 0 {
		s.p.ship.Push(s.ship...)
		// The shipper owns the records now: start a new backing buffer.
		s.ship, s.shipBuf = s.ship[:0], make([]byte, 0, max(4096, cap(s.shipBuf)))
	}
}

func (p *Pipeline) newPartialID() string {
	return p.partialPrefix + strconv.FormatUint(p.partialSeq.Add(1), 36)
}
