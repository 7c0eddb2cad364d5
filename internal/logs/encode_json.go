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
	first := true
	app := r.appKeys()
	member := func(k string, bit uint32) bool {
		if app&bit != 0 {
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
	if member("time", appTime) {
		dst = append(dst, '"')
		dst = append(dst, r.timeText...)
		dst = append(dst, '"')
	}
	if member("stream", appStream) {
		dst = append(dst, '"')
		dst = append(dst, r.Stream.String()...)
		dst = append(dst, '"')
	}
	if member("level", appLevel) {
		dst = appendStringS(dst, r.Level)
	}
	if member("message", appMessage) {
		dst = appendString(dst, r.Message)
	}
	if r.Logger != nil && member("logger", appLogger) {
		dst = appendString(dst, r.Logger)
	}
	if r.ExcType != nil && member("exception_type", appExcType) {
		dst = appendString(dst, r.ExcType)
	}
	if r.ExcMessage != nil && member("exception_message", appExcMessage) {
		dst = appendString(dst, r.ExcMessage)
	}
	if r.Partial.ID != "" {
		if member("partial_message", appPartialMessage) {
			dst = append(dst, "true"...)
		}
		if member("partial_id", appPartialID) {
			dst = appendStringS(dst, r.Partial.ID)
		}
		if member("partial_ordinal", appPartialOrdinal) {
			dst = strconv.AppendInt(dst, int64(r.Partial.Ordinal), 10)
		}
		if member("partial_last", appPartialLast) {
			dst = strconv.AppendBool(dst, r.Partial.Last)
		}
	}
	for i := range r.fields {
		f := &r.fields[i]
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if f.plainKey {
			dst = append(dst, '"')
			dst = append(dst, r.arena[f.k0:f.k1]...)
			dst = append(dst, '"')
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
