package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// answer is a rendered probe response.
type answer struct {
	code int
	body []byte
}

// answers holds one rendered response per endpoint.
type answers struct {
	startup, ready, live answer
}

// body is the JSON of a probe response. The default is kept small; the
// verbose fields are filled for ?verbose.
type body struct {
	Status string `json:"status"` // ok, starting, draining, failing, exited, idle
	Reason string `json:"reason,omitempty"`
	// Phase and Progress say what pysup does before the child starts
	// (Health.StartPhase).
	Phase    string `json:"phase,omitempty"`
	Progress string `json:"progress,omitempty"`
	// AppStatus is the child's last sd_notify STATUS= text.
	AppStatus string      `json:"app_status,omitempty"`
	Checks    []checkBody `json:"checks,omitempty"`

	PID     int          `json:"pid,omitempty"`
	MainPID int          `json:"main_pid,omitempty"`
	Notify  *notifyBody  `json:"notify,omitempty"`
	Startup *startupBody `json:"startup,omitempty"`

	Election *electionBody `json:"election,omitempty"`
}

type checkBody struct {
	Name      string   `json:"name"`
	OK        bool     `json:"ok"`
	Error     string   `json:"error,omitempty"`
	LatencyMS *float64 `json:"latency_ms,omitempty"`

	Role       Role   `json:"role,omitempty"`
	Attempts   uint64 `json:"attempts,omitempty"`
	ConsecOK   int    `json:"consecutive_successes,omitempty"`
	ConsecFail int    `json:"consecutive_failures,omitempty"`
	Last       string `json:"last,omitempty"`
	Period     string `json:"period,omitempty"`
	Timeout    string `json:"timeout,omitempty"`
	Failures   int    `json:"failure_threshold,omitempty"`
	Successes  int    `json:"success_threshold,omitempty"`
}

type notifyBody struct {
	Socket    string `json:"socket"`
	Ready     bool   `json:"ready"`
	Stopping  bool   `json:"stopping,omitempty"`
	Reloading bool   `json:"reloading,omitempty"`
	Watchdog  string `json:"watchdog,omitempty"`
	LastBeat  string `json:"last_watchdog,omitempty"`
	Accepted  uint64 `json:"datagrams_accepted"`
	Rejected  uint64 `json:"datagrams_rejected"`
}

type startupBody struct {
	Passed   bool   `json:"passed"`
	Deadline string `json:"deadline,omitempty"`
}

// render says the state changed: the cached plain answers are dropped and
// the next reader builds them. Building them at every change instead cost
// pysup's start the JSON encoding of three bodies (and encoding/json's
// first-use reflection) even with no server to ask. Callers hold h.mu, or
// own h exclusively (New).
func (h *Health) render() {
	h.cached.Store(nil)
}

// answers returns the plain answers, building them if a change dropped
// them. Probe requests between changes only load a pointer.
func (h *Health) answers() *answers {
	if a := h.cached.Load(); a != nil {
		return a
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.answersLocked()
}

// answersLocked is answers for callers holding h.mu. A change drops the
// cache under h.mu too, so what is stored here is never older than the
// state.
func (h *Health) answersLocked() *answers {
	if a := h.cached.Load(); a != nil {
		return a
	}
	a := &answers{
		startup: h.build(RoleStartup, false),
		ready:   h.build(RoleReady, false),
		live:    h.build(RoleLive, false),
	}
	h.cached.Store(a)
	return a
}

// answerFor returns the answer for role; verbose ones are built on demand.
func (h *Health) answerFor(role Role, verbose bool) answer {
	if !verbose {
		a := h.answers()
		switch role {
		case RoleStartup:
			return a.startup
		case RoleReady:
			return a.ready
		default:
			return a.live
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.build(role, true)
}

// verdict decides one endpoint's status code, status and reason.
func (h *Health) verdict(role Role) (int, string, string) {
	g := h.gen
	switch h.phase {
	case phaseIdle:
		why := "child not started yet"
		if h.pre.name != "" {
			why = because(why, h.pre.name+" "+h.pre.progress)
		}
		if role == RoleLive {
			return http.StatusOK, "starting", why
		}
		return http.StatusServiceUnavailable, "starting", why
	case phaseExited:
		return http.StatusServiceUnavailable, "exited", "child exited"
	case phaseHeld:
		return h.heldVerdict(role)
	}
	passed := g != nil && g.startupPassed
	switch role {
	case RoleStartup:
		if passed {
			return http.StatusOK, "ok", ""
		}
		if g != nil && g.startupLate {
			return http.StatusServiceUnavailable, "failing", because("startup timed out", firstFailing(g, RoleStartup))
		}
		return http.StatusServiceUnavailable, "starting", because("startup not passed", firstFailing(g, RoleStartup))
	case RoleReady:
		if h.phase == phaseDraining {
			return http.StatusServiceUnavailable, "draining", "stopping: readiness off so traffic drains"
		}
		if !passed {
			return http.StatusServiceUnavailable, "starting", because("startup not passed", firstFailing(g, RoleStartup))
		}
		if why := firstFailing(g, RoleReady); why != "" {
			return http.StatusServiceUnavailable, "failing", why
		}
		return http.StatusOK, "ok", ""
	default:
		if h.phase == phaseDraining {
			return http.StatusOK, "draining", ""
		}
		if !passed {
			if g != nil && g.startupLate {
				return http.StatusServiceUnavailable, "failing", because("startup timed out", firstFailing(g, RoleStartup))
			}
			return http.StatusOK, "starting", ""
		}
		if why := firstFailing(g, RoleLive); why != "" {
			return http.StatusServiceUnavailable, "failing", why
		}
		return http.StatusOK, "ok", ""
	}
}

func because(what, why string) string {
	if why == "" {
		return what
	}
	return what + ": " + why
}

// firstFailing names the first check of role that is not passing.
func firstFailing(g *generation, role Role) string {
	if g == nil {
		return ""
	}
	for _, c := range g.checks {
		if c.def.role == role && !c.ok {
			if c.lastErr == "" {
				return fmt.Sprintf("check %s: not passed yet", c.def.spec.Raw)
			}
			return fmt.Sprintf("check %s: %s", c.def.spec.Raw, c.lastErr)
		}
	}
	return ""
}

func (h *Health) build(role Role, verbose bool) answer {
	code, status, reason := h.verdict(role)
	b := body{Status: status, Reason: reason, AppStatus: h.ns.status, Election: h.election}
	if h.phase == phaseIdle {
		b.Phase, b.Progress = h.pre.name, h.pre.progress
	}
	if g := h.gen; g != nil {
		for _, c := range g.checks {
			if c.def.role == role {
				b.Checks = append(b.Checks, checkJSON(c, verbose))
			}
		}
	}
	if verbose {
		b.PID, b.MainPID = h.pid, h.ns.mainPID
		if h.notify != nil {
			nb := &notifyBody{
				Socket: h.notify.addr, Ready: h.ns.ready, Stopping: h.ns.stopping,
				Reloading: h.ns.reloading, Accepted: h.accepted.Load(), Rejected: h.rejected.Load(),
			}
			if h.ns.interval > 0 {
				nb.Watchdog = h.ns.interval.String()
			}
			if !h.ns.lastBeat.IsZero() {
				nb.LastBeat = h.ns.lastBeat.UTC().Format(time.RFC3339Nano)
			}
			b.Notify = nb
		}
		if role == RoleStartup && h.gen != nil {
			sb := &startupBody{Passed: h.gen.startupPassed}
			if !h.gen.startupDue.IsZero() {
				sb.Deadline = h.gen.startupDue.UTC().Format(time.RFC3339Nano)
			}
			b.Startup = sb
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// URLs in check names read better with their & and > as they are.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		// Only strings, numbers and bools: cannot happen; answer anyway.
		return answer{code: http.StatusInternalServerError, body: []byte(`{"status":"failing","reason":"rendering failed"}` + "\n")}
	}
	return answer{code: code, body: buf.Bytes()}
}

func checkJSON(c *check, verbose bool) checkBody {
	cb := checkBody{Name: c.def.spec.Raw, OK: c.ok, Error: c.lastErr}
	if c.attempts > 0 {
		ms := float64(c.latency.Microseconds()) / 1000
		cb.LatencyMS = &ms
	}
	if verbose {
		cb.Role, cb.Attempts, cb.ConsecOK, cb.ConsecFail = c.def.role, c.attempts, c.consecOK, c.consecFail
		cb.Period, cb.Timeout = c.def.period.String(), c.def.timeout.String()
		cb.Failures, cb.Successes = c.def.failures, c.def.successes
		if !c.last.IsZero() {
			cb.Last = c.last.UTC().Format(time.RFC3339Nano)
		}
	}
	return cb
}

// CheckResult is the state of one check, for metrics.
type CheckResult struct {
	Role                 Role
	Name                 string
	Kind                 Kind
	OK                   bool
	LastError            string // of the last attempt; "" when it passed
	Latency              time.Duration
	Attempts             uint64
	ConsecutiveSuccesses int
	ConsecutiveFailures  int
	LastAttempt          time.Time
}

// Snapshot is the probe state at one moment, for metrics.
type Snapshot struct {
	ChildPID      int
	Started       bool // the child is running or draining
	Draining      bool
	StartupPassed bool
	Ready         bool // what /readyz answers
	Live          bool // what /livez answers
	Checks        []CheckResult
	// NotifyAccepted and NotifyRejected count sd_notify datagrams taken and
	// refused (sender outside the child's tree, too large, no credentials).
	NotifyAccepted uint64
	NotifyRejected uint64
	// AppStatus is the child's last STATUS= text.
	AppStatus string
}

// Snapshot returns the current state. It never waits on the app.
func (h *Health) Snapshot() Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Snapshot{
		ChildPID:       h.pid,
		Started:        h.phase == phaseRunning || h.phase == phaseDraining,
		Draining:       h.phase == phaseDraining,
		NotifyAccepted: h.accepted.Load(),
		NotifyRejected: h.rejected.Load(),
		AppStatus:      h.ns.status,
	}
	a := h.answersLocked()
	s.Ready = a.ready.code == http.StatusOK
	s.Live = a.live.code == http.StatusOK
	if g := h.gen; g != nil {
		s.StartupPassed = g.startupPassed
		for _, c := range g.checks {
			s.Checks = append(s.Checks, CheckResult{
				Role: c.def.role, Name: c.def.spec.Raw, Kind: c.def.spec.Kind, OK: c.ok,
				LastError: c.lastErr, Latency: c.latency, Attempts: c.attempts,
				ConsecutiveSuccesses: c.consecOK, ConsecutiveFailures: c.consecFail,
				LastAttempt: c.last,
			})
		}
	}
	return s
}
