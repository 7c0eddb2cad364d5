package multiproc

import (
	"fmt"
	"os"
	"path/filepath"
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

// TestKeysSharingHeads: keys alike up to their help, in one file and
// across files, malformed ones among them and repeated, while worker
// churn brings new keys with heads of kept ones and the Reader drops the
// keys no file has any more: the exposition stays the reference's, and
// what the Reader keeps of keys stays bounded, as do the comparisons
// that find one.
func TestKeysSharingHeads(t *testing.T) {
	dir := t.TempDir()
	r := New(Options{Dir: dir})
	keyFile := func(name, help string, n int) {
		var es []any
		for i := 0; i < n; i++ {
			// One head, many tails: the help differs.
			es = append(es, fmt.Sprintf(`["c", "c_total", {"a": "%d"}, "%s %d"]`, i%3, help, i), float64(i), 0.0)
			if i%10 != 0 {
				continue
			}
			// Malformed, with a shared head and tail, met again.
			es = append(es, `["c", "c_total", {"a": 1}, "h"]`, 1.0, 0.0)
			es = append(es, fmt.Sprintf(`["c", "c_total", {"a": 1}, "%s %d"]`, help, i%5), 1.0, 0.0)
			// A label value ending like the labels.
			es = append(es, fmt.Sprintf(`["d", "d_total", {"a": "x}, "}, "%s"]`, help), 1.0, 0.0)
		}
		writeFile(t, dir, name, dbFile(LayoutValue, es...))
	}
	// A worker that lives throughout: its keys stay, in the chains of
	// the others' heads.
	keyFile("counter_1.db", "kept", 50)
	trimmed, most := false, 0
	for round := 0; round < 12; round++ {
		name := fmt.Sprintf("counter_%d.db", 100+round)
		keyFile(name, fmt.Sprintf("help %d", round), 300)
		assertReference(t, r, fmt.Sprintf("round %d", round))
		assertReference(t, r, fmt.Sprintf("round %d again", round))
		trimmed = trimmed || r.nkeys < most
		most = max(most, r.nkeys)
		os.Remove(filepath.Join(dir, name))
		entries, keys := 0, 0
		for _, cf := range r.files {
			entries += len(cf.keys)
		}
		for head, first := range r.keys {
			chained := 0
			for k := first; k != nil; k = k.sameHead {
				chained++
			}
			// Finding a key compares it with a few only.
			if chained > maxSameHead {
				t.Fatalf("round %d: %d keys chained for %q", round, chained, head)
			}
			keys += chained
		}
		keys += len(r.long)
		if keys != r.nkeys {
			t.Fatalf("round %d: %d keys chained, %d counted", round, keys, r.nkeys)
		}
		if keys > 2*entries+1024 || len(r.tails) > keys {
			t.Fatalf("round %d: %d keys and %d tails kept for %d entries", round, keys, len(r.tails), entries)
		}
	}
	if !trimmed {
		t.Error("no keys were dropped")
	}
}
