package logs

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// safeASCII[b] is true for ASCII bytes that go into a JSON string as is.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != 0x7f
	}
	return t
}()

// appendString appends s as a quoted JSON string. Whatever s holds (invalid
// UTF-8, NUL, control characters) the result is valid JSON: control bytes are
// escaped and each invalid UTF-8 byte becomes U+FFFD.
func appendString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	i, start := 0, 0
	for i < len(s) {
		// Most log text is plain ASCII: look at 8 bytes at a time and go
		// straight to the first byte that is not (the last 8 bytes of s
		// overlap what was seen; a byte seen already may then flag its
		// successor falsely, which the byte step below passes over).
		if len(s) >= 8 {
			j := min(i, len(s)-8)
			m := unsafe8(binary.LittleEndian.Uint64(s[j:])) >> (8 * (i - j))
			if m == 0 {
				i = j + 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if safeASCII[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// unsafe8 has the high bit set of each byte of x that does not go into a
// JSON string as is (non-ASCII included), and maybe of bytes after such a
// byte; the lowest set bit is exactly the first such byte. Subtracting 0x01
// (or 0x20) from every byte sets a high bit where a byte is 0x00 (or below
// 0x20); a byte >= 0x80 never borrows, and a borrow only runs on from a
// byte that was already caught.
func unsafe8(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return (x | (x - ones*0x20) | ((x ^ ones*'"') - ones) | ((x ^ ones*'\\') - ones) | ((x ^ ones*0x7f) - ones)) & highs
}

// appendStringS is appendString for a Go string without converting it.
func appendStringS(dst []byte, s string) []byte {
	// The compiler does not copy for this conversion when s does not escape.
	return appendString(dst, []byte(s))
}

// sanitizeUTF8 appends s to dst with each invalid UTF-8 byte replaced by
// U+FFFD, for sinks that need valid text (msgpack str, console).
func sanitizeUTF8(dst, s []byte) []byte {
	if utf8.Valid(s) {
		return append(dst, s...)
	}
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[:size]...)
		}
		s = s[size:]
	}
	return dst
}
