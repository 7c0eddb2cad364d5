package supervisor

import (
	"context"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pysup/pysup/internal/reaper"
	"github.com/pysup/pysup/internal/signals"
)

// stopState is a stop sequence under way.
type stopState struct {
	asked    time.Time      // TERM/INT received: draining began
	sig      signals.Signal // what the child gets when the drain ends
	sent     time.Time      // stop signal sent; zero while draining
	deadline time.Time      // SIGKILL after this; zero while draining
	revoked  bool           // the Gate closed; no stop was asked for
}

// supervise forwards signals and runs the stop sequence until the child
// exits. It returns the child's status and the stop under way, if any.
func (s *Supervisor) supervise(ctx context.Context, sigs <-chan os.Signal, c *child, revoked <-chan struct{}) (reaper.Status, *stopState) {
	var (
		stop    *stopState
		drainT  *time.Timer
		drainC  <-chan time.Time
		killC   <-chan time.Time
		ctxDone = ctx.Done()
	)
	defer func() {
		if drainT != nil {
			drainT.Stop()
		}
	}()
	begin := func(received signals.Signal) {
		stop = &stopState{asked: time.Now(), sig: s.stopSignal(received)}
		s.log.Info("stop requested: draining", "signal", received.String(), "drain_delay", s.opts.DrainDelay.String())
		s.phase(PhaseDraining)
		if s.opts.DrainDelay > 0 {
			drainT = time.NewTimer(s.opts.DrainDelay)
			drainC = drainT.C
		} else {
			killC = s.sendStop(c.pid, stop)
		}
	}
	for {
		select {
		case st := <-c.done:
			return st, stop
		case <-ctxDone:
			ctxDone = nil
			if stop == nil {
				begin(signals.Signal(unix.SIGTERM))
			}
		case <-revoked:
			revoked = nil
			switch {
			case stop == nil:
				// No drain: every moment the old leader's child runs
				// another may already run the new one.
				s.log.Warn("child gate closed: stopping the child at once")
				stop = &stopState{asked: time.Now(), sig: s.stopSignal(signals.Signal(unix.SIGTERM)), revoked: true}
				killC = s.sendStopWithin(c.pid, stop, s.revokeTimeout())
			case stop.sent.IsZero():
				// Draining for a stop request: the drain ends now.
				s.log.Warn("child gate closed while draining: stopping the child at once")
				drainT.Stop()
				drainC = nil
				killC = s.sendStopWithin(c.pid, stop, s.revokeTimeout())
			default:
				// Stopping already: the deadline may only come closer.
				if d := s.revokeTimeout(); time.Until(stop.deadline) > d {
					s.log.Warn("child gate closed while stopping: shorter stop deadline", "stop_timeout", d.String())
					stop.deadline = time.Now().Add(d)
					killC = time.After(d)
				}
			}
		case <-drainC:
			drainC = nil
			killC = s.sendStop(c.pid, stop)
		case <-killC:
			killC = nil
			s.log.Warn("stop timeout: killing every process left", "stop_timeout", s.opts.StopTimeout.String())
			s.killAll(c.pid)
		case osSig := <-sigs:
			sig := signals.Signal(osSig.(syscall.Signal))
			switch {
			case !isStopRequest(osSig):
				s.forward(c.pid, sig)
			case stop == nil:
				begin(sig)
			case stop.revoked:
				// Stopping for the gate already: now pysup stops too, once
				// the child is gone. The child has its stop signal: a
				// second (INT under the python preset) would interrupt
				// its cleanup.
				s.log.Info("stop requested while the child stops for the gate", "signal", sig.String())
				stop.revoked = false
			case stop.sent.IsZero():
				s.log.Info("second stop request: skipping the rest of the drain", "signal", sig.String())
				drainT.Stop()
				drainC = nil
				killC = s.sendStop(c.pid, stop)
			default:
				// Stopping already: a repeated Ctrl-C or TERM is for the
				// app (uvicorn forces on a second INT).
				s.forward(c.pid, sig)
			}
		}
	}
}

// sendStop ends the drain: it sends the stop signal and arms the deadline.
func (s *Supervisor) sendStop(pid int, stop *stopState) <-chan time.Time {
	return s.sendStopWithin(pid, stop, s.opts.StopTimeout)
}

// sendStopWithin is sendStop with the deadline timeout.
func (s *Supervisor) sendStopWithin(pid int, stop *stopState, timeout time.Duration) <-chan time.Time {
	now := time.Now()
	if s.opts.Events.Drained != nil && !stop.revoked {
		s.opts.Events.Drained(now.Sub(stop.asked))
	}
	stop.sent = now
	stop.deadline = now.Add(timeout)
	s.phase(PhaseStopping)
	if stop.sig == 0 {
		s.log.Info("stop signal dropped by rewrite: waiting for the deadline", "stop_timeout", timeout.String())
	} else {
		s.log.Info("sending stop signal", "signal", stop.sig.String(), "pid", pid, "stop_timeout", timeout.String())
		// The group only: processes the app started in a session of their
		// own are the app's to stop; the deadline's SIGKILL reaches them.
		s.signal(pid, stop.sig)
	}
	return time.After(timeout)
}

// sweep waits until no descendant is left, sending sig (unless 0) to the
// leftovers first and SIGKILL to all from the deadline on. pysup must not
// exit while a worker is still finishing its request within the deadline.
// It reports whether a stop (TERM, INT, ctx) was asked for meanwhile.
//
// revoked, when it closes (or is closed already), brings the deadline to
// the revocation's at the latest: a successor may start soon.
func (s *Supervisor) sweep(ctx context.Context, sigs <-chan os.Signal, revoked <-chan struct{}, pid int, sig signals.Signal, deadline time.Time) (stopAsked bool) {
	shorten := func() {
		if d := time.Now().Add(s.revokeTimeout()); d.Before(deadline) {
			deadline = d
		}
	}
	select {
	case <-revoked:
		revoked = nil
		shorten()
	default:
	}
	left := descendants(s.self)
	if len(left) == 0 {
		return false
	}
	if sig != 0 {
		s.log.Info("stopping processes the child left", "count", len(left), "signal", sig.String())
		s.signalEach(pid, left, unix.Signal(sig))
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var killedAt time.Time
	for {
		left = descendants(s.self)
		if len(left) == 0 {
			return stopAsked
		}
		if !time.Now().Before(deadline) {
			if killedAt.IsZero() {
				s.log.Warn("stop timeout: killing every process left", "count", len(left))
				killedAt = time.Now()
			} else if time.Since(killedAt) > unkillableWait {
				s.log.Error("processes survived SIGKILL", "count", len(left))
				return stopAsked
			}
			// Every tick: one forked between our listing and the kill
			// must not survive.
			s.signalEach(pid, left, unix.SIGKILL)
		}
		select {
		case <-tick.C:
		case <-revoked:
			revoked = nil
			shorten()
		case <-ctx.Done():
			stopAsked = true
			deadline = time.Now()
		case osSig := <-sigs:
			if isStopRequest(osSig) {
				stopAsked = true
			}
			if to, ok := s.opts.Rewrite.Apply(signals.Signal(osSig.(syscall.Signal))); ok {
				s.signalEach(pid, left, unix.Signal(to))
			}
		}
		s.reaper.Poke()
	}
}

// sweepOrphans stops what is left below pysup when no child runs (after
// the pre-start phase, or while standby): the stop signal, SIGKILL after
// the stop timeout.
func (s *Supervisor) sweepOrphans(ctx context.Context, sigs <-chan os.Signal) {
	sig := s.opts.StopSignal
	if sig == 0 {
		sig = signals.Signal(unix.SIGTERM)
	}
	s.sweep(ctx, sigs, nil, 0, sig, time.Now().Add(s.opts.StopTimeout))
}

// unkillableWait bounds the wait for processes after SIGKILL: one stuck in
// uninterruptible sleep (D state) must not hang pysup forever.
const unkillableWait = 5 * time.Second

// killAll sends SIGKILL to the child's group and every descendant.
func (s *Supervisor) killAll(pid int) {
	s.signalEach(pid, descendants(s.self), unix.SIGKILL)
}

// signalEach signals the child's group and each process listed (which may
// have left the group with setsid or setpgid).
//
// pid 0 (no child) signals only those listed: kill(0) would be our own
// group.
func (s *Supervisor) signalEach(pid int, procs []proc, sig unix.Signal) {
	if pid > 0 {
		_ = unix.Kill(-pid, sig)
	}
	for _, p := range procs {
		if p.pgid != pid {
			_ = unix.Kill(p.pid, sig)
		}
	}
}
