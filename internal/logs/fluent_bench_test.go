package logs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/logs/fluent"
)

// BenchmarkFluentShipper pushes records of ~300 bytes (the size of an
// enriched seq.py line with pod metadata) through the shipper to the
// in-test receiver, every batch acknowledged, and reports records/s.
func BenchmarkFluentShipper(b *testing.B) {
	r := startReceiver(b)
	s, err := fluent.New(fluent.Config{Network: "tcp", Address: r.addr, Tag: "bench", Timeout: 5 * time.Second, Buffer: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.mu.Lock()
	r.discard = true // count, don't keep: the receiver's memory stays flat
	r.mu.Unlock()
	go s.Run(ctx)
	const chunk = 1000
	rec := benchRecord()
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	pushed := 0
	for pushed < b.N {
		n := min(chunk, b.N-pushed)
		es := make([]fluent.Entry, n)
		now := time.Now()
		for i := range es {
			es[i] = fluent.Entry{Time: now, Record: rec}
		}
		s.Push(es...)
		pushed += n
		// Stay within the memory buffer: wait while more than 8 batches wait.
		for s.Stats().Buffered > 8*chunk {
			time.Sleep(100 * time.Microsecond)
		}
	}
	for s.Stats().Sent < uint64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if got := r.count(); got != b.N {
		b.Fatalf("receiver got %d, want %d", got, b.N)
	}
	res, err := s.Close(context.Background())
	if err != nil || res.Undelivered != 0 || res.Dropped != 0 {
		b.Fatalf("close: %+v %v", res, err)
	}
}

// benchRecord is one msgpack-encoded record as the pipeline makes it.
func benchRecord() []byte {
	r := &Record{Time: time.Now(), Stream: Stdout, Level: "info", Message: []byte(fmt.Sprintf("seq=%07d %0100d", 42, 0))}
	r.timeText = r.Time.UTC().AppendFormat(nil, time.RFC3339Nano)
	kube := []byte{}
	kube = appendMsgpStr(kube, []byte("kubernetes"))
	kube = appendMsgpMapHeader(kube, 4)
	for _, kv := range [][2]string{{"pod_name", "web-7d9f-abcde"}, {"namespace_name", "prod"}, {"host", "node-a"}, {"container_name", "app"}} {
		kube = appendMsgpStr(kube, []byte(kv[0]))
		kube = appendMsgpStr(kube, []byte(kv[1]))
	}
	var scratch []byte
	return appendMsgpack(nil, r, nil, kube, &scratch)
}

// BenchmarkFluentSpoolDrain measures the catch-up after an outage: b.N
// records wait in the disk spool, then the receiver comes back and the
// shipper sends them (from disk, in batches, acknowledged).
func BenchmarkFluentSpoolDrain(b *testing.B) {
	r := startReceiver(b)
	r.mu.Lock()
	r.discard = true
	r.mu.Unlock()
	r.stop()
	s, err := fluent.New(fluent.Config{Network: "tcp", Address: r.addr, Tag: "bench", Timeout: 5 * time.Second,
		Buffer: 1 << 20, SpoolDir: b.TempDir(), SpoolSize: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	rec := benchRecord()
	now := time.Now()
	for pushed := 0; pushed < b.N; pushed += 1000 {
		es := make([]fluent.Entry, min(1000, b.N-pushed))
		for i := range es {
			es[i] = fluent.Entry{Time: now, Record: rec}
		}
		s.Push(es...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	r.start()
	go s.Run(ctx)
	for s.Stats().Sent < uint64(b.N) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if st := s.Stats(); (b.N > 10_000 && st.Spooled == 0) || st.Dropped != 0 {
		b.Fatalf("stats %+v", st)
	}
	s.Close(context.Background())
}
