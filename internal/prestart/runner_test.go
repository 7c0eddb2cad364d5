package prestart

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/reaper"
)

// newRunner returns a Runner over a real reaper (waiting only for what it
// starts, so it lives beside the test binary) for spec.
func newRunner(t *testing.T, spec string, env ...string) *Runner {
	t.Helper()
	cmds, err := Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := reaper.New(false, nil)
	go r.Run(ctx)
	return &Runner{
		Commands:    cmds,
		Env:         append([]string{"PATH=/usr/bin:/bin"}, env...),
		StopTimeout: 5 * time.Second,
		Starter:     r,
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func TestRunInOrderUntilFailure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	r := newRunner(t, `sh -c 'echo one >> "$OUT"' && sh -c 'echo "two $MARK" >> "$OUT"; exit 3' && sh -c 'echo three >> "$OUT"'`,
		"OUT="+out, "MARK=env-seen")
	var progress []string
	r.Progress = func(p Progress) { progress = append(progress, p.String()) }
	err := r.Run(context.Background())
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Run = %v, want *Error", err)
	}
	if e.Code != 3 || e.Step != 2 || e.Stopped || e.TimedOut {
		t.Errorf("error = %+v, want step 2, code 3", e)
	}
	if got := strings.Join(readLines(t, out), " "); got != "one two env-seen" {
		t.Errorf("commands wrote %q, want the first two only, with the environment", got)
	}
	if want := []string{"1/3: sh", "2/3: sh"}; strings.Join(progress, ",") != strings.Join(want, ",") {
		t.Errorf("progress = %q, want %q", progress, want)
	}
	if !strings.Contains(e.Error(), "2/3: sh failed with exit status 3") {
		t.Errorf("message %q", e.Error())
	}
}

func TestRunSuccess(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	r := newRunner(t, `sh -c 'echo a >> "$OUT"' && sh -c 'echo b >> "$OUT"'`, "OUT="+out)
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(readLines(t, out), ""); got != "ab" {
		t.Errorf("wrote %q", got)
	}
}

func TestRunNotFound(t *testing.T) {
	r := newRunner(t, "no-such-command-xyz arg")
	err := r.Run(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Code != 127 || !strings.Contains(e.Error(), "not started") {
		t.Fatalf("Run = %v, want not started with 127", err)
	}
}

func TestRunSignaled(t *testing.T) {
	r := newRunner(t, `sh -c 'kill -USR1 $$'`)
	var e *Error
	if err := r.Run(context.Background()); !errors.As(err, &e) || e.Code != 128+10 {
		t.Fatalf("Run = %v, want code 138", err)
	}
	if !strings.Contains(e.Error(), "killed by signal") {
		t.Errorf("message %q", e.Error())
	}
}

func TestRunTimeout(t *testing.T) {
	r := newRunner(t, "sleep 30 && true")
	r.Timeout = 300 * time.Millisecond
	start := time.Now()
	err := r.Run(context.Background())
	var e *Error
	if !errors.As(err, &e) || !e.TimedOut || e.Code != 143 || !errors.Is(err, ErrTimeout) {
		t.Fatalf("Run = %#v, want a timeout with 143 (SIGTERM)", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s", took)
	}
}

// A command ignoring the stop signal gets SIGKILL after StopTimeout, and so
// does what it left in its group.
func TestRunStopEscalates(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	r := newRunner(t, `sh -c 'trap "" TERM; sleep 60 & echo $! > "$PIDFILE"; while :; do sleep 0.05; done'`, "PIDFILE="+pidFile)
	r.StopTimeout = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(readLines(t, pidFile)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("command did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	var err error
	select {
	case err = <-errc:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the stop timeout")
	}
	var e *Error
	if !errors.As(err, &e) || !e.Stopped || e.Code != 137 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %#v, want stopped with 137 (SIGKILL)", err)
	}
	pid := readLines(t, pidFile)[0]
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile("/proc/" + pid + "/stat"); err != nil || strings.Contains(string(b), ") Z") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("the command's background sleep %s survived", pid)
}

func TestRunStoppedBeforeStart(t *testing.T) {
	r := newRunner(t, "true")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var e *Error
	if err := r.Run(ctx); !errors.As(err, &e) || !e.Stopped {
		t.Fatalf("Run = %v, want stopped", err)
	}
}

// Stopping made urgent (the once-key Lease lost: another replica may
// start the commands soon), with the stop request or after it: the kill
// comes after UrgentStopTimeout, not after the full StopTimeout.
func TestRunUrgentStopIsShorter(t *testing.T) {
	for _, after := range []time.Duration{0, 500 * time.Millisecond} {
		t.Run("urgent after "+after.String(), func(t *testing.T) {
			lost := errors.New("lease lost")
			pidFile := filepath.Join(t.TempDir(), "pid")
			r := newRunner(t, `sh -c 'trap "" TERM; echo $$ > "$PIDFILE"; while :; do sleep 0.05; done'`, "PIDFILE="+pidFile)
			r.StopTimeout = 10 * time.Second
			urgent := make(chan struct{})
			r.Urgent, r.UrgentStopTimeout = func(context.Context) <-chan struct{} { return urgent }, 300*time.Millisecond
			ctx, cancel := context.WithCancelCause(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- r.Run(ctx) }()
			deadline := time.Now().Add(10 * time.Second)
			for len(readLines(t, pidFile)) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("command did not start")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if after == 0 {
				close(urgent)
				cancel(lost)
			} else {
				cancel(context.Canceled)
				time.Sleep(after)
				close(urgent)
			}
			madeUrgent := time.Now()
			var err error
			select {
			case err = <-errc:
			case <-time.After(15 * time.Second):
				t.Fatal("Run did not return")
			}
			if took := time.Since(madeUrgent); took > 3*time.Second {
				t.Errorf("killed %s after the stop became urgent, want within ~300ms", took)
			}
			var e *Error
			if !errors.As(err, &e) || !e.Stopped || e.Code != 137 {
				t.Fatalf("Run = %#v, want stopped with 137 (SIGKILL)", err)
			}
		})
	}
}
