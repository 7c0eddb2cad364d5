package reaper

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Output runs argv (looked up in PATH, no shell) in its own process group
// with env (nil: pysup's own) and returns at most max bytes of its combined
// stdout and stderr. When ctx ends first the whole group is killed and the
// error wraps ctx.Err(). It is what exec probes and one-shot commands use in
// place of exec.Cmd, whose Wait a reaping PID 1 would race.
func (r *Reaper) Output(ctx context.Context, argv []string, env []string, max int) ([]byte, Status, error) {
	if len(argv) == 0 {
		return nil, Status{}, fmt.Errorf("%w: empty command", ErrNotStarted)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, Status{}, fmt.Errorf("%w: %w", ErrNotStarted, err)
	}
	if env == nil {
		env = os.Environ()
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, Status{}, fmt.Errorf("%w: %w", ErrNotStarted, err)
	}
	defer devnull.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, Status{}, fmt.Errorf("%w: %w", ErrNotStarted, err)
	}
	defer pr.Close()
	pid, done, err := r.Start(path, argv, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{devnull.Fd(), pw.Fd(), pw.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	pw.Close()
	if err != nil {
		return nil, Status{}, fmt.Errorf("%w: %w", ErrNotStarted, err)
	}

	out := make(chan []byte, 1)
	go func() {
		buf, _ := io.ReadAll(io.LimitReader(pr, int64(max)))
		_, _ = io.Copy(io.Discard, pr) // keep the writer from blocking
		out <- buf
	}()

	var st Status
	var ctxErr error
	select {
	case st = <-done:
	case <-ctx.Done():
		ctxErr = ctx.Err()
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		st = <-done
	}
	// A background grandchild may hold the pipe open: its output is not
	// worth waiting for.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	var buf []byte
	select {
	case buf = <-out:
	case <-time.After(100 * time.Millisecond):
		_ = pr.SetReadDeadline(time.Now())
		buf = <-out
	}
	if ctxErr != nil {
		return buf, st, fmt.Errorf("%s: %w", argv[0], ctxErr)
	}
	return buf, st, nil
}
