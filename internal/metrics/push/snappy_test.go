package push

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/klauspost/compress/snappy"
)

// snappyInputs cover literals of every length encoding, copies of every
// kind (1- and 2-byte offsets, long and overlapping runs), block borders
// and incompressible data.
func snappyInputs() map[string][]byte {
	rng := rand.New(rand.NewSource(1))
	random := func(n int) []byte { b := make([]byte, n); rng.Read(b); return b }
	series := &bytes.Buffer{}
	for i := 0; series.Len() < 300_000; i++ {
		series.WriteString(`http_requests_total{method="GET",code="200",pod="web-7d9f8",instance="10.0.0.` + string(rune('0'+i%10)) + `"} `)
		series.Write(random(3))
	}
	head := random(3000)
	far := append(append(append([]byte(nil), head...), random(2500)...), head...)
	return map[string][]byte{
		"empty":        {},
		"one":          {'x'},
		"short":        []byte("abcabcabcabc"),
		"run":          bytes.Repeat([]byte{'a'}, 70_000),
		"period3":      bytes.Repeat([]byte("xyz"), 50_000),
		"random 59":    random(59),
		"random 61":    random(61),
		"random 300":   random(300),
		"random 70000": random(70_000),
		"far copy":     far,
		"series":       series.Bytes(),
		"block border": append(random(snappyMaxBlock-3), bytes.Repeat([]byte("border"), 10)...),
	}
}

func TestSnappyRoundTrip(t *testing.T) {
	for name, in := range snappyInputs() {
		enc := snappyEncode(nil, in)
		out, err := snappy.Decode(nil, enc)
		if err != nil {
			t.Errorf("%s: not valid snappy: %v", name, err)
			continue
		}
		if !bytes.Equal(out, in) {
			t.Errorf("%s: round trip changed the data (%d bytes in, %d out)", name, len(in), len(out))
		}
	}
}

// TestSnappyCompresses: repetitive exposition data must shrink as much as
// with klauspost's encoder, give or take, not just be framed as literals.
func TestSnappyCompresses(t *testing.T) {
	in := snappyInputs()["series"]
	ours, theirs := len(snappyEncode(nil, in)), len(snappy.Encode(nil, in))
	if ours > theirs*13/10 {
		t.Errorf("%d bytes compressed to %d, klauspost/compress/snappy gets %d", len(in), ours, theirs)
	}
	t.Logf("%d bytes -> ours %d, klauspost %d", len(in), ours, theirs)
}

func FuzzSnappyRoundTrip(f *testing.F) {
	for _, in := range snappyInputs() {
		if len(in) < 4096 {
			f.Add(in)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := snappy.Decode(nil, snappyEncode(nil, in))
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("round trip of %d bytes: err %v, equal %v", len(in), err, bytes.Equal(out, in))
		}
	})
}
