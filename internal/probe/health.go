package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pysup/pysup/internal/reaper"
)

// Runner starts a command and returns its output and status. pysup's
// *reaper.Reaper is one; exec checks never use os/exec, whose Wait a
// reaping PID 1 would race.
type Runner interface {
	Output(ctx context.Context, argv, env []string, max int) ([]byte, reaper.Status, error)
}

// Options configures a Health.
type Options struct {
	Startup, Ready, Live Specs
	// Defaults apply to checks whose spec does not override them; zero
	// fields take KubeletDefaults.
	Defaults Defaults
	// Watchdog, when positive, is passed to the child as WATCHDOG_USEC and
	// makes liveness fail when WATCHDOG=1 heartbeats stop for that long. A
	// notify live check is added if Live has none.
	Watchdog time.Duration
	// StartupTimeout, when positive, fails liveness too when startup has not
	// passed this long after the child started, so a pod without a
	// startupProbe is restarted; EXTEND_TIMEOUT_USEC from the child
	// extends it.
	StartupTimeout time.Duration
	// NotifySocket is where the sd_notify socket is made; "" picks a
	// private path (or an abstract name). Only made when a notify check or
	// the watchdog needs it.
	NotifySocket string
	// Runner runs exec checks; required when there are any.
	Runner Runner
	// ExecEnv is the environment of exec checks; nil is pysup's own.
	ExecEnv []string
	Logger  *slog.Logger
}

type phase int

const (
	phaseIdle     phase = iota // no child yet
	phaseRunning               // child running
	phaseDraining              // stop under way: not ready, still live
	phaseExited                // child gone
	phaseHeld                  // pysup keeps the child back (standby, waiting): see hold
)

// Health is the probe state of the supervised child. Its methods are safe
// for concurrent use. Call Run, then drive it with ChildStarted, Draining
// and ChildExited.
type Health struct {
	log      *slog.Logger
	defs     []*checkDef
	watchdog time.Duration
	startTO  time.Duration
	notify   *notifyListener
	procDir  string

	mu     sync.Mutex
	runCtx context.Context // set by Run: parent of the check loops
	wg     sync.WaitGroup
	phase  phase
	// pre names what pysup does before the first start of the child (the
	// pre-start commands, waiting for a lease) and how far it got.
	pre     startPhase
	pid     int
	started time.Time
	gen     *generation
	ns      notifyState

	hold     hold          // in phaseHeld
	election *electionBody // nil: no leader election

	accepted atomic.Uint64 // notify datagrams taken
	rejected atomic.Uint64 // notify datagrams refused (sender, size, no credentials)

	cached atomic.Pointer[answers] // what a plain probe request gets
}

// generation is one run of the child: its check states and loops.
type generation struct {
	ctx           context.Context
	cancel        context.CancelFunc
	checks        []*check
	loopsStarted  bool
	startupPassed bool
	liveSince     time.Time // when live checks began: the watchdog's origin
	startupDue    time.Time // zero: no startup timeout
	startupTimer  *time.Timer
	startupLate   bool // startup timed out
}

// notifyState is what the child said over sd_notify during this run.
type notifyState struct {
	ready, stopping, reloading bool
	status                     string
	mainPID                    int
	lastBeat                   time.Time
	interval                   time.Duration // watchdog; 0 off
	triggered                  bool
}

// New builds a Health and, when a check needs it, opens the notify socket.
// Close (or the end of Run) removes the socket.
func New(opts Options) (*Health, error) {
	d := opts.Defaults
	if d.Period <= 0 {
		d.Period = KubeletDefaults.Period
	}
	if d.Timeout <= 0 {
		d.Timeout = KubeletDefaults.Timeout
	}
	if d.Failures <= 0 {
		d.Failures = KubeletDefaults.Failures
	}
	if d.Successes <= 0 {
		d.Successes = KubeletDefaults.Successes
	}
	h := &Health{
		log:      opts.Logger,
		watchdog: opts.Watchdog,
		startTO:  opts.StartupTimeout,
		procDir:  "/proc",
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	live := opts.Live
	if opts.Watchdog > 0 && !live.Has(KindNotify) {
		live = append(append(Specs(nil), live...), Spec{Raw: "notify", Kind: KindNotify})
	}
	client := newHTTPClient()
	var errs []error
	for _, set := range []struct {
		role  Role
		specs Specs
	}{{RoleStartup, opts.Startup}, {RoleReady, opts.Ready}, {RoleLive, live}} {
		for _, s := range set.specs {
			p, err := h.probeFor(set.role, s, client, opts)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s check %q: %w", set.role, s.Raw, err))
				continue
			}
			h.defs = append(h.defs, newCheckDef(set.role, s, d, p))
		}
	}
	if live.Has(KindNotify) && opts.Watchdog <= 0 {
		errs = append(errs, errors.New("a notify live check needs a watchdog interval (WATCHDOG_USEC)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Startup.Has(KindNotify) || opts.Ready.Has(KindNotify) || live.Has(KindNotify) {
		l, err := listenNotify(opts.NotifySocket)
		if err != nil {
			return nil, err
		}
		h.notify = l
	}
	h.render()
	return h, nil
}

func (h *Health) probeFor(role Role, s Spec, client *http.Client, opts Options) (probeFunc, error) {
	switch s.Kind {
	case KindTCP:
		return tcpProbe(s), nil
	case KindHTTP:
		return httpProbe(s, client), nil
	case KindZMQ:
		return zmqProbe(s), nil
	case KindExec:
		if opts.Runner == nil {
			return nil, errors.New("exec checks need a runner")
		}
		return execProbe(s, opts.Runner, opts.ExecEnv), nil
	case KindNotify:
		return h.notifyProbe(role), nil
	}
	return nil, fmt.Errorf("unknown kind %q", s.Kind)
}

// ChildEnv returns the variables to add to the child's environment:
// NOTIFY_SOCKET when pysup listens for sd_notify, WATCHDOG_USEC when a
// watchdog is configured. Nil when neither.
func (h *Health) ChildEnv() []string {
	if h.notify == nil {
		return nil
	}
	env := []string{"NOTIFY_SOCKET=" + h.notify.addr}
	if h.watchdog > 0 {
		env = append(env, "WATCHDOG_USEC="+strconv.FormatInt(h.watchdog.Microseconds(), 10))
	}
	return env
}

// Run serves the notify socket and hosts the check loops until ctx ends,
// then stops the loops and removes the socket. Call it once, before or
// right after ChildStarted.
func (h *Health) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.runCtx != nil {
		h.mu.Unlock()
		return errors.New("probe: Run called twice")
	}
	h.runCtx = ctx
	h.startLoopsLocked()
	h.render()
	h.mu.Unlock()

	if h.notify != nil {
		h.notify.serve(ctx, h.handleDatagram)
	} else {
		<-ctx.Done()
	}
	h.mu.Lock()
	if h.gen != nil {
		h.gen.cancel()
	}
	h.mu.Unlock()
	h.wg.Wait()
	h.Close()
	return nil
}

// Close removes the notify socket. Run does it when it ends; Close is for
// a Health whose Run never started.
func (h *Health) Close() {
	if h.notify != nil {
		h.notify.close()
	}
}

// startPhase is a named step before the child starts.
type startPhase struct {
	name, progress string
}

// StartPhase says what pysup does before the first start of the child
// (name, e.g. "prestart") and how far it got (progress, e.g. "2/3: python3
// manage.py collectstatic"): /startupz and /readyz report both with 503,
// /livez answers 200. It applies until ChildStarted; an empty name clears
// it.
func (h *Health) StartPhase(name, progress string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.phase != phaseIdle {
		return
	}
	h.pre = startPhase{name: name, progress: progress}
	h.render()
}

// ChildStarted says a child (pid) is running: startup begins, with fresh
// check states and notify state.
func (h *Health) ChildStarted(pid int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.endGenLocked()
	h.phase, h.pid, h.started = phaseRunning, pid, time.Now()
	h.pre = startPhase{}
	h.ns = notifyState{interval: h.watchdog}
	g := &generation{}
	for _, d := range h.defs {
		g.checks = append(g.checks, newCheck(d))
	}
	h.gen = g
	if h.startTO > 0 {
		g.startupDue = h.started.Add(h.startTO)
		g.startupTimer = time.AfterFunc(h.startTO, func() { h.startupExpired(g) })
	}
	h.startLoopsLocked()
	h.render()
}

// Draining says the stop sequence began: readiness fails at once, liveness
// stays passing, and checks stop probing the stopping app.
func (h *Health) Draining() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.phase != phaseRunning {
		return
	}
	h.phase = phaseDraining
	h.endGenLocked()
	h.render()
}

// ChildExited says the child is gone: every probe fails until the next
// ChildStarted.
func (h *Health) ChildExited() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.phase = phaseExited
	h.endGenLocked()
	h.render()
}

// endGenLocked stops the current run's loops; its results stay for display.
func (h *Health) endGenLocked() {
	if g := h.gen; g != nil && g.cancel != nil {
		g.cancel()
		if g.startupTimer != nil {
			g.startupTimer.Stop()
		}
	}
}

// startLoopsLocked starts the current run's startup and ready loops, and
// the live loops when startup needs nothing, once Run has provided a
// context.
func (h *Health) startLoopsLocked() {
	g := h.gen
	if g == nil || g.loopsStarted || h.runCtx == nil || h.phase != phaseRunning {
		return
	}
	g.loopsStarted = true
	g.ctx, g.cancel = context.WithCancel(h.runCtx)
	for _, c := range g.checks {
		if c.def.role != RoleLive {
			h.spawn(g, c)
		}
	}
	h.maybeStartupPassedLocked(g)
}

func (h *Health) spawn(g *generation, c *check) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.loop(g.ctx, c)
	}()
}

// maybeStartupPassedLocked latches startup once every startup check has
// passed, and starts the live checks with fresh counters, as the kubelet
// starts liveness probes only after its startupProbe succeeded.
func (h *Health) maybeStartupPassedLocked(g *generation) {
	if g.startupPassed {
		return
	}
	for _, c := range g.checks {
		if c.def.role == RoleStartup && !c.ok {
			return
		}
	}
	g.startupPassed, g.liveSince = true, time.Now()
	if g.startupTimer != nil {
		g.startupTimer.Stop()
	}
	for _, c := range g.checks {
		if c.def.role == RoleLive {
			h.spawn(g, c)
		}
	}
	h.log.Info("startup passed", "pid", h.pid, "after", time.Since(h.started).Round(time.Millisecond).String())
}

// record stores an attempt's result. It reports whether the loop is done:
// its run ended, or it is a startup check that passed.
func (h *Health) record(ctx context.Context, c *check, err error, latency time.Duration, at time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.gen
	if ctx.Err() != nil || g == nil || g.ctx != ctx {
		return true
	}
	if c.record(err, latency, at) {
		if c.ok {
			h.log.Info("check passing", "role", c.def.role, "check", c.def.spec.Raw)
		} else {
			h.log.Warn("check failing", "role", c.def.role, "check", c.def.spec.Raw, "error", c.lastErr)
		}
	}
	if c.def.role == RoleStartup && c.ok {
		h.maybeStartupPassedLocked(g)
		h.render()
		return true
	}
	h.render()
	return false
}

func (h *Health) startupExpired(g *generation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gen != g || g.startupPassed || h.phase != phaseRunning {
		return
	}
	// EXTEND_TIMEOUT_USEC may have moved the deadline after this timer was set.
	if wait := time.Until(g.startupDue); wait > 0 {
		g.startupTimer.Reset(wait)
		return
	}
	g.startupLate = true
	h.log.Warn("startup timed out", "pid", h.pid, "after", time.Since(h.started).Round(time.Millisecond).String())
	h.render()
}
