package logs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// A traceback cut short (the process hangs or dies mid-write) is flushed
// after the timeout, not held until EOF; so is a lone held line.
func TestPartialTracebackFlushedAfterTimeout(t *testing.T) {
	var out testenv.SyncBuffer
	p, err := New(Options{Output: &out, TracebackTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go p.Run(context.Background())
	defer p.Shutdown(context.Background())
	p.Stderr().WriteString("ERROR:root:failed\nTraceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n")
	deadline := time.Now().Add(2 * time.Second)
	for len(out.Bytes()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	recs := decodeLines(t, out.Bytes())
	if len(recs) != 1 || recs[0]["level"] != "error" || !strings.HasSuffix(recs[0]["message"].(string), "line 1, in <module>") {
		t.Fatalf("records %v", recs)
	}
	if tm, _ := time.Parse(time.RFC3339Nano, recs[0]["time"].(string)); time.Since(tm) > time.Second {
		t.Errorf("time %v is not the arrival time", tm)
	}
}
