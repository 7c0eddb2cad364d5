package probe

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// notifyProbe checks what the child said over sd_notify. It never waits:
// datagrams update the state and poke the notify checks to look at once.
//   - startup: READY=1 has come.
//   - ready: READY=1 has come and no STOPPING=1 or RELOADING=1 since.
//   - live: a WATCHDOG=1 within the interval, counted from when live checks
//     began; no WATCHDOG=trigger.
func (h *Health) notifyProbe(role Role) probeFunc {
	return func(ctx context.Context) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		ns := h.ns
		switch role {
		case RoleStartup:
			if !ns.ready {
				return errors.New("no READY=1 yet")
			}
		case RoleReady:
			switch {
			case ns.stopping:
				return errors.New("app sent STOPPING=1")
			case ns.reloading:
				return errors.New("app sent RELOADING=1")
			case !ns.ready:
				return errors.New("no READY=1 yet")
			}
		case RoleLive:
			if ns.triggered {
				return errors.New("app sent WATCHDOG=trigger")
			}
			if ns.interval <= 0 {
				return nil
			}
			since := ns.lastBeat
			if h.gen != nil && h.gen.liveSince.After(since) {
				since = h.gen.liveSince
			}
			if late := time.Since(since); late > ns.interval {
				if ns.lastBeat.IsZero() {
					return fmt.Errorf("no WATCHDOG=1 within %s", ns.interval)
				}
				return fmt.Errorf("no WATCHDOG=1 for %s (interval %s)", late.Round(time.Millisecond), ns.interval)
			}
		}
		return nil
	}
}

// handleDatagram applies a datagram from the notify socket when it comes
// from the child's process tree.
func (h *Health) handleDatagram(d datagram) {
	if d.truncated {
		h.reject("larger than 4096 bytes", d.pid)
		return
	}
	if d.pid <= 0 {
		h.reject("no sender credentials", 0)
		return
	}
	h.mu.Lock()
	child, mainPID, running := h.pid, h.ns.mainPID, h.phase == phaseRunning || h.phase == phaseDraining
	h.mu.Unlock()
	// /proc is read without the lock: probe answers must not wait on it.
	if !running || !inTree(h.procDir, d.pid, child, mainPID) {
		h.reject("sender outside the child's process tree", d.pid)
		return
	}
	m, err := ParseMessage(d.data)
	if err != nil {
		h.log.Debug("notify: malformed assignments", "pid", d.pid, "error", err)
	}
	h.accepted.Add(1)

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pid != child {
		return // a new child started meanwhile: the datagram is stale
	}
	ns := &h.ns
	now := time.Now()
	if m.Ready {
		ns.ready, ns.stopping, ns.reloading = true, false, false
	}
	if m.Reloading {
		ns.reloading = true
	}
	if m.Stopping {
		ns.stopping = true
	}
	if m.HasStatus {
		ns.status = m.Status
	}
	if m.MainPID > 0 {
		ns.mainPID = m.MainPID
	}
	if m.HasWatchdogInterval {
		ns.interval = m.WatchdogInterval
	}
	if m.Watchdog {
		ns.lastBeat = now
	}
	if m.WatchdogTrigger {
		ns.triggered = true
	}
	if g := h.gen; m.ExtendTimeout > 0 && g != nil && !g.startupDue.IsZero() && !g.startupPassed {
		if due := now.Add(m.ExtendTimeout); due.After(g.startupDue) {
			g.startupDue = due
			// A pending timer re-arms itself for the new deadline; one that
			// already fired must be re-armed here.
			if g.startupLate {
				g.startupLate = false
				g.startupTimer.Reset(m.ExtendTimeout)
			}
		}
	}
	if m.Ready || m.Stopping || m.Reloading || m.WatchdogTrigger || m.HasWatchdogInterval {
		if g := h.gen; g != nil {
			for _, c := range g.checks {
				if c.def.spec.Kind == KindNotify {
					c.poke()
				}
			}
		}
	}
	h.render()
}

func (h *Health) reject(why string, pid int) {
	n := h.rejected.Add(1)
	// Log the first few and then rarely: a flood must not flood stderr.
	if n <= 5 || n%1000 == 0 {
		h.log.Warn("notify: datagram rejected", "reason", why, "pid", pid, "rejected", n)
	}
}
