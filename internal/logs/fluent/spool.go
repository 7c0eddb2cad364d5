package fluent

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// spool keeps records on disk, oldest first, in segment files named by a
// growing sequence number. A frame is
//
//	u32 length of payload | u32 CRC-32C of payload | payload
//	payload = i64 unix nanoseconds | msgpack record
//
// so a torn write at a crash is detected and the rest of that segment
// skipped. Segments are deleted once every record in them was delivered; a
// segment left by an earlier pysup (a container restart with the same
// emptyDir) is sent first, in order.
type spool struct {
	dir    string
	max    int64 // bound of all segments' bytes
	segMax int64

	segs  []*segment // oldest first; the last one is appended to
	total int64
	next  uint64 // sequence number of the next segment

	w  *os.File
	bw *bufio.Writer

	r     *os.File
	br    *bufio.Reader
	rSeq  uint64
	frame []byte

	dropped uint64 // records lost: segments dropped for space, torn frames
}

type segment struct {
	seq     uint64
	size    int64
	records int
	read    int
}

const segSuffix = ".seg"

// castagnoli is made on first use, not in init: building CRC-32C's tables
// costs ~0.2 ms, which every start of pysup would pay, spool or not.
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

func openSpool(dir string, limit int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{dir: dir, max: limit, segMax: min(limit/8, 8<<20)}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			continue
		}
		seg := &segment{seq: seq}
		if err := s.scan(seg); err != nil {
			return nil, err
		}
		s.segs = append(s.segs, seg)
		s.total += seg.size
		s.next = max(s.next, seq+1)
	}
	slices.SortFunc(s.segs, func(a, b *segment) int { return int(a.seq - b.seq) })
	return s, nil
}

// scan counts the whole frames of a segment left by an earlier run.
func (s *spool) scan(seg *segment) error {
	f, err := os.Open(s.path(seg.seq))
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var buf []byte
	for {
		var ok bool
		buf, ok = readFrame(br, buf)
		if !ok {
			return nil
		}
		seg.records++
		seg.size += int64(8 + len(buf))
	}
}

func (s *spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, segSuffix))
}

// pending is how many records wait on disk.
func (s *spool) pending() int {
	n := 0
	for _, seg := range s.segs {
		n += seg.records - seg.read
	}
	return n
}

// append writes entries at the tail, dropping the oldest segments when the
// spool would outgrow its bound.
func (s *spool) append(entries []Entry) error {
	for _, e := range entries {
		if s.w == nil || s.segs[len(s.segs)-1].size >= s.segMax {
			if err := s.rotate(); err != nil {
				return err
			}
		}
		n := 4 + 4 + 8 + len(e.Record)
		var hdr [16]byte
		binary.LittleEndian.PutUint32(hdr[0:], uint32(8+len(e.Record)))
		binary.LittleEndian.PutUint64(hdr[8:], uint64(e.Time.UnixNano()))
		crc := crc32.Update(crc32.Update(0, castagnoli(), hdr[8:16]), castagnoli(), e.Record)
		binary.LittleEndian.PutUint32(hdr[4:], crc)
		s.bw.Write(hdr[:])
		if _, err := s.bw.Write(e.Record); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		tail := s.segs[len(s.segs)-1]
		tail.size += int64(n)
		tail.records++
		s.total += int64(n)
		for s.total > s.max && len(s.segs) > 1 {
			s.dropHead()
		}
	}
	if s.bw != nil {
		if err := s.bw.Flush(); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	return nil
}

func (s *spool) rotate() error {
	if s.w != nil {
		if err := s.bw.Flush(); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.w.Close()
	}
	seq := s.next
	s.next++
	f, err := os.OpenFile(s.path(seq), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		s.w, s.bw = nil, nil
		return fmt.Errorf("spool: %w", err)
	}
	s.w = f
	if s.bw == nil {
		s.bw = bufio.NewWriterSize(f, 64<<10)
	} else {
		s.bw.Reset(f)
	}
	s.segs = append(s.segs, &segment{seq: seq})
	return nil
}

// dropHead deletes the oldest segment and counts its unsent records.
func (s *spool) dropHead() {
	head := s.segs[0]
	s.dropped += uint64(head.records - head.read)
	s.removeHead()
}

func (s *spool) removeHead() {
	head := s.segs[0]
	if s.r != nil && s.rSeq == head.seq {
		s.r.Close()
		s.r = nil
	}
	os.Remove(s.path(head.seq))
	s.total -= head.size
	s.segs = s.segs[1:]
}

// take reads the oldest unsent record. The segment file stays until the
// next take finds it exhausted, so a record in flight is never only in
// memory across a crash. ok is false when the spool is empty.
func (s *spool) take() (Entry, bool) {
	for len(s.segs) > 0 {
		head := s.segs[0]
		if head.read >= head.records {
			if len(s.segs) == 1 {
				if s.w == nil { // nothing to append to: a recovered segment
					s.removeHead()
				}
				return Entry{}, false
			}
			s.removeHead()
			continue
		}
		if s.r == nil || s.rSeq != head.seq {
			if s.r != nil {
				s.r.Close()
			}
			f, err := os.Open(s.path(head.seq))
			if err != nil {
				s.dropHead()
				continue
			}
			s.r, s.rSeq = f, head.seq
			if s.br == nil {
				s.br = bufio.NewReaderSize(f, 64<<10)
			} else {
				s.br.Reset(f)
			}
			// Skip what an earlier take of this segment already read.
			for i := 0; i < head.read; i++ {
				s.frame, _ = readFrame(s.br, s.frame)
			}
		}
		var ok bool
		s.frame, ok = readFrame(s.br, s.frame)
		if !ok {
			s.dropHead() // torn or unreadable: skip the segment's rest
			continue
		}
		head.read++
		t := int64(binary.LittleEndian.Uint64(s.frame))
		rec := append([]byte(nil), s.frame[8:]...)
		return Entry{Time: time.Unix(0, t), Record: rec}, true
	}
	return Entry{}, false
}

// takeSome appends to dst up to maxN records of about maxBytes in all (at
// least one) from the oldest segment. A batch stops at its segment's end,
// so until it is delivered it is wholly in a segment file still on disk.
func (s *spool) takeSome(dst []Entry, maxN, maxBytes int) []Entry {
	e, ok := s.take()
	if !ok {
		return dst
	}
	dst = append(dst, e)
	size := len(e.Record)
	for len(dst) < maxN && size < maxBytes {
		if head := s.segs[0]; head.read >= head.records {
			break
		}
		e, ok := s.take()
		if !ok {
			break
		}
		dst = append(dst, e)
		size += len(e.Record)
	}
	return dst
}

// readFrame reads one frame's payload into buf, checking its CRC.
func readFrame(br *bufio.Reader, buf []byte) ([]byte, bool) {
	var hdr [8]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return buf, false
	}
	n := binary.LittleEndian.Uint32(hdr[0:])
	if n < 8 || n > 1<<30 {
		return buf, false
	}
	buf = slices.Grow(buf[:0], int(n))[:n]
	if _, err := io.ReadFull(br, buf); err != nil {
		return buf, false
	}
	if crc32.Checksum(buf, castagnoli()) != binary.LittleEndian.Uint32(hdr[4:]) {
		return buf, false
	}
	return buf, true
}

func (s *spool) close() error {
	var errs []error
	if s.bw != nil {
		errs = append(errs, s.bw.Flush())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if s.r != nil {
		s.r.Close()
	}
	return errors.Join(errs...)
}
