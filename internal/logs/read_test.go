package logs

import (
	"bytes"
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// A descendant that keeps the child's stdout open must not hold Shutdown
// past its deadline: the reader is woken, and what was written before is
// delivered.
func TestShutdownDeadlineWithPipeHeldOpen(t *testing.T) {
	var out testenv.SyncBuffer
	p, err := New(Options{Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(context.Background()) }()
	cmd := exec.Command("/bin/sh", "-c", "echo before; exec sleep 30")
	cmd.Stdout, cmd.Stderr = p.Stdout(), p.Stderr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for !bytes.Contains(out.Bytes(), []byte("before")) {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _ = p.Shutdown(ctx)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Shutdown took %v with a 300ms deadline", d)
	}
	select {
	case <-runErr:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Shutdown's deadline")
	}
	if recs := decodeLines(t, out.Bytes()); len(recs) != 1 || recs[0]["message"] != "before" {
		t.Errorf("records %v", recs)
	}
}

// The traceback hold is per stream: a line held back on stderr comes out
// after the timeout even while stdout never goes quiet.
func TestHeldLineFlushedWhileOtherStreamBusy(t *testing.T) {
	var out testenv.SyncBuffer
	p, err := New(Options{Output: &out, TracebackTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go p.Run(context.Background())
	defer p.Shutdown(context.Background())
	stop := make(chan struct{})
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for {
			select {
			case <-stop:
				return
			default:
			}
			p.Stdout().WriteString("busy\n")
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { close(stop); <-flooded }()
	time.Sleep(50 * time.Millisecond)
	p.Stderr().WriteString("ERROR:root:alone\n")
	deadline := time.Now().Add(5 * time.Second)
	for !bytes.Contains(out.Bytes(), []byte(`"alone"`)) {
		if time.Now().After(deadline) {
			t.Fatal("the held stderr line never came out while stdout was busy")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
