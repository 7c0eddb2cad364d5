package probe

import (
	"context"
	"errors"
	"time"
)

// Role says which probe a check serves.
type Role string

// The roles, one per probe endpoint.
const (
	RoleStartup Role = "startup"
	RoleReady   Role = "ready"
	RoleLive    Role = "live"
)

// probeFunc runs one attempt of a check. ctx carries the attempt's timeout;
// the result is nil when the attempt passed, else why it failed. Every kind
// of check (tcp.go, http.go, zmq.go, exec.go, notify.go) builds one.
type probeFunc func(ctx context.Context) error

// Defaults are the period, timeout and thresholds of checks whose spec does
// not override them.
type Defaults struct {
	Period    time.Duration
	Timeout   time.Duration
	Failures  int // consecutive failed attempts that make a passing check fail
	Successes int // consecutive passed attempts that make a failing check pass
}

// KubeletDefaults are the kubelet's probe defaults.
var KubeletDefaults = Defaults{Period: 10 * time.Second, Timeout: time.Second, Failures: 3, Successes: 1}

// notifyPeriod is the longest default period of a notify check.
const notifyPeriod = time.Second

// checkDef is a configured check: what a generation's check state is made
// from each time the child starts.
type checkDef struct {
	role      Role
	spec      Spec
	period    time.Duration
	timeout   time.Duration
	failures  int
	successes int
	probe     probeFunc
}

func newCheckDef(role Role, s Spec, d Defaults, p probeFunc) *checkDef {
	c := &checkDef{role: role, spec: s, period: s.Period, timeout: s.Timeout,
		failures: s.Failures, successes: s.Successes, probe: p}
	if c.period <= 0 {
		c.period = d.Period
		// A notify check costs a lock and a comparison, and datagrams wake
		// it anyway; a short period only bounds how late a missed
		// heartbeat is seen.
		if s.Kind == KindNotify {
			c.period = min(c.period, notifyPeriod)
		}
	}
	if c.timeout <= 0 {
		c.timeout = d.Timeout
	}
	if c.failures <= 0 {
		c.failures = d.Failures
		// notify checks report state the app pushes, not samples: one
		// STOPPING=1 or one missed heartbeat is already the answer.
		if s.Kind == KindNotify && s.Failures == 0 {
			c.failures = 1
		}
	}
	if c.successes <= 0 {
		c.successes = d.Successes
	}
	return c
}

// check is the state of one check during one run of the child. Fields
// after def are guarded by Health.mu.
type check struct {
	def  *checkDef
	wake chan struct{} // makes the loop attempt now (notify datagrams)

	ok         bool
	consecOK   int
	consecFail int
	attempts   uint64
	lastErr    string // of the last attempt; "" when it passed
	latency    time.Duration
	last       time.Time
}

func newCheck(def *checkDef) *check {
	// A live check passes until it fails its threshold, as the kubelet
	// assumes; startup and ready checks must pass first.
	return &check{def: def, wake: make(chan struct{}, 1), ok: def.role == RoleLive}
}

// record folds one attempt's result into the thresholds and reports
// whether the check's verdict changed.
func (c *check) record(err error, latency time.Duration, at time.Time) bool {
	was := c.ok
	c.attempts++
	c.latency, c.last = latency, at
	if err == nil {
		c.consecOK++
		c.consecFail = 0
		c.lastErr = ""
		if c.consecOK >= c.def.successes {
			c.ok = true
		}
	} else {
		c.consecFail++
		c.consecOK = 0
		c.lastErr = err.Error()
		if c.consecFail >= c.def.failures {
			c.ok = false
		}
	}
	return was != c.ok
}

func (c *check) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// loop attempts the check every period until ctx ends, or for a startup
// check until it passes: the kubelet stops a startupProbe once it succeeds.
// The first attempt runs at once.
func (h *Health) loop(ctx context.Context, c *check) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-c.wake:
			// Since Go 1.23 a stopped timer delivers nothing stale.
			timer.Stop()
		}
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, c.def.timeout)
		err := c.def.probe(actx)
		// A connection deadline set from actx (zmq) may fire a moment
		// before actx itself reports it.
		timedOut := errors.Is(actx.Err(), context.DeadlineExceeded) || time.Since(start) >= c.def.timeout
		cancel()
		latency := time.Since(start)
		if ctx.Err() != nil {
			// The child stopped or is draining: this attempt says nothing.
			return
		}
		if err != nil && timedOut {
			err = timeoutError{c.def.timeout, err}
		}
		if done := h.record(ctx, c, err, latency, start); done {
			return
		}
		next := c.def.period - time.Since(start)
		timer.Reset(max(next, 0))
	}
}

// timeoutError names the timeout in the message of an attempt cut short.
type timeoutError struct {
	d   time.Duration
	err error
}

func (e timeoutError) Error() string { return "timed out after " + e.d.String() + ": " + e.err.Error() }
func (e timeoutError) Unwrap() error { return e.err }
