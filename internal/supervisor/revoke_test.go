package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pysup/pysup/internal/reaper"
)

// The gate closes while a SIGTERM stop is under way (the stop signal sent,
// or still draining) and the child ignores the stop signal: it must still
// be gone within RevokeStopTimeout, as a successor may start after it.
func TestRevocationDuringStop(t *testing.T) {
	for _, drain := range []time.Duration{0, 3 * time.Second} {
		t.Run("drain "+drain.String(), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := reaper.New(false, nil)
			go r.Run(ctx)
			gate := make(chanGate)
			sigs := make(chan os.Signal, 4)
			started := make(chan int, 1)
			ready := filepath.Join(t.TempDir(), "ready")
			s := New(Options{
				Signals:           sigs,
				Argv:              []string{"/bin/sh", "-c", `trap '' TERM; touch "$READY"; while :; do sleep 0.05; done`},
				Env:               []string{"PATH=/usr/bin:/bin", "READY=" + ready},
				DrainDelay:        drain,
				StopTimeout:       8 * time.Second,
				RevokeStopTimeout: 300 * time.Millisecond,
				Gate:              gate,
				Events:            Events{Started: func(pid int) { started <- pid }},
			}, r)
			done := make(chan int, 1)
			go func() { code, _ := s.Run(ctx); done <- code }()
			lost := make(chan struct{})
			gate <- lost
			<-started
			waitFor(t, "the trap", func() bool { _, err := os.Stat(ready); return err == nil })
			sigs <- syscall.SIGTERM
			time.Sleep(200 * time.Millisecond)
			revokedAt := time.Now()
			close(lost)
			select {
			case code := <-done:
				if took := time.Since(revokedAt); took > 2500*time.Millisecond {
					t.Errorf("child gone %s after the revocation, want within ~300ms", took)
				}
				if code != 128+9 {
					t.Errorf("exit %d, want 137 (the child SIGKILLed)", code)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return")
			}
		})
	}
}

// subreaper makes the test binary a subreaper for the rest of the test, as
// pysup is, so that what a child leaves behind stays below it; the reaper
// returned reaps the orphans.
func subreaper(t *testing.T, ctx context.Context) *reaper.Reaper {
	t.Helper()
	if err := reaper.BecomeSubreaper(); err != nil {
		t.Skipf("not a subreaper: %v", err)
	}
	t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	r := reaper.New(true, nil)
	go r.Run(ctx)
	return r
}

// The child exits on its own leaving a process that ignores the stop
// signal, and the gate closes while pysup sweeps it: the sweep's deadline
// becomes the revocation's.
func TestRevocationDuringSweep(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := subreaper(t, ctx)
	gate := make(chanGate)
	sigs := make(chan os.Signal, 4)
	started := make(chan int, 1)
	ready := filepath.Join(t.TempDir(), "ready")
	s := New(Options{
		Signals: sigs,
		// The leftover ignores TERM before the child exits.
		Argv:              []string{"/bin/sh", "-c", `(trap '' TERM; touch "$READY"; exec sleep 30) & while [ ! -e "$READY" ]; do sleep 0.01; done; exit 0`},
		Env:               []string{"PATH=/usr/bin:/bin", "READY=" + ready},
		StopTimeout:       8 * time.Second,
		RevokeStopTimeout: 300 * time.Millisecond,
		Gate:              gate,
		Events:            Events{Started: func(pid int) { started <- pid }},
	}, r)
	done := make(chan int, 1)
	go func() { code, _ := s.Run(ctx); done <- code }()
	lost := make(chan struct{})
	gate <- lost
	<-started
	time.Sleep(300 * time.Millisecond)
	if len(descendants(os.Getpid())) == 0 {
		t.Fatal("the leftover is not below the test binary")
	}
	revokedAt := time.Now()
	close(lost)
	select {
	case <-done:
		if took := time.Since(revokedAt); took > 2500*time.Millisecond {
			t.Errorf("leftover gone %s after the revocation, want within ~300ms", took)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if d := descendants(os.Getpid()); len(d) != 0 {
		t.Errorf("left behind: %v", d)
	}
}

// A SIGTERM to pysup while the child is stopping for a revocation ends
// pysup after the child, and is not sent to the child a second time (a
// second INT would interrupt a Python app's cleanup).
func TestStopRequestDuringRevocationNotForwarded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := reaper.New(false, nil)
	go r.Run(ctx)
	out := filepath.Join(t.TempDir(), "out")
	lines := func() string { b, _ := os.ReadFile(out); return string(b) }
	gate := make(chanGate)
	sigs := make(chan os.Signal, 4)
	s := New(Options{
		Signals:           sigs,
		Argv:              []string{"/bin/sh", "-c", `trap 'echo term >> "$OUT"' TERM; echo start >> "$OUT"; while :; do sleep 0.05; done`},
		Env:               []string{"PATH=/usr/bin:/bin", "OUT=" + out},
		StopTimeout:       8 * time.Second,
		RevokeStopTimeout: time.Second,
		Gate:              gate,
	}, r)
	done := make(chan int, 1)
	go func() { code, _ := s.Run(ctx); done <- code }()
	lost := make(chan struct{})
	gate <- lost
	waitFor(t, "start", func() bool { return lines() == "start\n" })
	close(lost)
	waitFor(t, "the revocation's TERM", func() bool { return strings.Count(lines(), "term") == 1 })
	sigs <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 128+9 {
			t.Errorf("exit %d, want 137 (SIGKILL at the revocation's deadline)", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return: the stop request was lost")
	}
	if n := strings.Count(lines(), "term"); n != 1 {
		t.Errorf("the child got TERM %d times, want once", n)
	}
}
