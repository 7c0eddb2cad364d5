package multiproc

import (
	"encoding/binary"
	"math"
)

// Layout is the entry layout of a prometheus_client .db file. Both start
// with a header: int32 used bytes (native little-endian), 4 bytes of
// padding. Each entry is an int32 key length, the UTF-8 key padded with
// spaces so that length+key ends on an 8-byte boundary (always 1 to 8
// spaces), then float64 value, and in LayoutTimestamped a float64 Unix
// timestamp of the last write.
type Layout uint8

const (
	// LayoutUnknown means no entry could be read with either layout.
	LayoutUnknown Layout = iota
	// LayoutValue is prometheus_client before 0.17: value only.
	LayoutValue
	// LayoutTimestamped is prometheus_client 0.17 and later: value and
	// timestamp (for the mostrecent gauge modes).
	LayoutTimestamped
)

// first is the layout a walk with hint l tries first: LayoutValue unless
// l is LayoutTimestamped.
func (l Layout) first() Layout {
	if l == LayoutTimestamped {
		return l
	}
	return LayoutValue
}

// headerSize is the used counter and its padding.
const headerSize = 8

// entry locates one entry of a file: its key, then its value (see
// valOff). Eight bytes, since a cold collection keeps one per entry of
// every file.
type entry struct {
	keyOff, keyLen int32
}

// valOff is the offset of an entry's float64 value; the timestamp
// follows in LayoutTimestamped.
func (e entry) valOff() int { return int(e.keyOff) + paddedLen(int(e.keyLen)) }

// walkResult is what walking a file's entries found.
type walkResult struct {
	layout  Layout
	entries []entry
	// torn is true when the file ended early or an entry was malformed:
	// entries holds the readable prefix.
	torn bool
}

// paddedLen is the length of the key plus its padding, as mmap_dict.py
// computes it: the padding is never zero.
func paddedLen(n int) int { return n + (8 - (n+4)%8) }

// usedOf returns the used counter of a file's content and whether the
// header is present.
func usedOf(data []byte) (int, bool) {
	if len(data) < headerSize {
		return 0, false
	}
	return int(int32(binary.LittleEndian.Uint32(data))), true
}

// walk finds the entries of data (the file's first used bytes, possibly
// fewer when the file was truncated). The layout is not recorded in the
// file: it is the one whose entries end exactly at used with every key
// looking like a JSON array; a file both layouts read completely cannot
// exist, since each entry has a different size in the two layouts. hint
// is tried first (the layout the directory's other files have).
func walk(data []byte, used int, hint Layout, dst []entry) walkResult {
	hint = hint.first()
	other := LayoutTimestamped
	if hint == LayoutTimestamped {
		other = LayoutValue
	}
	a, aok := walkLayout(data, used, hint, dst[:0])
	if aok {
		return walkResult{layout: hint, entries: a}
	}
	b, bok := walkLayout(data, used, other, nil)
	if bok {
		return walkResult{layout: other, entries: b}
	}
	// Neither reads to the end: keep the longer readable prefix.
	if len(b) > len(a) {
		return walkResult{layout: other, entries: b, torn: true}
	}
	if len(a) == 0 {
		return walkResult{layout: LayoutUnknown, torn: used > headerSize}
	}
	return walkResult{layout: hint, entries: a, torn: true}
}

// walkLayout reads entries of one layout and reports whether they end
// exactly at used, within data.
func walkLayout(data []byte, used int, l Layout, dst []entry) ([]entry, bool) {
	tail := 8
	if l == LayoutTimestamped {
		tail = 16
	}
	end := used
	if end > len(data) {
		end = len(data)
	}
	pos := headerSize
	for pos < end {
		if pos+4 > end {
			return dst, false
		}
		n := int(int32(binary.LittleEndian.Uint32(data[pos:])))
		if n < 2 || n > end {
			return dst, false
		}
		keyOff := pos + 4
		valOff := keyOff + paddedLen(n)
		next := valOff + tail
		if next > end || next < pos {
			return dst, false
		}
		if data[keyOff] != '[' || data[keyOff+n-1] != ']' {
			return dst, false
		}
		dst = append(dst, entry{keyOff: int32(keyOff), keyLen: int32(n)})
		pos = next
	}
	return dst, pos == used
}

// valueAt and timestampAt read an entry's numbers.
func valueAt(data []byte, e entry) float64 {
	return math.Float64frombits(binary.LittleEndian.Uint64(data[e.valOff():]))
}

func timestampAt(data []byte, e entry, l Layout) float64 {
	if l != LayoutTimestamped {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(data[e.valOff()+8:]))
}

// appendEntry encodes one entry in layout l, as mmap_dict.py does.
func appendEntry(dst []byte, key string, value, timestamp float64, l Layout) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(key)))
	dst = append(dst, key...)
	for i := len(key); i < paddedLen(len(key)); i++ {
		dst = append(dst, ' ')
	}
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(value))
	if l == LayoutTimestamped {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(timestamp))
	}
	return dst
}
