package logs

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// framer splits a byte stream into lines of at most max bytes. It owns one
// fixed buffer: a line longer than max is handed out in pieces marked
// partial, so neither a 50 MiB line nor a binary stream without newlines
// grows memory.
type framer struct {
	buf  []byte
	r, w int // unread data is buf[r:w]
	max  int
	eof  bool
	// offered is the room the last fill offered to Read: a read that
	// returned less emptied the pipe.
	offered int

	// The long line being split, if any.
	ordinal int
}

// piece is one output of the framer.
type piece struct {
	line    []byte // without the newline (and a trailing \r)
	partial bool
	ordinal int // 1-based piece number of a long line
	last    bool
}

func newFramer(max int) *framer {
	size := 2 * (max + 1)
	if size < 128<<10 {
		size = 128 << 10
	}
	return &framer{buf: make([]byte, size), max: max}
}

// fill reads once from rd after moving unread data to the front. It
// returns what Read returned; io.EOF marks the end of the stream.
func (f *framer) fill(rd io.Reader) (int, error) {
	if f.r > 0 {
		f.w = copy(f.buf, f.buf[f.r:f.w])
		f.r = 0
	}
	f.offered = len(f.buf) - f.w
	n, err := rd.Read(f.buf[f.w:])
	f.w += n
	if err == io.EOF {
		f.eof = true
	}
	return n, err
}

// next returns the next line or piece, or ok=false when more input is
// needed. After EOF, remaining bytes form a final line.
func (f *framer) next() (p piece, ok bool) {
	data := f.buf[f.r:f.w]
	if len(data) == 0 {
		return p, false
	}
	limit := len(data)
	if limit > f.max+1 {
		limit = f.max + 1
	}
	if i := bytes.IndexByte(data[:limit], '\n'); i >= 0 && i <= f.max {
		f.r += i + 1
		return f.finish(trimCR(data[:i])), true
	}
	if len(data) > f.max {
		// Longer than max and no newline within it: cut a piece at a rune
		// boundary so each piece stays valid UTF-8 when the line was.
		cut := f.max
		for k := 0; k < utf8.UTFMax-1 && cut > 1 && !utf8.RuneStart(data[cut]); k++ {
			cut--
		}
		if !utf8.RuneStart(data[cut]) {
			cut = f.max
		}
		f.r += cut
		f.ordinal++
		return piece{line: data[:cut], partial: true, ordinal: f.ordinal}, true
	}
	if f.eof {
		f.r = f.w
		return f.finish(trimCR(data)), true
	}
	return p, false
}

// finish ends a line, closing a run of partial pieces when there is one.
func (f *framer) finish(line []byte) piece {
	if f.ordinal == 0 {
		return piece{line: line}
	}
	f.ordinal++
	p := piece{line: line, partial: true, ordinal: f.ordinal, last: true}
	f.ordinal = 0
	return p
}

// full reports whether the buffer has no room left to read into; next
// always makes room before that happens, so this is an invariant check.
func (f *framer) full() bool { return f.r == 0 && f.w == len(f.buf) }

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
