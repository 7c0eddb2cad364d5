package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lineChecker validates every output line as JSON and counts partial
// pieces, without keeping the output.
type lineChecker struct {
	t        testing.TB
	mu       sync.Mutex
	rest     []byte
	records  int
	partials int
	bad      int
}

func (c *lineChecker) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rest = append(c.rest, p...)
	for {
		i := bytes.IndexByte(c.rest, '\n')
		if i < 0 {
			break
		}
		line := c.rest[:i]
		if !json.Valid(line) {
			c.bad++
		}
		if bytes.Contains(line, []byte(`"partial_message":true`)) {
			c.partials++
		}
		c.records++
		c.rest = c.rest[i+1:]
	}
	c.rest = append([]byte(nil), c.rest...)
	return len(p), nil
}

// feed writes data into the pipeline's stdout and returns the peak heap
// in use, sampled while the pipeline works.
func feed(t *testing.T, data func(w func([]byte))) (*lineChecker, uint64) {
	out := &lineChecker{t: t}
	p, err := New(Options{Output: out})
	if err != nil {
		t.Fatal(err)
	}
	go p.Run(context.Background())
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	w := p.Stdout()
	data(func(b []byte) {
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	return out, peak.Load()
}

func TestHugeLineBoundedMemory(t *testing.T) {
	runtime.GC()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	out, peak := feed(t, func(w func([]byte)) {
		for range 800 { // 50 MiB without a newline
			w(chunk)
		}
		w([]byte("\nafter\n"))
	})
	t.Logf("50 MiB line: %d records (%d partial), peak heap %d KiB", out.records, out.partials, peak>>10)
	if out.bad != 0 || out.partials != 800 || out.records != 801 {
		t.Fatalf("records %d partial %d invalid %d", out.records, out.partials, out.bad)
	}
	if peak > 32<<20 {
		t.Fatalf("peak heap %d MiB: the line was buffered", peak>>20)
	}
}

func TestBinaryStreamValidJSON(t *testing.T) {
	runtime.GC()
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20)
	out, peak := feed(t, func(w func([]byte)) {
		for range 50 { // 50 MiB of random bytes: NULs, control bytes, invalid UTF-8
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			w(buf)
		}
	})
	t.Logf("50 MiB binary: %d records (%d partial), peak heap %d KiB", out.records, out.partials, peak>>10)
	if out.bad != 0 || out.records == 0 {
		t.Fatalf("records %d invalid %d", out.records, out.bad)
	}
	if peak > 64<<20 {
		t.Fatalf("peak heap %d MiB", peak>>20)
	}
}
