package logs

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// diffSeeds are JSON lines that reach each fast path and each way out of
// it: plain and escaped keys and values, what appendString escapes without
// a backslash in the input (DEL, control bytes, invalid UTF-8), what it
// keeps (valid multi-byte UTF-8, U+2028, '<', '&'), pysup's own keys set by
// the app, repeated keys and non-string levels and messages.
var diffSeeds = []string{
	`{"asctime": "2024-01-01 12:00:00,000", "levelname": "INFO", "name": "svc", "message": "request 0000001", "user_id": 42}`,
	`{"levelname": "ERROR", "message": "x", "n": 1.5e3, "a": [1, {"b": null}], "u": "\ud83d\ude00 \u0000"}`,
	`{"event": "e", "level": "warn", "time": "t", "kubernetes": 1, "stream": "s", "v": "app"}`,
	`{"message": "caf\u00e9 \"q\" \\ \/", "level": "info\n"}`,
	"{\"m\x7f\": \"a\x7fb\", \"message\": \"\xe2\x80\xa8<>&\", \"é\": \"ü€😀\"}",
	"{\"k\": \"\xff\xfe\", \"\xed\xa0\x80\": \"\xc0\xaf\", \"message\": \"\xf4\x90\x80\x80\"}",
	"{\"a\": \"tab\there\", \"b\": \"0123456789abcdef\x01\"}",
	`{"level": 3, "levelname": "DEBUG", "message": {"x": 1}, "msg": "second"}`,
	`{"message": "one", "message": "two", "level": "\u0045RROR"}`,
	`{"logger": "l", "exception_type": "E", "exception_message": "m", "partial_message": false, "partial_id": "i", "partial_ordinal": 1, "partial_last": true}`,
	`{"message": "\ud800", "x": "\ud83d\u0041", "y": "\u00"}`,
	`{"long": "0123456789012345678901234567890123456789\"0123456789"}`,
	`{}`, `{"a":1}x`, `{"a" : "b" , "c":[ "d" , {"e" :"f"} ] }`, `ERROR:root:boom`, `{"a":"\xff"}`,
}

func FuzzEncodeJSON(f *testing.F) {
	for i, s := range diffSeeds {
		f.Add([]byte(s), byte(i))
	}
	static := []staticField{
		{key: "app_version", json: []byte(`"app_version":"1"`)},
		{key: "time", json: []byte(`"time":"static"`)},
		{key: "é", json: []byte(`"é":"2"`)},
	}
	kube := []byte(`"kubernetes":{"pod_name":"p"}`)
	f.Fuzz(func(t *testing.T, line []byte, flags byte) {
		var got, want Record
		var gs, ws []byte
		for _, r := range []*Record{&got, &want} {
			r.timeText = []byte("2024-01-01T00:00:00Z")
			r.Stream = Stream(flags % 3)
		}
		got.parseLine(line, &gs)
		refParseLine(&want, line, &ws)
		for _, r := range []*Record{&got, &want} {
			if flags&0x10 != 0 {
				r.Logger = []byte("lg")
			}
			if flags&0x20 != 0 {
				r.ExcType, r.ExcMessage = []byte("E"), []byte("m\x00")
			}
			if flags&0x40 != 0 {
				r.Partial = Partial{ID: "pid", Ordinal: 2, Last: true}
			}
		}
		if got.Level != want.Level || !bytes.Equal(got.Message, want.Message) || (got.Message == nil) != (want.Message == nil) {
			t.Fatalf("%q: level %q message %q, want %q %q", line, got.Level, got.Message, want.Level, want.Message)
		}
		if len(got.fields) != len(want.fields) {
			t.Fatalf("%q: %d fields, want %d", line, len(got.fields), len(want.fields))
		}
		for i := range got.fields {
			if !bytes.Equal(got.key(got.fields[i]), want.key(want.fields[i])) || !bytes.Equal(got.value(got.fields[i]), want.value(want.fields[i])) {
				t.Fatalf("%q: field %d %q:%q, want %q:%q", line, i, got.key(got.fields[i]), got.value(got.fields[i]), want.key(want.fields[i]), want.value(want.fields[i]))
			}
		}
		for _, st := range [][]staticField{nil, static} {
			for _, kb := range [][]byte{nil, kube} {
				g := appendJSON([]byte("prefix"), &got, st, kb)
				w := refAppendJSON([]byte("prefix"), &want, st, kb)
				if !bytes.Equal(g, w) {
					t.Fatalf("%q:\n got %s\nwant %s", line, g, w)
				}
			}
		}
		if g, w := appendMsgpack(nil, &got, static, nil, &gs), appendMsgpack(nil, &want, static, nil, &ws); !bytes.Equal(g, w) {
			t.Fatalf("%q: msgpack differs:\n got %q\nwant %q", line, g, w)
		}
		if g, w := appendConsole(nil, &got, true), appendConsole(nil, &want, true); !bytes.Equal(g, w) {
			t.Fatalf("%q: console differs:\n got %q\nwant %q", line, g, w)
		}
	})
}

// TestEncodeJSONFastPathsTaken makes sure the seeds do reach the fast paths
// the differential fuzz target guards: a plain key, a plain value copied
// verbatim and a message taken without decoding.
func TestEncodeJSONFastPathsTaken(t *testing.T) {
	var r Record
	var scratch []byte
	r.parseLine([]byte(diffSeeds[0]), &scratch)
	if len(r.fields) != 3 || !r.fields[0].plainKey {
		t.Fatalf("fields %+v: want 3, plain keys", r.fields)
	}
	if string(r.Message) != "request 0000001" || cap(r.Message) != len(r.Message) {
		t.Fatalf("message %q (cap %d)", r.Message, cap(r.Message))
	}
	if plainString([]byte("\"\xe2\x80\xa8<>&é\"")) != 9 || plainString([]byte("\"a\x7f\"")) != -1 || plainString([]byte("\"\xff\"")) != -1 || plainString([]byte(`"a\"`)) != -1 || plainString([]byte(`"abc`)) != -1 {
		t.Fatal("plainString misjudges")
	}
}

// FuzzPlainString checks the word-at-a-time plainString against the byte
// loop it replaces.
func FuzzPlainString(f *testing.F) {
	for _, s := range []string{`"abc"`, "\"0123456789\xe2\x80\xa8x\"", "\"0123456\x7f\"", "\"01234567\xff\"", `"01234567\"x"`, `"0123`, "\"\xed\xa0\x80\"", "\"é0123456789\x1f\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		s = append([]byte{'"'}, s...)
		want := -1
		for i := 1; i < len(s); {
			b := s[i]
			if b == '"' {
				want = i
				break
			}
			if b == '\\' || b < 0x20 || b == 0x7f {
				break
			}
			if b < utf8.RuneSelf {
				i++
				continue
			}
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			i += size
		}
		if got := plainString(s); got != want {
			t.Fatalf("plainString(%q) = %d, want %d", s, got, want)
		}
	})
}

// FuzzAppendStringRef checks the word-at-a-time appendString against the
// reference's.
func FuzzAppendStringRef(f *testing.F) {
	for _, s := range []string{"", "abc", "0123456789abcdef", "request 0000001", "a\nb\x7fc\"d\\e\tf\x01g", "0123456\n89", "\xff\xfe0123456789é€😀\xed\xa0\x80", "é\u2028<>&0123456789\x1f"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		if g, w := appendString([]byte("x"), s), refAppendString([]byte("x"), s); !bytes.Equal(g, w) {
			t.Fatalf("appendString(%q) = %q, want %q", s, g, w)
		}
	})
}
