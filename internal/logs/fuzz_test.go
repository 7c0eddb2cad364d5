package logs

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// chunkReader returns its data in reads of varying size, as a pipe would.
type chunkReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.sizes) > 0 {
		n = int(c.sizes[c.i%len(c.sizes)]) + 1
		c.i++
	}
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func FuzzFramer(f *testing.F) {
	f.Add([]byte("a\nbb\r\nccc"), []byte{3, 200}, uint16(4))
	f.Add(bytes.Repeat([]byte("é"), 50), []byte{7}, uint16(5))
	f.Add([]byte("\n\n\x00\xff\n"), []byte{0}, uint16(1))
	f.Fuzz(func(t *testing.T, data, sizes []byte, maxLine uint16) {
		max := int(maxLine%300) + 1
		fr := newFramer(max)
		rd := &chunkReader{data: data, sizes: sizes}
		var got bytes.Buffer
		ordinal := 0
		for {
			_, err := fr.fill(rd)
			for {
				p, ok := fr.next()
				if !ok {
					break
				}
				if len(p.line) > max {
					t.Fatalf("piece of %d bytes > max %d", len(p.line), max)
				}
				if p.partial {
					ordinal++
					if p.ordinal != ordinal {
						t.Fatalf("ordinal %d, want %d", p.ordinal, ordinal)
					}
				} else if ordinal != 0 {
					t.Fatalf("whole line while a long line is open")
				}
				got.Write(p.line)
				if !p.partial || p.last {
					got.WriteByte('\n')
					ordinal = 0
				}
			}
			if err != nil {
				break
			}
			if fr.full() {
				t.Fatal("framer buffer full")
			}
		}
		// What came out is the input, each line without one trailing CR,
		// and a final newline.
		var want []byte
		lines := bytes.Split(data, []byte("\n"))
		if len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		for _, l := range lines {
			want = append(append(want, bytes.TrimSuffix(l, []byte("\r"))...), '\n')
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("reassembled\n%q\nwant\n%q", got.Bytes(), want)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"levelname": "ERROR", "message": "x", "n": 1.5e3, "a": [1, {"b": null}], "u": "\ud83d\ude00 \u0000"}`,
		`{"event": "e", "level": "warn", "time": "t", "kubernetes": 1}`,
		`ERROR:root:boom`, `[2024-01-01 10:00:00 +0000] [7] [CRITICAL] WORKER TIMEOUT`,
		`INFO:     Uvicorn running`, "\x00\xff\xfe{\"", `{"a":"\xff"}`, `{}`, `{"a":1}x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var r Record
		var scratch []byte
		r.timeText = []byte("2024-01-01T00:00:00Z")
		r.parseLine(line, &scratch)
		kube := []byte(`"kubernetes":{"pod_name":"p"}`)
		static := []staticField{{key: "v", json: []byte(`"v":"1"`)}}
		out := appendJSON(nil, &r, static, kube)
		if bytes.IndexByte(out[:len(out)-1], '\n') >= 0 || !json.Valid(out) {
			t.Fatalf("invalid output for %q:\n%s", line, out)
		}
		// Numbers stay as the app wrote them: valid JSON, though 1e1000 is
		// no float64.
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["level"]; !ok {
			t.Fatalf("no level: %s", out)
		}
		_ = appendMsgpack(nil, &r, nil, nil, &scratch)
		_ = appendConsole(nil, &r, true)
		// A valid JSON object must be merged, not taken as plain text.
		t2 := bytes.TrimSpace(line)
		if len(t2) > 0 && t2[0] == '{' && json.Valid(t2) && bytes.Count(t2, []byte("{"))+bytes.Count(t2, []byte("[")) < maxDepth {
			var obj map[string]any
			if json.Unmarshal(t2, &obj) == nil && r.Message != nil && bytes.Equal(r.Message, line) && len(obj) > 0 {
				t.Fatalf("valid object taken as plain text: %q", line)
			}
		}
	})
}
