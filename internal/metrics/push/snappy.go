package push

import (
	"encoding/binary"
	"math/bits"
)

// snappyEncode appends src compressed in snappy's block format (what
// remote write's "Content-Encoding: snappy" means) to dst[:0].
//
// It is pysup's own because klauspost/compress/snappy is built on s2, whose
// package init computes CRC-32C tables: about 0.2 ms on every start of
// pysup, remote write configured or not. The block format has no checksum,
// and a greedy LZ77 pass is all it takes; any snappy decoder reads it (see
// the round-trip tests and the Prometheus remote-write test).
func snappyEncode(dst, src []byte) []byte {
	dst = binary.AppendUvarint(dst[:0], uint64(len(src)))
	var table []uint16
	for len(src) > 0 {
		block := src[:min(len(src), snappyMaxBlock)]
		src = src[len(block):]
		if len(block) < snappyMinBlock {
			dst = snappyLiteral(dst, block)
			continue
		}
		if table == nil {
			table = make([]uint16, 1<<snappyHashBits)
		} else {
			clear(table)
		}
		dst = snappyBlock(dst, block, table)
	}
	return dst
}

const (
	// snappyMaxBlock keeps every offset within a copy's two bytes.
	snappyMaxBlock = 1 << 16
	// snappyMinBlock: shorter blocks are not worth a match search.
	snappyMinBlock = 16
	snappyHashBits = 14
)

// snappyBlock compresses one block of at most snappyMaxBlock bytes. table
// maps the hash of 4 bytes to the last position they were seen at.
func snappyBlock(dst, src []byte, table []uint16) []byte {
	load := func(i int) uint32 { return binary.LittleEndian.Uint32(src[i:]) }
	hash := func(u uint32) uint32 { return (u * 0x1e35a7bd) >> (32 - snappyHashBits) }
	lit := 0 // start of the bytes not yet emitted
	// skip grows while nothing matches, so incompressible input is
	// crossed quickly; a match resets it.
	skip := 32
	for s := 1; s+4 <= len(src); {
		u := load(s)
		h := hash(u)
		cand := int(table[h])
		table[h] = uint16(s)
		if cand >= s || load(cand) != u {
			s += skip >> 5
			skip++
			continue
		}
		if lit < s {
			dst = snappyLiteral(dst, src[lit:s])
		}
		start, offset := s, s-cand
		for s += 4; s < len(src) && src[s] == src[s-offset]; s++ {
		}
		dst = snappyCopy(dst, offset, s-start)
		lit, skip = s, 32
		if s+4 <= len(src) {
			// The position just before the match's end starts the next
			// likely repeat (records share prefixes).
			table[hash(load(s-1))] = uint16(s - 1)
		}
	}
	if lit < len(src) {
		dst = snappyLiteral(dst, src[lit:])
	}
	return dst
}

// snappyLiteral appends a literal element: its length, then the bytes.
func snappyLiteral(dst, lit []byte) []byte {
	n := uint32(len(lit) - 1)
	if n < 60 {
		dst = append(dst, byte(n)<<2)
	} else {
		size := (bits.Len32(n) + 7) / 8 // 1 to 4 length bytes follow
		dst = append(dst, byte(59+size)<<2)
		for i := 0; i < size; i++ {
			dst = append(dst, byte(n>>(8*i)))
		}
	}
	return append(dst, lit...)
}

// snappyCopy appends copy elements for length bytes (at least 4) that
// repeat those offset bytes back (1 to 65535).
func snappyCopy(dst []byte, offset, length int) []byte {
	for length >= 68 {
		dst = append(dst, 63<<2|2, byte(offset), byte(offset>>8))
		length -= 64
	}
	if length > 64 {
		// 60 now leaves at least the 4 the last element needs.
		dst = append(dst, 59<<2|2, byte(offset), byte(offset>>8))
		length -= 60
	}
	if length >= 12 || offset >= 2048 {
		return append(dst, byte(length-1)<<2|2, byte(offset), byte(offset>>8))
	}
	return append(dst, byte(offset>>8)<<5|byte(length-4)<<2|1, byte(offset))
}
