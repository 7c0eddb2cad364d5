package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/pysup/pysup/internal/logs/fluent"
	"github.com/pysup/pysup/internal/testenv"
)

// Tests of the Forward client (internal/logs/fluent) against the in-test
// receiver, with the receiver misbehaving on chosen messages.

// seqRecord is a msgpack record {"message": "seq=<i> ...", "stream": "stdout"}.
func seqRecord(i int) []byte {
	b := msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "message")
	b = msgp.AppendString(b, fmt.Sprintf("seq=%07d %0100d", i, 0))
	b = msgp.AppendString(b, "stream")
	return msgp.AppendString(b, "stdout")
}

type clientRun struct {
	s    *fluent.Shipper
	diag *testenv.SyncBuffer
}

// startShipper runs a shipper to r with a short timeout; cfg adjusts it.
func startShipper(t *testing.T, r *receiver, cfg func(*fluent.Config)) *clientRun {
	t.Helper()
	diag := &testenv.SyncBuffer{}
	c := fluent.Config{
		Network: r.network, Address: r.addr, Tag: "app.client", Timeout: 300 * time.Millisecond,
		Buffer: 64 << 20, BatchRecords: 100,
		Diag: slog.New(slog.NewJSONHandler(diag, nil)),
	}
	if cfg != nil {
		cfg(&c)
	}
	s, err := fluent.New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &clientRun{s: s, diag: diag}
}

// pushSeq pushes records from..to-1, a few at a time as the stream readers do.
func (c *clientRun) pushSeq(from, to int) {
	now := time.Now()
	for i := from; i < to; {
		var es []fluent.Entry
		for ; i < to && len(es) < 37; i++ {
			es = append(es, fluent.Entry{Time: now.Add(time.Duration(i)), Record: seqRecord(i)})
		}
		c.s.Push(es...)
	}
}

// finish closes the shipper and checks every record arrived, in order.
func (c *clientRun) finish(t *testing.T, r *receiver, n int) (dups int) {
	t.Helper()
	// Close does not wait for a Run that has not started yet: wait for
	// the records to go out first.
	deadline := time.Now().Add(20 * time.Second)
	for c.s.Stats().Sent < uint64(n) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := c.s.Close(ctx)
	if err != nil || res.Undelivered != 0 || res.Dropped != 0 {
		t.Fatalf("Close: %+v %v; stats %+v", res, err, c.s.Stats())
	}
	dups = checkSequence(t, r.records(), n)
	// Diagnostics are JSON lines, never raw text.
	for _, line := range bytes.Split(bytes.TrimSpace([]byte(c.diag.String())), []byte("\n")) {
		if len(line) > 0 && !json.Valid(line) {
			t.Errorf("diagnostic is not JSON: %q", line)
		}
	}
	return dups
}

func TestForwardBatchesAckedInOrder(t *testing.T) {
	r := startReceiver(t)
	c := startShipper(t, r, nil)
	const n = 5000
	c.pushSeq(0, n)
	if dups := c.finish(t, r, n); dups != 0 {
		t.Errorf("%d duplicates without a fault", dups)
	}
	sizes, opts := r.messages()
	total := 0
	for i, sz := range sizes {
		total += sz
		if sz > 100 {
			t.Errorf("message %d carries %d records, over the batch bound", i, sz)
		}
		if got, _ := opts[i]["size"].(int64); int(got) != sz {
			t.Errorf("message %d: option size %v, carries %d", i, opts[i]["size"], sz)
		}
		if ch, _ := opts[i]["chunk"].(string); ch == "" {
			t.Errorf("message %d without a chunk id: %v", i, opts[i])
		}
	}
	if total != n || len(sizes) >= n/10 {
		t.Errorf("%d records in %d messages: not batched", total, len(sizes))
	}
	first := r.records()[0]
	if first.tag != "app.client" || first.time.Nanosecond() == 0 {
		t.Errorf("first record %+v: want the tag and a sub-second EventTime", first)
	}
	if st := c.s.Stats(); st.Sent != n || st.SendErrors != 0 || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("%d records in %d messages", n, len(sizes))
}

// captureStderr swaps os.Stderr for a pipe until the returned function
// restores it and gives what was written: the client must write nothing
// there (pysup's stderr is JSON diagnostics only).
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(r); got <- b }()
	return func() string {
		os.Stderr = saved
		w.Close()
		b := <-got
		r.Close()
		return string(b)
	}
}

// faultAt misbehaves with f on the messages listed.
func faultAt(f fault, at ...int) func(int) fault {
	return func(i int) fault {
		for _, a := range at {
			if i == a {
				return f
			}
		}
		return faultNone
	}
}

func TestForwardReceiverFaults(t *testing.T) {
	stderr := captureStderr(t)
	defer func() {
		if s := stderr(); s != "" {
			t.Errorf("the client wrote to stderr: %q", s)
		}
	}()
	for _, tc := range []struct {
		name    string
		f       fault
		maxDups int // records a lost ack may duplicate
	}{
		{"drop mid-batch", faultDrop, 0},
		{"drop before the ack", faultDropAfter, 3 * 100},
		{"never acks", faultNoAck, 0},
		{"garbage ack", faultGarbage, 3 * 100},
		{"ack of another chunk", faultWrongChunk, 3 * 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startReceiver(t)
			r.setFault(faultAt(tc.f, 2, 5, 6))
			c := startShipper(t, r, nil)
			const n = 2000
			c.pushSeq(0, n/2)
			time.Sleep(20 * time.Millisecond)
			c.pushSeq(n/2, n)
			dups := c.finish(t, r, n)
			st := c.s.Stats()
			if dups > tc.maxDups {
				t.Errorf("%d duplicates, want at most %d", dups, tc.maxDups)
			}
			if st.SendErrors < 3 || st.Sent != n {
				t.Errorf("stats %+v: want 3 failed attempts and %d sent", st, n)
			}
			if diag := c.diag.String(); !bytes.Contains([]byte(diag), []byte(`"msg":"fluent: send failed, will resend in order"`)) {
				t.Errorf("no failure diagnostic: %s", diag)
			}
			t.Logf("%d duplicates, %d send errors", dups, st.SendErrors)
		})
	}
}

// TestForwardOutageBacklog: with the receiver down, records wait; when it
// is back they all arrive, in order, and the outage was reported once
// (rate-limited), then its end.
func TestForwardOutageBacklog(t *testing.T) {
	stderr := captureStderr(t)
	defer func() {
		if s := stderr(); s != "" {
			t.Errorf("the client wrote to stderr: %q", s)
		}
	}()
	r := startReceiver(t)
	r.stop()
	c := startShipper(t, r, nil)
	c.pushSeq(0, 3000)
	time.Sleep(1500 * time.Millisecond) // several reconnection attempts
	if st := c.s.Stats(); st.Sent != 0 || st.SendErrors < 3 || st.Buffered != 3000 {
		t.Errorf("while down: %+v", st)
	}
	r.start()
	c.pushSeq(3000, 4000)
	c.finish(t, r, 4000)
	diag := c.diag.String()
	if got := bytes.Count([]byte(diag), []byte("send failed")); got != 1 {
		t.Errorf("%d failure reports within the rate limit, want 1:\n%s", got, diag)
	}
	if !bytes.Contains([]byte(diag), []byte("receiver reachable again")) {
		t.Errorf("no recovery report:\n%s", diag)
	}
}

func TestForwardUnixSocket(t *testing.T) {
	r := startReceiverOn(t, "unix", filepath.Join(t.TempDir(), "fluent.sock"))
	c := startShipper(t, r, nil)
	c.pushSeq(0, 1000)
	c.finish(t, r, 1000)
}

// TestForwardPartialBatchLeaves: a lone record is not held back waiting
// for a batch to fill.
func TestForwardPartialBatchLeaves(t *testing.T) {
	r := startReceiver(t)
	c := startShipper(t, r, nil)
	c.pushSeq(0, 1)
	deadline := time.Now().Add(2 * time.Second)
	for r.count() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a single record was not sent within 2s")
		}
		time.Sleep(time.Millisecond)
	}
	c.finish(t, r, 1)
}

// TestForwardSpoolBacklog: records spilled to disk while the receiver is
// down go out in batches, before the newer ones in memory.
func TestForwardSpoolBacklog(t *testing.T) {
	r := startReceiver(t)
	r.stop()
	c := startShipper(t, r, func(c *fluent.Config) {
		c.Buffer, c.SpoolDir, c.SpoolSize = 64<<10, t.TempDir(), 64<<20
	})
	c.pushSeq(0, 5000)
	time.Sleep(200 * time.Millisecond)
	st := c.s.Stats()
	if st.OnDisk == 0 {
		t.Fatalf("nothing spooled: %+v", st)
	}
	r.start()
	c.pushSeq(5000, 6000)
	c.finish(t, r, 6000)
	if sizes, _ := r.messages(); len(sizes) >= 600 {
		t.Errorf("%d messages for 6000 records: the spool is not sent in batches", len(sizes))
	}
}
