package supervisor

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/reaper"
)

type codeErr int

func (c codeErr) Error() string { return "failed" }
func (c codeErr) ExitCode() int { return int(c) }

// The pre-start seam: the function runs before the child; its error's
// ExitCode (else 1) ends pysup without the child; TERM cancels its
// context and pysup exits 128+15 without the child.
func TestPrestartSeam(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := reaper.New(false, nil)
	go r.Run(ctx)

	cases := []struct {
		name     string
		prestart func(context.Context) error
		term     bool
		want     int
		started  bool
	}{
		{"ok", func(context.Context) error { return nil }, false, 5, true},
		{"exit code", func(context.Context) error { return codeErr(7) }, false, 7, false},
		{"plain error", func(context.Context) error { return errors.New("lease lost") }, false, 1, false},
		{"stopped", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, true, 143, false},
		{"stopped with status", func(ctx context.Context) error { <-ctx.Done(); return codeErr(130) }, true, 130, false},
		// A replica waiting for the once-key stopped nothing: 0.
		{"stopped while waiting", func(ctx context.Context) error { <-ctx.Done(); return nil }, true, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sigs := make(chan os.Signal, 4)
			started := false
			entered := make(chan struct{})
			s := New(Options{
				Signals:     sigs,
				Argv:        []string{"/bin/sh", "-c", "exit 5"},
				StopTimeout: time.Second,
				Prestart: func(ctx context.Context) error {
					close(entered)
					return c.prestart(ctx)
				},
				Events: Events{Started: func(int) { started = true }},
			}, r)
			if c.term {
				go func() {
					<-entered
					sigs <- syscall.SIGHUP // not a stop: ignored
					sigs <- syscall.SIGTERM
				}()
			}
			code, _ := s.Run(context.Background())
			if code != c.want || started != c.started {
				t.Errorf("Run = %d, child started %v; want %d, %v", code, started, c.want, c.started)
			}
		})
	}
}

// What the pre-start phase leaves behind (a process in a session of its
// own) is swept when the phase fails, is stopped, or is followed by a stop
// while standby: pysup must not exit, as a subreaper, leaving it running.
func TestPrestartLeftoversSwept(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		gate bool
	}{{"failed", codeErr(3), false}, {"standby exit", nil, true}} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := subreaper(t, ctx)
			sigs := make(chan os.Signal, 4)
			opts := Options{
				Signals:     sigs,
				Argv:        []string{"/bin/true"},
				StopTimeout: 5 * time.Second,
				Prestart: func(context.Context) error {
					_, done, err := r.Start("/bin/sh", []string{"sh", "-c", "setsid sleep 61 &"},
						&syscall.ProcAttr{Env: []string{"PATH=/usr/bin:/bin"}, Files: []uintptr{0, 1, 2}})
					if err != nil {
						return err
					}
					<-done
					return c.err
				},
			}
			if c.gate {
				opts.Gate = make(chanGate)
			}
			s := New(opts, r)
			done := make(chan int, 1)
			go func() { code, _ := s.Run(ctx); done <- code }()
			if c.gate {
				time.Sleep(300 * time.Millisecond)
				sigs <- syscall.SIGTERM
			}
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("Run did not return")
			}
			if d := descendants(os.Getpid()); len(d) != 0 {
				t.Errorf("left running: %v", d)
				for _, p := range d {
					_ = syscall.Kill(p.pid, syscall.SIGKILL)
				}
			}
		})
	}
}
