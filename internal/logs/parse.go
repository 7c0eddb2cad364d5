package logs

import (
	"bytes"
)

// parseLine fills r (already reset) from one complete line: a JSON object
// is merged as fields, anything else is plain text with its level detected.
func (r *Record) parseLine(line []byte, scratch *[]byte) {
	if t := bytes.TrimSpace(line); len(t) >= 2 && t[0] == '{' && t[len(t)-1] == '}' {
		if r.parseJSON(t, scratch) {
			return
		}
		r.fields, r.arena = r.fields[:0], r.arena[:0]
	}
	r.parsePlain(line)
}

// parseJSON merges the members of a JSON-object line; it reports false
// (leaving r to be reset) when the line is not exactly one valid object.
func (r *Record) parseJSON(s []byte, scratch *[]byte) bool {
	// The line goes into the arena in one copy, so that plain keys and
	// values (most of them) are referenced where they are instead of
	// being copied one by one; what must be decoded or re-encoded is
	// appended after it. s stays a suffix of the copy: its offset in the
	// arena is end-len(s).
	base := len(r.arena)
	r.arena = append(r.arena, s...)
	end := len(r.arena)
	s = skipWS(r.arena[base+1 : end : end])
	if len(s) > 0 && s[0] == '}' {
		s = s[1:]
	} else {
		for {
			s = skipWS(s)
			if len(s) == 0 || s[0] != '"' {
				return false
			}
			// Each member of the field is stored on its own: building the
			// field in memory and copying it with wider loads than the
			// stores stalls store forwarding, measurably on this path.
			var err error
			var k0, k1 int
			plain := false
			if i := plainString(s); i > 0 {
				at := end - len(s)
				k0, k1 = at+1, at+i
				s = s[i+1:]
				plain = true
			} else {
				k0 = len(r.arena)
				if r.arena, s, err = decodeString(r.arena, s); err != nil {
					return false
				}
				k1 = len(r.arena)
			}
			class := keyClass(r.arena[k0:k1])
			s = skipWS(s)
			if len(s) == 0 || s[0] != ':' {
				return false
			}
			var v0, v1 int
			plainVal := false
			if s = skipWS(s[1:]); len(s) > 0 && s[0] == '"' {
				if i := plainString(s); i > 0 {
					at := end - len(s)
					v0, v1 = at, at+i+1
					s = s[i+1:]
					plainVal = true
				}
			}
			if !plainVal {
				v0 = len(r.arena)
				if r.arena, s, err = appendValue(r.arena, s, scratch, 1); err != nil {
					return false
				}
				v1 = len(r.arena)
			}
			if n := len(r.fields); n < cap(r.fields) {
				r.fields = r.fields[:n+1]
			} else {
				r.fields = append(r.fields, field{})
			}
			f := &r.fields[len(r.fields)-1]
			f.k0, f.k1, f.v0, f.v1 = k0, k1, v0, v1
			f.plainKey, f.plainVal, f.class = plain, plainVal, class
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
	if v, ok := r.takeString(scratch, keyLevel, keyLevelname, keySeverity); ok {
		r.Level = normLevel(v)
	}
	if v, ok := r.takeString(scratch, keyMessage, keyMsg, keyEvent); ok {
		r.Message = v
	}
	return true
}

// takeString removes the first of keys (classes, in the order given) whose value is
// a JSON string and returns that string unescaped. A JSON object may repeat
// a key; the first occurrence is the one mapped.
func (r *Record) takeString(scratch *[]byte, keys ...uint8) ([]byte, bool) {
	for _, k := range keys {
		for i := range r.fields {
			if r.fields[i].class != k {
				continue
			}
			f := &r.fields[i]
			v := r.arena[f.v0:f.v1]
			if len(v) == 0 || v[0] != '"' {
				break // a non-string level/message stays an ordinary field
			}
			if f.plainVal || bytes.IndexByte(v, '\\') < 0 {
				// Nothing escaped: the encoded value is the string quoted.
				r.fields = append(r.fields[:i], r.fields[i+1:]...)
				n := len(v) - 1
				return v[1:n:n], true
			}
			start := len(r.arena)
			var err error
			if r.arena, _, err = decodeString(r.arena, v); err != nil {
				r.arena = r.arena[:start]
				break
			}
			r.fields = append(r.fields[:i], r.fields[i+1:]...)
			return r.arena[start:len(r.arena):len(r.arena)], true
		}
	}
	return nil, false
}

// parsePlain detects the level of a plain line in the common Python
// formats; both streams default to info, as Python's logging writes every
// level to stderr.
func (r *Record) parsePlain(line []byte) {
	r.Level = LevelInfo
	r.Message = line
	// logging.basicConfig's default "LEVEL:name:message", and uvicorn's
	// "INFO:     message".
	if i := bytes.IndexByte(line, ':'); i >= 4 && i <= 8 {
		if lv := levelWord(line[:i]); lv != "" {
			r.Level = lv
			rest := line[i+1:]
			if j := bytes.IndexByte(rest, ':'); j > 0 && bytes.IndexAny(rest[:j], " \t") < 0 {
				r.Logger = rest[:j]
				r.Message = rest[j+1:]
			} else {
				r.Message = bytes.TrimLeft(rest, " \t")
			}
			return
		}
	}
	if lv := findLevel(line); lv != "" {
		r.Level = lv
	}
}

// levelScan bounds where a level word is looked for: formats put it after
// a timestamp and maybe a pid, never deep in the message.
const levelScan = 80

// findLevel looks for an upper-case level word standing alone near the
// start of a line: "[ERROR]" (gunicorn), "WARNING ..." and
// "2024-01-01 12:00:00,000 ERROR name: ..." or " - ERROR - ".
func findLevel(line []byte) string {
	if len(line) > levelScan {
		line = line[:levelScan]
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c < 'C' || c > 'W' || (i > 0 && isWordByte(line[i-1])) {
			continue
		}
		j := i + 1
		for j < len(line) && line[j] >= 'A' && line[j] <= 'Z' {
			j++
		}
		if j < len(line) && isWordByte(line[j]) {
			i = j
			continue
		}
		if lv := levelWord(line[i:j]); lv != "" {
			return lv
		}
		i = j
	}
	return ""
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// levelWord maps an upper-case level name to its canonical level, or "".
func levelWord(w []byte) string {
	switch string(w) {
	case "DEBUG":
		return LevelDebug
	case "INFO":
		return LevelInfo
	case "WARNING", "WARN":
		return LevelWarning
	case "ERROR":
		return LevelError
	case "CRITICAL", "FATAL":
		return LevelCritical
	}
	return ""
}

// normLevel maps an app's level value (any case) to a canonical level;
// unknown names are kept, lowercased and bounded.
func normLevel(v []byte) string {
	var b [16]byte
	if len(v) <= len(b) {
		up := b[:len(v)]
		for i, c := range v {
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			up[i] = c
		}
		if lv := levelWord(up); lv != "" {
			return lv
		}
		switch string(up) {
		case "TRACE", "NOTSET":
			return LevelDebug
		case "NOTICE":
			return LevelInfo
		case "EXCEPTION", "ERR":
			return LevelError
		case "ALERT", "EMERGENCY", "EMERG", "CRIT", "PANIC":
			return LevelCritical
		}
	}
	if len(v) > 32 {
		v = v[:32]
	}
	return string(sanitizeUTF8(nil, bytes.ToLower(v)))
}
