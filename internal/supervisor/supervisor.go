// Package supervisor runs the child: it starts it in its own process group,
// forwards and rewrites signals, runs the stop sequence (drain, stop signal,
// deadline, SIGKILL), sweeps every descendant left behind, optionally
// restarts in place, and returns the child's exit status.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pysup/pysup/internal/config"
	"github.com/pysup/pysup/internal/identity"
	"github.com/pysup/pysup/internal/reaper"
	"github.com/pysup/pysup/internal/signals"
)

// Phase is where the child's lifecycle stands.
type Phase int

// The phases, in the order a normal life goes through them.
const (
	// PhaseStarting is before the child runs, and between restarts.
	PhaseStarting Phase = iota
	// PhaseRunning is while the child runs and no stop was asked for.
	PhaseRunning
	// PhaseDraining starts the moment a stop is asked for: the pod must
	// stop getting traffic while the app keeps serving.
	PhaseDraining
	// PhaseStopping starts when the stop signal has been sent.
	PhaseStopping
	// PhaseExited is when the child and every descendant are gone.
	PhaseExited
)

func (p Phase) String() string {
	switch p {
	case PhaseStarting:
		return "starting"
	case PhaseRunning:
		return "running"
	case PhaseDraining:
		return "draining"
	case PhaseStopping:
		return "stopping"
	case PhaseExited:
		return "exited"
	case PhaseStandby:
		return "standby"
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// Restart says whether and how the child restarts in place.
type Restart struct {
	Policy   config.RestartPolicy
	Delay    time.Duration // first backoff, doubled each restart
	MaxDelay time.Duration // cap; a child that ran this long resets it
	Limit    int           // 0: no limit
}

// Events are called from the supervisor's goroutine as things happen. Any
// may be nil. They must not block.
type Events struct {
	Phase func(Phase)
	// BeforeStart is called before each start of the child; an error
	// stops pysup as a failed start would.
	BeforeStart func() error
	Started     func(pid int)
	Exited      func(st reaper.Status, ran time.Duration)
	// Restarting is called before the n-th restart, after its backoff.
	Restarting func(n int)
	// Drained reports how long the drain lasted.
	Drained func(time.Duration)
	// Stopped reports the time from the stop signal to the last
	// descendant gone.
	Stopped func(time.Duration)
}

// Options configure a Supervisor.
type Options struct {
	// Signals delivers what pysup receives. main registers it first thing
	// and never unregisters it: a Go PID 1 exits with status 2 on a signal
	// nobody is notified for. Nil: Run registers its own.
	Signals <-chan os.Signal
	Argv    []string
	Env     []string
	// Stdin, Stdout, Stderr default to pysup's own.
	Stdin, Stdout, Stderr *os.File
	Identity              *identity.Identity
	SignalGroup           bool
	// StopSignal, when not 0, is sent to stop the child; otherwise the
	// signal pysup received, rewritten.
	StopSignal  signals.Signal
	Rewrite     signals.Rewrite
	DrainDelay  time.Duration
	StopTimeout time.Duration
	Restart     Restart
	// Gate, when set, holds each start of the child back until it opens,
	// and stops the child (the stop signal at once, no drain) when it
	// closes; then the child waits for it again. A stop request while
	// waiting makes Run return 0.
	Gate Gate
	// RevokeStopTimeout, when positive and shorter than StopTimeout, is
	// the stop deadline when the Gate closes: a singleton must be gone
	// before another pod may start its own.
	RevokeStopTimeout time.Duration
	// Prestart, when not nil, runs once before the first start of the
	// child, never before an in-place restart (the pre-start commands,
	// wrapped in whatever coordinates them across replicas). A TERM or INT
	// meanwhile cancels its context, and the child is then never started.
	// An error ends pysup with its ExitCode() when it has one, else 1.
	Prestart func(ctx context.Context) error
	Events   Events
	Log      *slog.Logger
}

// Notify returns a channel receiving every signal pysup handles: the
// forwardable ones, TERM and INT among them, and CHLD is left to the reaper.
func Notify() chan os.Signal {
	ch := make(chan os.Signal, 64)
	signal.Notify(ch, forwardable(func(unix.Signal) bool { return true })...)
	return ch
}

// NotifyBackground is Notify done by a goroutine: it returns the channel at
// once, and caught, which returns once the standard signals are caught.
// Catching a signal is a round trip to the Go runtime's signal-mask thread
// (two thread switches), a few milliseconds for all of them here: pysup
// overlaps them with its own setup and calls caught before it starts
// anything. TERM and INT come first: until they are caught, the Go
// runtime makes a PID 1 exit with status 2 on them. The 30 real-time
// signals, which no init system or orchestrator sends, are caught after,
// while the child starts: the Go runtime drops one that arrives before (it
// has no action that would stop pysup), as the child, still starting and
// with no handler, would have died of it. A signal that arrives once caught
// waits in the channel.
func NotifyBackground() (ch chan os.Signal, caught func()) {
	ch = make(chan os.Signal, 64)
	std := make(chan struct{})
	stop := func(s unix.Signal) bool { return s == unix.SIGTERM || s == unix.SIGINT }
	go func() {
		signal.Notify(ch, forwardable(stop)...)
		signal.Notify(ch, forwardable(func(s unix.Signal) bool { return !stop(s) && !signals.Realtime(s) })...)
		close(std)
		signal.Notify(ch, forwardable(signals.Realtime)...)
	}()
	return ch, func() { <-std }
}

// forwardable is the forwardable signals keep says yes to.
func forwardable(keep func(unix.Signal) bool) []os.Signal {
	var out []os.Signal
	for _, sig := range signals.Forwardable() {
		if keep(sig) {
			out = append(out, sig)
		}
	}
	return out
}

// Supervisor runs one child command. Use it once.
type Supervisor struct {
	opts   Options
	reaper *reaper.Reaper
	log    *slog.Logger
	self   int
}

// New returns a Supervisor that starts processes through r, which must be
// running (r.Run) and, for a PID 1 or subreaper, reaping orphans.
func New(opts Options, r *reaper.Reaper) *Supervisor {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{opts: opts, reaper: r, log: log, self: os.Getpid()}
}

// child is one start of the command.
type child struct {
	pid     int
	done    <-chan reaper.Status
	started time.Time
}

// Run starts the child and supervises it until it and every descendant are
// gone, and returns the exit status pysup should exit with. Cancelling ctx
// acts as a SIGTERM. An error means the child could not be started; the
// status is then 126 or 127 as a shell would return.
func (s *Supervisor) Run(ctx context.Context) (int, error) {
	sigs := s.opts.Signals
	if sigs == nil {
		ch := Notify()
		defer signal.Stop(ch)
		sigs = ch
	}

	if s.opts.Prestart != nil {
		s.phase(PhaseStarting)
		if code, ok := s.prestart(ctx, sigs); !ok {
			s.sweepOrphans(ctx, sigs)
			s.phase(PhaseExited)
			return code, nil
		}
	}
	restarts := 0
	backoff := s.opts.Restart.Delay
	var revoked <-chan struct{}
	for {
		if s.opts.Gate != nil {
			var ok bool
			if revoked, ok = s.awaitGate(ctx, sigs); !ok {
				s.sweepOrphans(ctx, sigs)
				s.phase(PhaseExited)
				return 0, nil
			}
		}
		s.phase(PhaseStarting)
		c, err := s.beforeStartThenStart()
		if err != nil {
			code := ExitNotExecutable
			var se *StartError
			if errors.As(err, &se) {
				code = se.Code
			}
			s.log.Error("child not started", "error", err.Error(), "exit_code", code)
			s.phase(PhaseExited)
			return code, err
		}
		// The argv often carries credentials (a broker URL with a
		// password): only its first word goes to shipped logs.
		s.log.Info("child started", "pid", c.pid, "command", s.opts.Argv[0])
		s.log.Debug("child argv", "pid", c.pid, "argv", s.opts.Argv)
		if s.opts.Events.Started != nil {
			s.opts.Events.Started(c.pid)
		}
		s.phase(PhaseRunning)

		st, stop := s.supervise(ctx, sigs, c, revoked)
		ran := time.Since(c.started)
		if s.opts.Events.Exited != nil {
			s.opts.Events.Exited(st, ran)
		}
		s.logExit(st, ran)

		if stop != nil && stop.revoked {
			// Leadership lost: clear what the child left, then wait to
			// lead again. A stop request meanwhile ends pysup, with 0: the
			// child stopped because it was told to, not of its own.
			if s.sweep(ctx, sigs, revoked, c.pid, 0, stop.deadline) {
				s.phase(PhaseExited)
				return 0, nil
			}
			continue
		}

		if stop == nil && s.shouldRestart(st, restarts) {
			if s.sweep(ctx, sigs, revoked, c.pid, s.stopSignal(signals.Signal(unix.SIGTERM)), time.Now().Add(s.opts.StopTimeout)) {
				// Asked to stop while the leftovers were stopping.
				s.phase(PhaseExited)
				return st.ExitCode(), nil
			}
			if ran >= s.opts.Restart.MaxDelay {
				backoff = s.opts.Restart.Delay
			}
			s.log.Info("restarting child", "restart", restarts+1, "backoff", backoff.String())
			s.phase(PhaseStarting)
			if !s.wait(ctx, sigs, backoff) {
				s.phase(PhaseExited)
				return st.ExitCode(), nil
			}
			restarts++
			backoff = min(backoff*2, s.opts.Restart.MaxDelay)
			if s.opts.Events.Restarting != nil {
				s.opts.Events.Restarting(restarts)
			}
			continue
		}

		var deadline time.Time
		var sig signals.Signal
		switch {
		case stop != nil && !stop.sent.IsZero():
			// The stop signal went out: its deadline stands.
			deadline, sig = stop.deadline, 0
		case stop != nil:
			// The child left while draining: nothing is left to serve.
			deadline, sig = time.Now().Add(s.opts.StopTimeout), stop.sig
		default:
			// The child exited on its own: stop what it left the same way.
			deadline, sig = time.Now().Add(s.opts.StopTimeout), s.stopSignal(signals.Signal(unix.SIGTERM))
		}
		s.sweep(ctx, sigs, revoked, c.pid, sig, deadline)
		if stop != nil && s.opts.Events.Stopped != nil && !stop.sent.IsZero() {
			s.opts.Events.Stopped(time.Since(stop.sent))
		}
		s.phase(PhaseExited)
		return st.ExitCode(), nil
	}
}

func (s *Supervisor) beforeStartThenStart() (*child, error) {
	if s.opts.Events.BeforeStart != nil {
		if err := s.opts.Events.BeforeStart(); err != nil {
			return nil, &StartError{Path: s.opts.Argv[0], Code: ExitNotExecutable, Err: err}
		}
	}
	return s.start()
}

func (s *Supervisor) phase(p Phase) {
	if s.opts.Events.Phase != nil {
		s.opts.Events.Phase(p)
	}
}

func (s *Supervisor) shouldRestart(st reaper.Status, restarts int) bool {
	switch s.opts.Restart.Policy {
	case config.RestartAlways:
	case config.RestartOnFailure:
		if st.ExitCode() == 0 {
			return false
		}
	default:
		return false
	}
	if s.opts.Restart.Limit > 0 && restarts >= s.opts.Restart.Limit {
		s.log.Warn("restart limit reached", "restarts", restarts)
		return false
	}
	return true
}

func (s *Supervisor) logExit(st reaper.Status, ran time.Duration) {
	attrs := []any{"pid", st.Pid, "exit_code", st.ExitCode(), "ran", ran.Round(time.Millisecond).String()}
	if sig, ok := st.Signaled(); ok {
		attrs = append(attrs, "signal", signals.Signal(sig).String())
	}
	s.log.Info("child exited", attrs...)
}

// wait sleeps d, or returns false early when a stop is asked for.
func (s *Supervisor) wait(ctx context.Context, sigs <-chan os.Signal, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		case sig := <-sigs:
			if isStopRequest(sig) {
				return false
			}
		}
	}
}

func isStopRequest(sig os.Signal) bool {
	return sig == syscall.SIGTERM || sig == syscall.SIGINT
}

// stopSignal is what the child gets for a stop requested with received.
func (s *Supervisor) stopSignal(received signals.Signal) signals.Signal {
	if s.opts.StopSignal != 0 {
		return s.opts.StopSignal
	}
	to, _ := s.opts.Rewrite.Apply(received)
	return to
}

// forward relays sig to the child, rewritten.
func (s *Supervisor) forward(pid int, sig signals.Signal) {
	to, ok := s.opts.Rewrite.Apply(sig)
	if !ok {
		s.log.Debug("signal dropped", "signal", sig.String())
		return
	}
	s.log.Info("signal forwarded", "signal", sig.String(), "sent", to.String(), "pid", pid)
	s.signal(pid, to)
}

// signal sends sig to the child's process group, or only to the child.
func (s *Supervisor) signal(pid int, sig signals.Signal) {
	target := pid
	if s.opts.SignalGroup {
		target = -pid
	}
	if err := unix.Kill(target, unix.Signal(sig)); err != nil && !errors.Is(err, unix.ESRCH) {
		s.log.Warn("signal not delivered", "signal", sig.String(), "pid", target, "error", err.Error())
	}
}
