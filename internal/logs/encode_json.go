package logs

import "strconv"

// appendJSON appends r as one JSON object and a newline:
//
//	{"time","stream","level","message",["logger"],["exception_type",
//	"exception_message"],[partial_*],...app fields...,...static fields...,
//	["kubernetes"]}
//
// A member pysup adds is left out when the app has one of that name.
func appendJSON(dst []byte, r *Record, static []staticField, kube []byte) []byte {
	dst = append(dst, '{')
	// Each member starts with its separator and quoted key in one string,
	// the comma skipped for the first (skip is 1 until a member is out).
	skip := 1
	app := r.appKeys()
	member := func(k string, bit uint32) bool {
		if app&bit != 0 {
			return false
		}
		dst = append(dst, k[skip:]...)
		skip = 0
		return true
	}
	if member(`,"time":"`, appTime) {
		dst = append(dst, r.timeText...)
		dst = append(dst, '"')
	}
	if member(`,"stream":`, appStream) {
		switch r.Stream {
		case Stdout:
			dst = append(dst, `"stdout"`...)
		case Stderr:
			dst = append(dst, `"stderr"`...)
		default:
			dst = appendStringS(dst, r.Stream.String())
		}
	}
	if member(`,"level":`, appLevel) {
		dst = appendLevel(dst, r.Level)
	}
	if member(`,"message":`, appMessage) {
		dst = appendString(dst, r.Message)
	}
	if r.Logger != nil && member(`,"logger":`, appLogger) {
		dst = appendString(dst, r.Logger)
	}
	if r.ExcType != nil && member(`,"exception_type":`, appExcType) {
		dst = appendString(dst, r.ExcType)
	}
	if r.ExcMessage != nil && member(`,"exception_message":`, appExcMessage) {
		dst = appendString(dst, r.ExcMessage)
	}
	if r.Partial.ID != "" {
		if member(`,"partial_message":`, appPartialMessage) {
			dst = append(dst, "true"...)
		}
		if member(`,"partial_id":`, appPartialID) {
			dst = appendStringS(dst, r.Partial.ID)
		}
		if member(`,"partial_ordinal":`, appPartialOrdinal) {
			dst = strconv.AppendInt(dst, int64(r.Partial.Ordinal), 10)
		}
		if member(`,"partial_last":`, appPartialLast) {
			dst = strconv.AppendBool(dst, r.Partial.Last)
		}
	}
	for i := range r.fields {
		f := &r.fields[i]
		if skip == 0 {
			dst = append(dst, ',')
		}
		skip = 0
		if f.plainKey {
			// A plain key is referenced in the line's copy, between
			// its quotes.
			dst = append(dst, r.arena[f.k0-1:f.k1+1]...)
		} else {
			dst = appendString(dst, r.arena[f.k0:f.k1])
		}
		dst = append(dst, ':')
		dst = append(dst, r.arena[f.v0:f.v1]...)
	}
	for _, s := range static {
		if r.hasAppField(s.key) {
			continue
		}
		dst = append(dst, ',')
		dst = append(dst, s.json...)
	}
	if kube != nil && app&appKubernetes == 0 {
		dst = append(dst, ',')
		dst = append(dst, kube...)
	}
	return append(dst, '}', '\n')
}

// appendLevel appends a level as a JSON string, the canonical ones without
// scanning them.
func appendLevel(dst []byte, lv string) []byte {
	switch lv {
	case LevelDebug:
		return append(dst, `"debug"`...)
	case LevelInfo:
		return append(dst, `"info"`...)
	case LevelWarning:
		return append(dst, `"warning"`...)
	case LevelError:
		return append(dst, `"error"`...)
	case LevelCritical:
		return append(dst, `"critical"`...)
	}
	return appendStringS(dst, lv)
}
