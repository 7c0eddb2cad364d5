package logs

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// safe8 must agree with safeASCII byte by byte, whatever the neighbours:
// every byte value at every position of words of otherwise safe and of
// otherwise unsafe bytes.
func TestSafe8MatchesTable(t *testing.T) {
	for _, fill := range []byte{'a', ' ', '~', '!', 0x1f, 0x00, '"', 0x7f, 0x80} {
		for pos := range 8 {
			for v := range 256 {
				w := bytes.Repeat([]byte{fill}, 8)
				w[pos] = byte(v)
				want := true
				for _, c := range w {
					want = want && c < 0x80 && safeASCII[c]
				}
				if got := safe8(binary.LittleEndian.Uint64(w)); got != want {
					t.Fatalf("safe8(%q) = %v, want %v", w, got, want)
				}
			}
		}
	}
}

// The word-at-a-time path must produce what the byte loop does.
func FuzzAppendString(f *testing.F) {
	f.Add([]byte("plain ascii text that is longer than eight bytes"))
	f.Add([]byte("tab\there \"quoted\" back\\slash \x7f del \x00 nul é \xff bad"))
	f.Fuzz(func(t *testing.T, s []byte) {
		got := appendString(nil, s)
		want := []byte{'"'}
		for i := 0; i < len(s); i++ {
			// Byte by byte, through the same function on one-byte and
			// rune-sized slices (shorter than a word).
			n := 1
			if s[i] >= 0x80 {
				for n < 4 && i+n < len(s) && s[i+n]&0xc0 == 0x80 {
					n++
				}
			}
			one := appendString(nil, s[i:i+n])
			want = append(want, one[1:len(one)-1]...)
			i += n - 1
		}
		want = append(want, '"')
		if !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %q, want %q", s, got, want)
		}
	})
}
