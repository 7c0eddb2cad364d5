package logs

// Console format for humans running pysup locally:
//
//	15:04:05.000 ERROR  stderr root: request failed  user=42
//	  Traceback (most recent call last): ...
//
// Colored by level; app fields follow the message as key=value.

const (
	ansiReset = "\x1b[0m"
	ansiDim   = "\x1b[2m"
)

func levelColor(l string) (string, string) {
	switch l {
	case LevelDebug:
		return "\x1b[90m", "DEBUG"
	case LevelInfo:
		return "\x1b[32m", "INFO "
	case LevelWarning:
		return "\x1b[33m", "WARN "
	case LevelError:
		return "\x1b[31m", "ERROR"
	case LevelCritical:
		return "\x1b[1;31m", "CRIT "
	}
	return "\x1b[36m", l
}

// appendConsole appends r as one or more human-readable lines. Control
// characters other than newline and tab are escaped so a hostile line
// cannot drive the terminal.
func appendConsole(dst []byte, r *Record, color bool) []byte {
	col, name := levelColor(r.Level)
	if color {
		dst = append(dst, ansiDim...)
	}
	dst = r.Time.Local().AppendFormat(dst, "15:04:05.000")
	if color {
		dst = append(dst, ansiReset...)
		dst = append(dst, col...)
	}
	dst = append(dst, ' ')
	dst = append(dst, name...)
	if color {
		dst = append(dst, ansiReset...)
	}
	dst = append(dst, ' ')
	if r.Stream != Stdout {
		dst = append(dst, r.Stream.String()...)
		dst = append(dst, ' ')
	}
	if r.Logger != nil {
		dst = appendTerminalSafe(dst, r.Logger)
		dst = append(dst, ':', ' ')
	}
	dst = appendTerminalSafe(dst, r.Message)
	if r.Partial.ID != "" && !r.Partial.Last {
		dst = append(dst, "…"...)
	}
	for _, f := range r.fields {
		dst = append(dst, ' ', ' ')
		if color {
			dst = append(dst, ansiDim...)
		}
		dst = appendTerminalSafe(dst, r.key(f))
		dst = append(dst, '=')
		if color {
			dst = append(dst, ansiReset...)
		}
		dst = appendTerminalSafe(dst, r.value(f))
	}
	return append(dst, '\n')
}

func appendTerminalSafe(dst, s []byte) []byte {
	start := len(dst)
	dst = sanitizeUTF8(dst, s)
	out := dst[start:]
	clean := true
	for _, c := range out {
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return dst
	}
	tmp := append([]byte(nil), out...)
	dst = dst[:start]
	for _, c := range tmp {
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}
