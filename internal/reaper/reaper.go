// Package reaper owns every wait(2) of the pysup process.
//
// A PID 1 (or child subreaper) must reap orphans with wait4(-1), and a
// wait4(-1) steals the exit status of any child that os/exec started. So
// pysup never uses exec.Cmd.Wait: every process it starts goes through
// Reaper.Start, which registers the pid under the same lock the reaping loop
// takes, and the loop hands each registered child's status to its waiter.
package reaper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Status is how a process ended.
type Status struct {
	Pid  int
	Wait unix.WaitStatus
}

// ExitCode is the shell's view of the status: the exit code, or 128+N when
// the process died of signal N.
func (s Status) ExitCode() int {
	switch {
	case s.Wait.Exited():
		return s.Wait.ExitStatus()
	case s.Wait.Signaled():
		return 128 + int(s.Wait.Signal())
	default:
		return 255
	}
}

// Signaled reports the signal that killed the process, if one did.
func (s Status) Signaled() (syscall.Signal, bool) {
	if s.Wait.Signaled() {
		return s.Wait.Signal(), true
	}
	return 0, false
}

// Reaper reaps children. With orphans on it reaps every child of this
// process (wait4(-1)), as PID 1 or a subreaper must; with orphans off it only
// waits for the pids it started, so it can live beside os/exec in tests.
type Reaper struct {
	orphans bool
	log     *slog.Logger

	mu      sync.Mutex
	waiters map[int]chan Status
	reaped  uint64 // orphans reaped: children nobody registered
	notify  chan struct{}
}

// New returns a Reaper. Call Run to start reaping.
func New(orphans bool, log *slog.Logger) *Reaper {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reaper{
		orphans: orphans,
		log:     log,
		waiters: make(map[int]chan Status),
		notify:  make(chan struct{}, 1),
	}
}

// Run reaps until ctx ends. It wakes on SIGCHLD and when Start asks it to.
func (r *Reaper) Run(ctx context.Context) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	for {
		r.reap()
		select {
		case <-ctx.Done():
			return
		case <-sigs:
		case <-r.notify:
		}
	}
}

// Orphans is the number of processes reaped that no caller had started:
// re-parented grandchildren.
func (r *Reaper) Orphans() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reaped
}

func (r *Reaper) reap() {
	if r.orphans {
		for r.reapOne() {
		}
		return
	}
	r.mu.Lock()
	pids := make([]int, 0, len(r.waiters))
	for pid := range r.waiters {
		pids = append(pids, pid)
	}
	r.mu.Unlock()
	for _, pid := range pids {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if err == nil && got == pid {
			r.deliver(Status{Pid: pid, Wait: ws})
		}
	}
}

// reapOne reaps any one child. The wait and the lookup happen under mu:
// otherwise Start could fork a child that reuses the pid just reaped and be
// handed the orphan's status.
func (r *Reaper) reapOne() bool {
	r.mu.Lock()
	var ws unix.WaitStatus
	pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
	for err == unix.EINTR {
		pid, err = unix.Wait4(-1, &ws, unix.WNOHANG, nil)
	}
	if err != nil || pid <= 0 {
		r.mu.Unlock()
		return false
	}
	r.deliverLocked(Status{Pid: pid, Wait: ws})
	return true
}

func (r *Reaper) deliver(st Status) {
	r.mu.Lock()
	r.deliverLocked(st)
}

// deliverLocked hands st to its waiter; it is called with mu held and
// releases it.
func (r *Reaper) deliverLocked(st Status) {
	if st.Wait.Stopped() || st.Wait.Continued() {
		r.mu.Unlock()
		return
	}
	ch, ok := r.waiters[st.Pid]
	delete(r.waiters, st.Pid)
	if !ok {
		r.reaped++
	}
	r.mu.Unlock()
	if ok {
		ch <- st
		close(ch)
		return
	}
	r.log.Debug("reaped orphan", "pid", st.Pid, "status", st.ExitCode())
}

// Start starts argv0 with argv and attr (see syscall.ForkExec) and returns its
// pid and a channel that receives its Status once, when it has been reaped.
func (r *Reaper) Start(argv0 string, argv []string, attr *syscall.ProcAttr) (int, <-chan Status, error) {
	ch := make(chan Status, 1)
	// Holding mu across fork means the loop, which needs mu to look a pid
	// up, cannot hand this child's status to nobody before it is registered.
	r.mu.Lock()
	pid, err := syscall.ForkExec(argv0, argv, attr)
	if err != nil {
		r.mu.Unlock()
		return 0, nil, &os.PathError{Op: "fork/exec", Path: argv0, Err: err}
	}
	r.waiters[pid] = ch
	r.mu.Unlock()
	r.Poke()
	return pid, ch, nil
}

// Poke makes Run look for exited children now. A SIGCHLD that arrived while
// a pid was not registered yet is not lost this way.
func (r *Reaper) Poke() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// ErrNotStarted wraps failures to start a command.
var ErrNotStarted = errors.New("command not started")

// BecomeSubreaper makes orphaned descendants re-parent to this process
// instead of to PID 1, so a pysup that is not PID 1 still reaps them.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}
