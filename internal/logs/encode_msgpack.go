package logs

import (
	"encoding/binary"
	"math"
	"strconv"
)

// MessagePack encoding of records for the Fluent Forward protocol, written
// by hand in append style: the record shape is fixed and small, and the
// app's JSON members are transcoded from their already validated form.

func appendMsgpStr(dst, s []byte) []byte {
	s = sanitizeIfNeeded(s)
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n < 1<<8:
		dst = append(dst, 0xd9, byte(n))
	case n < 1<<16:
		dst = append(dst, 0xda, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0xdb)
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	return append(dst, s...)
}

// sanitizeIfNeeded returns s, or a copy with invalid UTF-8 replaced: a
// msgpack str must hold UTF-8 for Fluentd's Ruby side.
func sanitizeIfNeeded(s []byte) []byte {
	for _, c := range s {
		if c >= 0x80 {
			return sanitizeUTF8(nil, s)
		}
	}
	return s
}

func appendMsgpMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n < 1<<16:
		return append(dst, 0xde, byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
}

func appendMsgpInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0 && v < 128:
		return append(dst, byte(v))
	case v < 0 && v >= -32:
		return append(dst, byte(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
}

func appendMsgpBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 0xc3)
	}
	return append(dst, 0xc2)
}

// appendMsgpack appends r as a msgpack map with the same members, in the
// same precedence, as appendJSON.
func appendMsgpack(dst []byte, r *Record, static []staticField, kube []byte, scratch *[]byte) []byte {
	hdr := len(dst)
	dst = append(dst, 0xdf, 0, 0, 0, 0) // map32, count patched below
	n := 0
	member := func(k string) bool {
		if r.hasAppField(k) {
			return false
		}
		n++
		dst = appendMsgpStr(dst, []byte(k))
		return true
	}
	if member("time") {
		dst = appendMsgpStr(dst, r.timeText)
	}
	if member("stream") {
		dst = appendMsgpStr(dst, []byte(r.Stream.String()))
	}
	if member("level") {
		dst = appendMsgpStr(dst, []byte(r.Level))
	}
	if member("message") {
		dst = appendMsgpStr(dst, r.Message)
	}
	if r.Logger != nil && member("logger") {
		dst = appendMsgpStr(dst, r.Logger)
	}
	if r.ExcType != nil && member("exception_type") {
		dst = appendMsgpStr(dst, r.ExcType)
	}
	if r.ExcMessage != nil && member("exception_message") {
		dst = appendMsgpStr(dst, r.ExcMessage)
	}
	if r.Partial.ID != "" {
		if member("partial_message") {
			dst = appendMsgpBool(dst, true)
		}
		if member("partial_id") {
			dst = appendMsgpStr(dst, []byte(r.Partial.ID))
		}
		if member("partial_ordinal") {
			dst = appendMsgpInt(dst, int64(r.Partial.Ordinal))
		}
		if member("partial_last") {
			dst = appendMsgpBool(dst, r.Partial.Last)
		}
	}
	for _, f := range r.fields {
		n++
		dst = appendMsgpStr(dst, r.key(f))
		dst, _ = jsonToMsgpack(dst, r.value(f), scratch)
	}
	for _, s := range static {
		if !r.hasAppField(s.key) {
			n++
			dst = append(dst, s.msgp...)
		}
	}
	if kube != nil && !r.hasAppField("kubernetes") {
		n++
		dst = append(dst, kube...)
	}
	binary.BigEndian.PutUint32(dst[hdr+1:], uint32(n))
	return dst
}

// jsonToMsgpack transcodes one compact, valid JSON value (as appendValue
// produced it) and returns the rest of src.
func jsonToMsgpack(dst, src []byte, scratch *[]byte) ([]byte, []byte) {
	if len(src) == 0 {
		return append(dst, 0xc0), nil
	}
	switch c := src[0]; {
	case c == '"':
		var s []byte
		var err error
		*scratch, s, err = decodeString((*scratch)[:0], src)
		if err != nil {
			return append(dst, 0xc0), nil
		}
		return appendMsgpStr(dst, *scratch), s
	case c == '{' || c == '[':
		hdr := len(dst)
		if c == '{' {
			dst = append(dst, 0xdf, 0, 0, 0, 0)
		} else {
			dst = append(dst, 0xdd, 0, 0, 0, 0)
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		src = src[1:]
		n := 0
		for len(src) > 0 && src[0] != closing {
			if c == '{' {
				dst, src = jsonToMsgpack(dst, src, scratch) // key
				if len(src) > 0 && src[0] == ':' {
					src = src[1:]
				}
			}
			dst, src = jsonToMsgpack(dst, src, scratch)
			n++
			if len(src) > 0 && src[0] == ',' {
				src = src[1:]
			}
		}
		if len(src) > 0 {
			src = src[1:]
		}
		binary.BigEndian.PutUint32(dst[hdr+1:], uint32(n))
		return dst, src
	case c == 't':
		return append(dst, 0xc3), src[min(4, len(src)):]
	case c == 'f':
		return append(dst, 0xc2), src[min(5, len(src)):]
	case c == 'n':
		return append(dst, 0xc0), src[min(4, len(src)):]
	}
	l := numberLen(src)
	if l == 0 { // not reached for appendValue's output; never loop on garbage
		return append(dst, 0xc0), src[1:]
	}
	num := src[:l]
	if i, err := strconv.ParseInt(string(num), 10, 64); err == nil {
		return appendMsgpInt(dst, i), src[l:]
	}
	f, _ := strconv.ParseFloat(string(num), 64)
	dst = append(dst, 0xcb)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f)), src[l:]
}
