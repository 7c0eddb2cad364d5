package fluent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

func ackBytes(chunk string) []byte {
	b := msgp.AppendMapHeader(nil, 1)
	b = msgp.AppendString(b, "ack")
	return msgp.AppendString(b, chunk)
}

func TestParseAck(t *testing.T) {
	full := ackBytes("AAAAAAAAAAAAAAAAAAAAAA==")
	for i := range len(full) {
		if _, _, err := parseAck(full[:i]); !errors.Is(err, errShortAck) {
			t.Errorf("prefix of %d bytes: %v, want errShortAck", i, err)
		}
	}
	chunk, n, err := parseAck(full)
	if err != nil || chunk != "AAAAAAAAAAAAAAAAAAAAAA==" || n != len(full) {
		t.Errorf("parseAck = %q, %d, %v", chunk, n, err)
	}
	// Extra keys are skipped; the id may come back as bin.
	b := msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "other")
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendInt(b, 1)
	b = msgp.AppendString(b, "x")
	b = msgp.AppendString(b, "ack")
	b = msgp.AppendBytes(b, []byte("c1"))
	if chunk, n, err := parseAck(append(b, 0x90)); err != nil || chunk != "c1" || n != len(b) {
		t.Errorf("with other keys and a bin id: %q, %d, %v", chunk, n, err)
	}
	for name, bad := range map[string][]byte{
		"not a map":    {0x93, 0x01, 0x02, 0x03},
		"nil":          {0xc0},
		"reserved":     {0xc1},
		"no ack":       append(msgp.AppendMapHeader(nil, 1), append(msgp.AppendString(nil, "ok"), 0xc3)...),
		"empty map":    {0x80},
		"int ack":      append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), 0x01),
		"int key":      {0x81, 0x01, 0x02},
		"array ack id": append(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), 0x90),
	} {
		if _, _, err := parseAck(bad); err == nil || errors.Is(err, errShortAck) {
			t.Errorf("%s: %v, want a hard error", name, err)
		}
	}
}

// FuzzParseAck: never panics, never claims more bytes than given, and an
// accepted ack is stable under re-encoding of its id.
func FuzzParseAck(f *testing.F) {
	f.Add(ackBytes("AAAAAAAAAAAAAAAAAAAAAA=="))
	f.Add([]byte{0x81, 0xa3, 'a', 'c', 'k', 0xc4, 0x01, 'x'})
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x82, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		chunk, n, err := parseAck(b)
		if err != nil {
			if n != 0 || chunk != "" {
				t.Fatalf("error %v with result %q, %d", err, chunk, n)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("used %d of %d bytes", n, len(b))
		}
		if c2, n2, err := parseAck(b[:n]); err != nil || c2 != chunk || n2 != n {
			t.Fatalf("not stable on its own bytes: %q %d %v", c2, n2, err)
		}
	})
}

func TestAppendForward(t *testing.T) {
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	rec := func(s string) []byte {
		b := msgp.AppendMapHeader(nil, 1)
		b = msgp.AppendString(b, "message")
		return msgp.AppendString(b, s)
	}
	entries := []Entry{{Time: t0, Record: rec("one")}, {Time: t0.Add(time.Second), Record: rec("two")}}
	msg := appendForward(nil, "app.x", "CHUNK", entries)

	n, rest, err := msgp.ReadArrayHeaderBytes(msg)
	if err != nil || n != 3 {
		t.Fatalf("array of %d: %v", n, err)
	}
	tag, rest, err := msgp.ReadStringBytes(rest)
	if err != nil || tag != "app.x" {
		t.Fatalf("tag %q %v", tag, err)
	}
	bin, rest, err := msgp.ReadBytesBytes(rest, nil)
	if err != nil {
		t.Fatal(err)
	}
	opt := map[string]any{}
	if opt, rest, err = msgp.ReadMapStrIntfBytes(rest, opt); err != nil || len(rest) != 0 {
		t.Fatalf("option %v, %d bytes left: %v", opt, len(rest), err)
	}
	if opt["chunk"] != "CHUNK" || opt["size"] != int64(2) {
		t.Errorf("option %v", opt)
	}
	for i, e := range entries {
		var m uint32
		if m, bin, err = msgp.ReadArrayHeaderBytes(bin); err != nil || m != 2 {
			t.Fatalf("entry %d: array of %d: %v", i, m, err)
		}
		ext := msgp.RawExtension{}
		if bin, err = msgp.ReadExtensionBytes(bin, &ext); err != nil || ext.Type != 0 || len(ext.Data) != 8 {
			t.Fatalf("entry %d: EventTime %+v %v", i, ext, err)
		}
		got := time.Unix(int64(binary.BigEndian.Uint32(ext.Data)), int64(binary.BigEndian.Uint32(ext.Data[4:])))
		if !got.Equal(e.Time) {
			t.Errorf("entry %d: time %v, want %v", i, got, e.Time)
		}
		if !bytes.HasPrefix(bin, e.Record) {
			t.Fatalf("entry %d: record not copied as is", i)
		}
		bin = bin[len(e.Record):]
	}
	if len(bin) != 0 {
		t.Errorf("%d bytes after the entries", len(bin))
	}
}

func TestChunkIDsUnique(t *testing.T) {
	a, b := newChunkIDs(), newChunkIDs()
	seen := map[string]bool{}
	for range 1000 {
		for _, id := range []string{a.next(), b.next()} {
			if seen[id] || len(id) != 24 {
				t.Fatalf("id %q repeated or not base64 of 16 bytes", id)
			}
			seen[id] = true
		}
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(50*time.Millisecond, 400*time.Millisecond)
	var got []time.Duration
	for range 6 {
		got = append(got, b.next())
	}
	want := []time.Duration{50, 100, 200, 400, 400, 400}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("backoff %v", got)
		}
	}
	b.reset()
	if d := b.next(); d != 50*time.Millisecond {
		t.Errorf("after reset: %v", d)
	}
}
