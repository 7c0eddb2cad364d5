package logs

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON reader for the app's JSON-object lines. It re-encodes every
// value compactly with appendString's rules, so what pysup writes is valid
// JSON even when the app's line holds invalid UTF-8, and it keeps the
// members in the app's order without building maps (encoding/json into a
// map costs several allocations per member on the hot path).

// maxDepth bounds nesting so a hostile line cannot exhaust the stack.
const maxDepth = 64

var errSyntax = errors.New("json syntax error")

func skipWS(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r') {
		s = s[1:]
	}
	return s
}

// decodeString reads the JSON string at the start of s (after its opening
// quote has been checked by the caller: s[0] == '"'), appends its unescaped
// bytes to dst and returns the rest of s.
func decodeString(dst, s []byte) ([]byte, []byte, error) {
	i := 1
	start := i
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			return append(dst, s[start:i]...), s[i+1:], nil
		case c == '\\':
			dst = append(dst, s[start:i]...)
			if i+1 >= len(s) {
				return dst, nil, errSyntax
			}
			e := s[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				dst = append(dst, e)
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := hex4(s[i:])
				if !ok {
					return dst, nil, errSyntax
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2, ok2 = hex4(s[i+2:])
					}
					if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
			default:
				return dst, nil, errSyntax
			}
			start = i
		case c < 0x20:
			return dst, nil, errSyntax
		default:
			i++
		}
	}
	return dst, nil, errSyntax
}

// plainString returns the index of the closing quote of the JSON string at
// the start of s (s[0] == '"') when its content needs neither unescaping
// nor re-escaping: no backslash, control byte or DEL, and valid UTF-8, i.e.
// exactly the bytes appendString writes unchanged. Otherwise it returns -1
// and the caller decodes and re-encodes. Most of an app's strings are
// plain, and copying them saves both passes.
func plainString(s []byte) int {
	i := 1
	// 8 bytes at a time while the buffer allows (a key or value is mostly
	// followed by more of the line): all bytes before i are plain, so the
	// lowest bit unsafe8 sets is the first byte that is not, and the
	// closing quote is found without a byte loop.
	for i+8 <= len(s) {
		x := binary.LittleEndian.Uint64(s[i:])
		m := unsafe8(x)
		if m == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(m) >> 3
		if b := s[i]; b < utf8.RuneSelf {
			if b == '"' {
				return i
			}
			return -1
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return -1
		}
		i += size
	}
	for i < len(s) {
		b := s[i]
		if b < utf8.RuneSelf {
			if b == '"' {
				return i
			}
			if !safeASCII[b] {
				return -1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return -1
		}
		i += size
	}
	return -1
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendValue re-encodes the JSON value at the start of s (whitespace
// skipped) compactly onto dst and returns the rest of s. scratch is a reused
// buffer for unescaping strings.
func appendValue(dst, s []byte, scratch *[]byte, depth int) ([]byte, []byte, error) {
	s = skipWS(s)
	if len(s) == 0 {
		return dst, nil, errSyntax
	}
	switch c := s[0]; {
	case c == '"':
		// Fast path: no escapes and nothing to sanitize -> copy verbatim.
		if i := plainString(s); i > 0 {
			return append(dst, s[:i+1]...), s[i+1:], nil
		}
		var err error
		*scratch, s, err = decodeString((*scratch)[:0], s)
		if err != nil {
			return dst, nil, err
		}
		return appendString(dst, *scratch), s, nil
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return dst, nil, errSyntax
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		dst = append(dst, c)
		s = skipWS(s[1:])
		if len(s) > 0 && s[0] == closing {
			return append(dst, closing), s[1:], nil
		}
		for {
			var err error
			if c == '{' {
				s = skipWS(s)
				if len(s) == 0 || s[0] != '"' {
					return dst, nil, errSyntax
				}
				if dst, s, err = appendValue(dst, s, scratch, depth+1); err != nil {
					return dst, nil, err
				}
				s = skipWS(s)
				if len(s) == 0 || s[0] != ':' {
					return dst, nil, errSyntax
				}
				dst = append(dst, ':')
				s = s[1:]
			}
			if dst, s, err = appendValue(dst, s, scratch, depth+1); err != nil {
				return dst, nil, err
			}
			s = skipWS(s)
			if len(s) == 0 {
				return dst, nil, errSyntax
			}
			if s[0] == closing {
				return append(dst, closing), s[1:], nil
			}
			if s[0] != ',' {
				return dst, nil, errSyntax
			}
			dst = append(dst, ',')
			s = s[1:]
		}
	case c == 't':
		return literal(dst, s, "true")
	case c == 'f':
		return literal(dst, s, "false")
	case c == 'n':
		return literal(dst, s, "null")
	case c == '-' || c >= '0' && c <= '9':
		n := numberLen(s)
		if n == 0 {
			return dst, nil, errSyntax
		}
		return append(dst, s[:n]...), s[n:], nil
	}
	return dst, nil, errSyntax
}

func literal(dst, s []byte, lit string) ([]byte, []byte, error) {
	if len(s) < len(lit) || string(s[:len(lit)]) != lit {
		return dst, nil, errSyntax
	}
	return append(dst, lit...), s[len(lit):], nil
}

// numberLen returns the length of the JSON number at the start of s, or 0.
func numberLen(s []byte) int {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return 0
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return 0
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return 0
		}
	}
	return i
}
