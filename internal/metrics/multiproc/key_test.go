package multiproc

import (
	"slices"
	"testing"
)

// FuzzParseKey: whatever the direct path accepts, encoding/json reads the
// same way; and parseKey never panics.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{
		`["c", "c_total", {"a": "b", "code": "200"}, "h"]`,
		`["h", "h_bucket", {"le": "0.5"}, "Help text."]`,
		`["g", "g", {}, ""]`,
		`["g", "g", {"b": "1", "a": "2"}, "h"]`,
		`["g", "g", {"a": "1", "a": "2"}, "h"]`,
		`["g", "g", {"a": "\u00e9"}, "h\n"]`,
		`["g","g",{"a":"1"},"h"]`,
		`["g", "g", {"a": 1}, "h"]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parseKey(s)
		var fast, slow key
		if !fast.scanFast(s) {
			return
		}
		if err := slow.decodeJSON(s); err != nil {
			t.Fatalf("direct path read %q, encoding/json refuses it: %v", s, err)
		}
		if fast.metric != slow.metric || fast.sample != slow.sample || fast.help != slow.help || !slices.Equal(fast.labels, slow.labels) {
			t.Fatalf("%q: direct %+v, encoding/json %+v", s, fast, slow)
		}
	})
}

// TestParseKeyPaths: prometheus_client's spelling takes the direct path
// and slices the raw key; escapes and other spellings give the same
// result through encoding/json.
func TestParseKeyPaths(t *testing.T) {
	var k key
	if !k.scanFast(`["c", "c_total", {"a": "b", "code": "200"}, "h"]`) {
		t.Fatal("prometheus_client's spelling must take the direct path")
	}
	want, err := parseKey(`["c", "c_total", {"a": "b", "code": "200"}, "h \"q\""]`)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`["c", "c_total", {"code": "200", "a": "b"}, "h \"q\""]`,
		`["c","c_total",{"a":"b","code":"200"},"h \u0022q\u0022"]`,
		`[ "c" , "c_total" , { "a" : "b" , "code" : "\u0032\u0030\u0030" } , "h \"q\"" ]`,
	} {
		got, err := parseKey(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got.metric != want.metric || got.sample != want.sample || got.help != want.help || got.labelsKey != want.labelsKey {
			t.Errorf("%s: got %+v, want %+v", s, got, want)
		}
	}
	for _, s := range []string{`["c", "c_total", {"a": 1}, "h"]`, `["c", "c_total", {}]`, `["c", "c total", {}, "h"]`,
		`["c", "c_total", {"__a": "1"}, "h"]`, "[\"c\", \"c_total\", {\"a\": \"\xff\"}, \"h\"]", `["c", "c_total", {}, "h"] x`} {
		if _, err := parseKey(s); err == nil {
			t.Errorf("%s: accepted", s)
		}
	}
}

// TestPlainASCII checks the word-at-a-time test against the obvious one
// for every byte at every position of a word and of the tail.
func TestPlainASCII(t *testing.T) {
	slow := func(v string) bool {
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c > 0x7e || c == '\\' {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 19; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte("abcdefghijklmnopqrstuvwxyz"[:n])
				b[pos] = byte(c)
				if got, want := plainASCII(string(b)), slow(string(b)); got != want {
					t.Fatalf("%q: %v, want %v", b, got, want)
				}
			}
		}
	}
}
