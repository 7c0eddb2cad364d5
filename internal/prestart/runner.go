// Package prestart runs the pre-start commands (PYSUP_PRESTART: database
// migrations, collectstatic) before the child: in order, each only if the
// one before succeeded, with the child's environment, user and working
// directory, through pysup's one reaper, each in a process group of its
// own. A failure, a timeout or a stop request ends the phase with an
// *Error carrying the status pysup exits with.
package prestart

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/pysup/pysup/internal/identity"
	"github.com/pysup/pysup/internal/reaper"
)

// The shell's statuses for a command that could not be run.
const (
	exitNotExecutable = 126
	exitNotFound      = 127
)

// Starter starts processes and owns their wait; *reaper.Reaper is one.
type Starter interface {
	Start(argv0 string, argv []string, attr *syscall.ProcAttr) (int, <-chan reaper.Status, error)
}

// Streams are where one command's stdout and stderr go: the log pipeline's
// tagged pipes. Close is called once the command has exited.
type Streams interface {
	Stdout() *os.File
	Stderr() *os.File
	Close() error
}

// Progress is where the phase stands, for /startupz.
type Progress struct {
	Step, Of int    // 1-based step of Of commands
	Name     string // Command.Name of the step
}

// String reads like "2/3: python3 manage.py collectstatic".
func (p Progress) String() string {
	return strconv.Itoa(p.Step) + "/" + strconv.Itoa(p.Of) + ": " + p.Name
}

// Runner runs the pre-start commands. Its zero value runs nothing.
type Runner struct {
	Commands Commands
	// Env is the child's environment; Identity the child's user (nil:
	// pysup's). The working directory is pysup's, as the child's is.
	Env      []string
	Identity *identity.Identity
	// Timeout bounds the whole phase (0: no limit); a command still running
	// then is stopped as on a stop request.
	Timeout time.Duration
	// StopSignal goes to a command's process group to stop it (0: SIGTERM);
	// SIGKILL follows after StopTimeout.
	StopSignal  syscall.Signal
	StopTimeout time.Duration
	// Urgent, if set, returns for Run's ctx a channel closed when stopping
	// becomes urgent: the once-key Lease lost, another replica may start
	// the same commands soon. The stop deadline is then UrgentStopTimeout
	// at the latest (when shorter), whether the stop began before or with
	// it.
	Urgent            func(context.Context) <-chan struct{}
	UrgentStopTimeout time.Duration
	Starter           Starter
	// LookPath finds a command in the PATH of env; pysup passes
	// supervisor.LookPath, which uses the child's PATH as the child's start
	// does. Nil: exec.LookPath, with pysup's own PATH.
	LookPath func(file string, env []string) (string, error)
	// Streams returns a command's output streams; nil, or a nil Streams,
	// uses pysup's own stdout and stderr.
	Streams func(p Progress) (Streams, error)
	// Progress is called as each command starts. It must not block.
	Progress func(Progress)
	Log      *slog.Logger
}

// Error is a pre-start phase that did not succeed.
type Error struct {
	Progress
	// Status is how the command ended; zero when it never started.
	Status reaper.Status
	// Code is what pysup exits with: the command's status (128+N for
	// signal N), 126/127 when it could not be run, 128+stop signal when it
	// was stopped and exited 0 anyway.
	Code     int
	TimedOut bool
	Stopped  bool // by a stop request (ctx cancelled)
	Err      error
	Ran      time.Duration
}

func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Status.Pid == 0:
		return fmt.Sprintf("pre-start command %s not started: %v", e.Progress, e.Err)
	case e.TimedOut:
		return fmt.Sprintf("pre-start command %s stopped: PYSUP_PRESTART_TIMEOUT reached (exit status %d)", e.Progress, e.Code)
	case e.Stopped:
		return fmt.Sprintf("pre-start command %s stopped on request (exit status %d)", e.Progress, e.Code)
	}
	if sig, ok := e.Status.Signaled(); ok {
		return fmt.Sprintf("pre-start command %s killed by signal %s (exit status %d)", e.Progress, sig, e.Code)
	}
	return fmt.Sprintf("pre-start command %s failed with exit status %d", e.Progress, e.Code)
}

// Unwrap returns the cause: context.Canceled when stopped.
func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the status pysup exits with.
func (e *Error) ExitCode() int { return e.Code }

// ErrTimeout is the cause of an Error whose phase ran out of time.
var ErrTimeout = errors.New("pre-start timeout")

// Run runs the commands in order and stops at the first that fails. When
// ctx ends (a stop request) the running command gets the stop signal, then
// SIGKILL after StopTimeout, and Run returns an *Error with Stopped set.
func (r *Runner) Run(ctx context.Context) error {
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var deadline <-chan time.Time
	if r.Timeout > 0 {
		t := time.NewTimer(r.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	began := time.Now()
	for i, c := range r.Commands {
		p := Progress{Step: i + 1, Of: len(r.Commands), Name: c.Name}
		if r.Progress != nil {
			r.Progress(p)
		}
		log.Info("pre-start command started", "step", p.Step, "of", p.Of, "command", p.Name)
		log.Debug("pre-start argv", "step", p.Step, "argv", c.Argv)
		err := r.runOne(ctx, p, c, deadline, log)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				log.Error("pre-start command failed", "step", p.Step, "of", p.Of, "command", p.Name,
					"exit_code", e.Code, "ran", e.Ran.Round(time.Millisecond).String(), "error", e.Error())
			}
			return err
		}
	}
	if len(r.Commands) > 0 {
		log.Info("pre-start commands done", "commands", len(r.Commands), "took", time.Since(began).Round(time.Millisecond).String())
	}
	return nil
}

func (r *Runner) runOne(ctx context.Context, p Progress, c Command, deadline <-chan time.Time, log *slog.Logger) error {
	fail := func(err error, code int) error { return &Error{Progress: p, Code: code, Err: err} }
	if err := ctx.Err(); err != nil {
		return &Error{Progress: p, Code: 128 + int(r.stopSignal()), Stopped: true, Err: err}
	}
	path, err := r.lookPath(c.Argv[0])
	if err != nil {
		code := exitNotFound
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			code = ec.ExitCode()
		}
		return fail(err, code)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(err, exitNotExecutable)
	}
	defer devnull.Close()
	stdout, stderr := os.Stdout, os.Stderr
	var streams Streams
	if r.Streams != nil {
		if streams, err = r.Streams(p); err != nil {
			return fail(err, exitNotExecutable)
		}
	}
	if streams != nil {
		stdout, stderr = streams.Stdout(), streams.Stderr()
		// pysup's write ends: the readers see EOF once the command and
		// whatever it left behind have closed theirs.
		defer streams.Close()
	}
	sys := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if r.Identity != nil {
		sys.Credential = r.Identity.Credential
	}
	// No stdin: a command asking a question (migrate without --noinput)
	// reads EOF instead of hanging the pod's start.
	attr := &syscall.ProcAttr{Env: r.Env, Files: []uintptr{devnull.Fd(), stdout.Fd(), stderr.Fd()}, Sys: sys}
	started := time.Now()
	pid, done, err := r.Starter.Start(path, c.Argv, attr)
	if err != nil {
		code := exitNotExecutable
		if os.IsNotExist(err) {
			code = exitNotFound
		}
		return fail(err, code)
	}

	var (
		st       reaper.Status
		stopped  bool
		timedOut bool
		killC    <-chan time.Time
		killAt   time.Time
		ctxDone  = ctx.Done()
		urgentC  <-chan struct{}
		urgent   bool
	)
	if r.Urgent != nil {
		urgentC = r.Urgent(ctx)
	}
	stop := func(why string, timeout time.Duration) {
		sig := r.stopSignal()
		log.Warn("stopping pre-start command", "step", p.Step, "command", p.Name, "reason", why,
			"signal", sig.String(), "stop_timeout", timeout.String())
		_ = syscall.Kill(-pid, sig)
		killC, killAt = time.After(timeout), time.Now().Add(timeout)
	}
	urgentTimeout := func(t time.Duration) time.Duration {
		if u := r.UrgentStopTimeout; u > 0 && u < t {
			return u
		}
		return t
	}
wait:
	for {
		select {
		case st = <-done:
			break wait
		case <-ctxDone:
			ctxDone, deadline = nil, nil
			if !timedOut {
				stopped = true
				select {
				case <-urgentC:
					urgentC, urgent = nil, true
				default:
				}
				if urgent {
					stop(context.Cause(ctx).Error(), urgentTimeout(r.StopTimeout))
				} else {
					stop("stop requested", r.StopTimeout)
				}
			}
		case <-deadline:
			deadline = nil
			if !stopped {
				timedOut = true
				stop("PYSUP_PRESTART_TIMEOUT", r.StopTimeout)
			}
		case <-urgentC:
			urgentC, urgent = nil, true
			// Stopping already: the deadline may only come closer. Not
			// stopping yet: the stop follows (ctx ends with the loss).
			if killC != nil {
				if t := urgentTimeout(time.Until(killAt)); t < time.Until(killAt) {
					log.Warn("pre-start command stopping: shorter stop deadline", "step", p.Step, "command", p.Name, "stop_timeout", t.String())
					killC, killAt = time.After(t), time.Now().Add(t)
				}
			}
		case <-killC:
			killC = nil
			log.Warn("stop timeout: killing the pre-start command's process group", "step", p.Step, "command", p.Name)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	ran := time.Since(started)
	code := st.ExitCode()
	if code == 0 && !stopped && !timedOut {
		log.Info("pre-start command done", "step", p.Step, "of", p.Of, "command", p.Name,
			"ran", ran.Round(time.Millisecond).String())
		return nil
	}
	// What it left in its group has no purpose now.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	e := &Error{Progress: p, Status: st, Code: code, TimedOut: timedOut, Stopped: stopped, Ran: ran}
	switch {
	case stopped:
		e.Err = context.Cause(ctx)
	case timedOut:
		e.Err = ErrTimeout
	}
	if code == 0 {
		e.Code = 128 + int(r.stopSignal())
	}
	return e
}

func (r *Runner) lookPath(file string) (string, error) {
	if r.LookPath != nil {
		return r.LookPath(file, r.Env)
	}
	return exec.LookPath(file)
}

func (r *Runner) stopSignal() syscall.Signal {
	if r.StopSignal != 0 {
		return r.StopSignal
	}
	return syscall.SIGTERM
}
