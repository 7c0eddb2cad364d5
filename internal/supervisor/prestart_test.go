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
