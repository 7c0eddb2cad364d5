package supervisor

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/reaper"
)

// chanGate opens each time the test sends it a revocation channel.
type chanGate chan chan struct{}

func (g chanGate) Wait(ctx context.Context) (<-chan struct{}, error) {
	select {
	case ch := <-g:
		return ch, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type phases struct {
	mu  sync.Mutex
	all []Phase
}

func (p *phases) add(ph Phase) { p.mu.Lock(); p.all = append(p.all, ph); p.mu.Unlock() }
func (p *phases) count(ph Phase) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, x := range p.all {
		if x == ph {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The child starts only while the gate is open, is stopped at once (no
// drain delay, the stop signal) when it closes, starts again when it
// reopens, and a stop request ends Run with the child's status; one while
// waiting ends it with 0.
func TestGateStartsAndStopsTheChild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	lines := func() string { b, _ := os.ReadFile(out); return string(b) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := reaper.New(false, nil)
	go r.Run(ctx)
	gate := make(chanGate)
	sigs := make(chan os.Signal, 4)
	var ph phases
	s := New(Options{
		Signals: sigs,
		Argv:    []string{"/bin/sh", "-c", `trap 'echo term >> "$OUT"; exit 3' TERM; echo start >> "$OUT"; while :; do sleep 0.05; done`},
		Env:     []string{"OUT=" + out, "PATH=/usr/bin:/bin"},
		// A drain this long would fail the test: revocation skips it.
		DrainDelay:  3 * time.Second,
		StopTimeout: 10 * time.Second,
		Gate:        gate,
		Events:      Events{Phase: ph.add},
	}, r)
	type result struct{ code int }
	done := make(chan result, 1)
	go func() { code, _ := s.Run(ctx); done <- result{code} }()

	time.Sleep(300 * time.Millisecond)
	if l := lines(); l != "" || ph.count(PhaseStandby) != 1 {
		t.Fatalf("child ran before the gate opened: %q, phases %v", l, ph.all)
	}
	first := make(chan struct{})
	gate <- first
	waitFor(t, "first start", func() bool { return lines() == "start\n" })
	revokedAt := time.Now()
	close(first)
	waitFor(t, "stop on revocation", func() bool { return strings.Count(lines(), "term") == 1 })
	if took := time.Since(revokedAt); took > 2*time.Second {
		t.Errorf("stop after revocation took %s", took)
	}
	waitFor(t, "standby again", func() bool { return ph.count(PhaseStandby) == 2 })
	if ph.count(PhaseDraining) != 0 {
		t.Errorf("revocation drained: %v", ph.all)
	}
	gate <- make(chan struct{})
	waitFor(t, "second start", func() bool { return strings.Count(lines(), "start") == 2 })
	sigs <- syscall.SIGTERM
	select {
	case res := <-done:
		if res.code != 3 {
			t.Errorf("exit %d, want the child's 3", res.code)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("Run did not return after SIGTERM")
	}

	// A stop request while standby: Run returns 0 at once.
	s2 := New(Options{Signals: sigs, Argv: []string{"/bin/true"}, Gate: make(chanGate), StopTimeout: time.Second}, r)
	go func() { code, _ := s2.Run(ctx); done <- result{code} }()
	time.Sleep(100 * time.Millisecond)
	sigs <- syscall.SIGTERM
	select {
	case res := <-done:
		if res.code != 0 {
			t.Errorf("standby exit %d, want 0", res.code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("standby Run did not return after SIGTERM")
	}
}

// heldGate opens when open is closed, and closes returned once it did.
type heldGate struct{ open, returned chan struct{} }

func (g heldGate) Wait(context.Context) (<-chan struct{}, error) {
	<-g.open
	defer close(g.returned)
	return make(chan struct{}), nil
}

// hookHandler calls hook on a record with that message, from the logging
// goroutine: the supervisor's, which is busy meanwhile.
type hookHandler struct {
	msg  string
	hook func()
}

func (h hookHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h hookHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.hook()
	}
	return nil
}
func (h hookHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h hookHandler) WithGroup(string) slog.Handler      { return h }

// A stop request arriving as the gate opens wins: the child never starts
// after it (Run returns 0, as a standby does). Both are ready when the
// supervisor next looks (it is busy with an ignored SIGHUP meanwhile):
// which it sees first must not matter.
func TestGateStopRequestRacingAcquisition(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := reaper.New(false, nil)
	go r.Run(ctx)
	for i := 0; i < 20; i++ {
		sigs := make(chan os.Signal, 4)
		g := heldGate{make(chan struct{}), make(chan struct{})}
		log := slog.New(hookHandler{msg: "signal ignored: no child while standby", hook: func() {
			close(g.open)
			<-g.returned
			time.Sleep(20 * time.Millisecond) // the gate's answer is sent
			sigs <- syscall.SIGTERM
		}})
		sigs <- syscall.SIGHUP
		started := false
		s := New(Options{Signals: sigs, Argv: []string{"/bin/true"}, Gate: g, StopTimeout: time.Second, Log: log,
			Events: Events{Started: func(int) { started = true }}}, r)
		code, _ := s.Run(ctx)
		if started || code != 0 {
			t.Fatalf("run %d: child started %v, exit %d; want not started, 0", i, started, code)
		}
	}
}
