package logs

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/podinfo"
)

// benchLines builds n lines of about 120 bytes in the given style.
func benchLines(style string, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		switch style {
		case "plain":
			fmt.Fprintf(&b, "WARNING:app.worker:request %07d handled in 12ms for user 42 from 10.0.0.7 path /api/v1/items ok\n", i)
		case "json":
			fmt.Fprintf(&b, `{"asctime": "2024-01-01 12:00:00,000", "levelname": "INFO", "name": "svc", "message": "request %07d", "user_id": 42}`+"\n", i)
		}
	}
	return b.Bytes()
}

// benchmarkEnrich runs frame -> join -> parse -> enrich -> JSON encode on
// one goroutine, as one stream reader does, writing to io.Discard.
func benchmarkEnrich(b *testing.B, style string) {
	pod, _ := podinfo.NewSource(func(k string) string {
		return map[string]string{"POD_NAME": "web-7d9f-abcde", "POD_NAMESPACE": "prod", "POD_UID": "0b8f", "POD_IP": "10.1.2.3", "NODE_NAME": "node-a", "CONTAINER_NAME": "app"}[k]
	}, b.TempDir())
	p, err := New(Options{Output: io.Discard, Pod: pod, Fields: map[string]string{"app_version": "1.2.3"}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(b.Context())
	const n = 10000
	data := benchLines(style, n)
	s := newStreamReader(p, Stderr, -1)
	emit := s.emitEvent
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rd := bytes.NewReader(data)
		for {
			_, err := s.fr.fill(rd)
			s.stamp(time.Now())
			for {
				pc, ok := s.fr.next()
				if !ok {
					break
				}
				s.piece(pc, emit)
				if len(s.out) >= outFlush {
					s.flush()
				}
			}
			if err != nil {
				break
			}
		}
		s.j.flush(emit)
		s.flush()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkEnrichPlain(b *testing.B) { benchmarkEnrich(b, "plain") }
func BenchmarkEnrichJSON(b *testing.B)  { benchmarkEnrich(b, "json") }
