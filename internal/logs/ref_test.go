package logs

// The JSON-line parser and encoder as they were before the raw-copy fast
// paths (every app string decoded into the arena and re-escaped, pysup's
// keys looked up field by field), kept verbatim as the reference the fast
// paths must match byte for byte.

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// refAppendString appends s as a quoted JSON string. Whatever s holds (invalid
// UTF-8, NUL, control characters) the result is valid JSON: control bytes are
// escaped and each invalid UTF-8 byte becomes U+FFFD.
func refAppendString(dst []byte, s []byte) []byte {
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

// safe8 (the reference's) reports whether all 8 bytes of x go into a JSON string as is (as
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

func refHasAppField(r *Record, k string) bool {
	for _, f := range r.fields {
		if string(r.arena[f.k0:f.k1]) == k {
			return true
		}
	}
	return false
}

func refDecodeString(dst, s []byte) ([]byte, []byte, error) {
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

func refAppendValue(dst, s []byte, scratch *[]byte, depth int) ([]byte, []byte, error) {
	s = skipWS(s)
	if len(s) == 0 {
		return dst, nil, errSyntax
	}
	switch c := s[0]; {
	case c == '"':
		// Fast path: no escapes and nothing to sanitize -> copy verbatim.
		for i := 1; i < len(s); i++ {
			b := s[i]
			if b == '"' {
				return append(dst, s[:i+1]...), s[i+1:], nil
			}
			if b == '\\' || b < 0x20 || b >= utf8.RuneSelf || b == 0x7f {
				break
			}
		}
		var err error
		*scratch, s, err = refDecodeString((*scratch)[:0], s)
		if err != nil {
			return dst, nil, err
		}
		return refAppendString(dst, *scratch), s, nil
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
				if dst, s, err = refAppendValue(dst, s, scratch, depth+1); err != nil {
					return dst, nil, err
				}
				s = skipWS(s)
				if len(s) == 0 || s[0] != ':' {
					return dst, nil, errSyntax
				}
				dst = append(dst, ':')
				s = s[1:]
			}
			if dst, s, err = refAppendValue(dst, s, scratch, depth+1); err != nil {
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

func refParseLine(r *Record, line []byte, scratch *[]byte) {
	if t := bytes.TrimSpace(line); len(t) >= 2 && t[0] == '{' && t[len(t)-1] == '}' {
		if refParseJSON(r, t, scratch) {
			return
		}
		r.fields, r.arena = r.fields[:0], r.arena[:0]
	}
	r.parsePlain(line)
}

func refParseJSON(r *Record, s []byte, scratch *[]byte) bool {
	s = skipWS(s[1:])
	if len(s) > 0 && s[0] == '}' {
		s = s[1:]
	} else {
		for {
			s = skipWS(s)
			if len(s) == 0 || s[0] != '"' {
				return false
			}
			var f field
			var err error
			f.k0 = len(r.arena)
			if r.arena, s, err = refDecodeString(r.arena, s); err != nil {
				return false
			}
			f.k1 = len(r.arena)
			s = skipWS(s)
			if len(s) == 0 || s[0] != ':' {
				return false
			}
			f.v0 = len(r.arena)
			if r.arena, s, err = refAppendValue(r.arena, s[1:], scratch, 1); err != nil {
				return false
			}
			f.v1 = len(r.arena)
			r.fields = append(r.fields, f)
			s = skipWS(s)
			if len(s) == 0 {
				return false
			}
			if s[0] == '}' {
				s = s[1:]
				break
			}
			if s[0] != ',' {
				return false
			}
			s = s[1:]
		}
	}
	if len(skipWS(s)) != 0 {
		return false
	}
	r.Level = LevelInfo
	if v, ok := refTakeString(r, scratch, "level", "levelname", "severity"); ok {
		r.Level = normLevel(v)
	}
	if v, ok := refTakeString(r, scratch, "message", "msg", "event"); ok {
		r.Message = v
	}
	return true
}

func refTakeString(r *Record, scratch *[]byte, keys ...string) ([]byte, bool) {
	for _, k := range keys {
		for i, f := range r.fields {
			if string(r.arena[f.k0:f.k1]) != k {
				continue
			}
			v := r.arena[f.v0:f.v1]
			if len(v) == 0 || v[0] != '"' {
				break // a non-string level/message stays an ordinary field
			}
			start := len(r.arena)
			var err error
			if r.arena, _, err = refDecodeString(r.arena, v); err != nil {
				r.arena = r.arena[:start]
				break
			}
			r.fields = append(r.fields[:i], r.fields[i+1:]...)
			return r.arena[start:len(r.arena):len(r.arena)], true
		}
	}
	return nil, false
}

func refAppendJSON(dst []byte, r *Record, static []staticField, kube []byte) []byte {
	dst = append(dst, '{')
	first := true
	member := func(k string) bool {
		if refHasAppField(r, k) {
			return false
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, '"', ':')
		return true
	}
	if member("time") {
		dst = append(dst, '"')
		dst = append(dst, r.timeText...)
		dst = append(dst, '"')
	}
	if member("stream") {
		dst = append(dst, '"')
		dst = append(dst, r.Stream.String()...)
		dst = append(dst, '"')
	}
	if member("level") {
		dst = appendStringS(dst, r.Level)
	}
	if member("message") {
		dst = refAppendString(dst, r.Message)
	}
	if r.Logger != nil && member("logger") {
		dst = refAppendString(dst, r.Logger)
	}
	if r.ExcType != nil && member("exception_type") {
		dst = refAppendString(dst, r.ExcType)
	}
	if r.ExcMessage != nil && member("exception_message") {
		dst = refAppendString(dst, r.ExcMessage)
	}
	if r.Partial.ID != "" {
		if member("partial_message") {
			dst = append(dst, "true"...)
		}
		if member("partial_id") {
			dst = appendStringS(dst, r.Partial.ID)
		}
		if member("partial_ordinal") {
			dst = strconv.AppendInt(dst, int64(r.Partial.Ordinal), 10)
		}
		if member("partial_last") {
			dst = strconv.AppendBool(dst, r.Partial.Last)
		}
	}
	for _, f := range r.fields {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = refAppendString(dst, r.arena[f.k0:f.k1])
		dst = append(dst, ':')
		dst = append(dst, r.arena[f.v0:f.v1]...)
	}
	for _, s := range static {
		if refHasAppField(r, s.key) {
			continue
		}
		dst = append(dst, ',')
		dst = append(dst, s.json...)
	}
	if kube != nil && !refHasAppField(r, "kubernetes") {
		dst = append(dst, ',')
		dst = append(dst, kube...)
	}
	return append(dst, '}', '\n')
}
