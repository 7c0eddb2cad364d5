package logs

import (
	"encoding/binary"
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
scan:
	// Most log text is plain ASCII: skip it 8 bytes at a time, at the start
	// and after each escape, then go byte by byte.
	for i+8 <= len(s) && safe8(binary.LittleEndian.Uint64(s[i:])) {
		i += 8
	}
	for i < len(s) {
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
			goto scan
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

// safe8 reports whether all 8 bytes of x go into a JSON string as is (as
// safeASCII says). With no byte's high bit set, subtracting 0x01 (or 0x20)
// from every byte sets a high bit exactly when some byte is 0x00 (or below
// 0x20); a borrow only runs on from a byte that was already caught.
func safe8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	if x&highs != 0 {
		return false
	}
	t := (x - ones*0x20) | ((x ^ ones*'"') - ones) | ((x ^ ones*'\\') - ones) | ((x ^ ones*0x7f) - ones)
	return t&highs == 0
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
