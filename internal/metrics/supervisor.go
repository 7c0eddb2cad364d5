package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Supervisor records the child's lifecycle; the supervisor calls its
// methods as things happen. Its methods are safe for concurrent use, and do
// nothing on a nil *Supervisor (the Exporter's when nothing reads metrics).
type Supervisor struct {
	up        prometheus.Gauge
	startTime prometheus.Gauge
	starts    prometheus.Counter
	restarts  prometheus.Counter
	exits     prometheus.Counter
	exitCode  prometheus.Gauge
	drain     prometheus.Gauge
	stop      prometheus.Gauge
}

func newSupervisor(reg prometheus.Registerer) *Supervisor {
	s := &Supervisor{
		up: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pysup_child_up",
			Help: "1 while the child process runs, else 0."}),
		startTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pysup_child_start_time_seconds",
			Help: "Unix time the child was last started."}),
		starts: prometheus.NewCounter(prometheus.CounterOpts{Name: "pysup_child_starts_total",
			Help: "Times the child was started, the first time included."}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{Name: "pysup_child_restarts_total",
			Help: "Times the child was restarted in place (PYSUP_RESTART)."}),
		exits: prometheus.NewCounter(prometheus.CounterOpts{Name: "pysup_child_exits_total",
			Help: "Times the child exited."}),
		exitCode: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pysup_child_last_exit_code",
			Help: "Exit status of the child's last exit: its code, or 128+N when it died of signal N."}),
		drain: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pysup_drain_duration_seconds",
			Help: "Length of the last drain: from readiness failing to the stop signal."}),
		stop: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pysup_stop_duration_seconds",
			Help: "Length of the last stop: from the stop signal to the child's exit."}),
	}
	reg.MustRegister(s.up, s.startTime, s.starts, s.restarts, s.exits, s.exitCode, s.drain, s.stop)
	return s
}

// ChildStarted records a start of the child.
func (s *Supervisor) ChildStarted() {
	if s == nil {
		return
	}
	s.up.Set(1)
	s.starts.Inc()
	s.startTime.Set(float64(time.Now().UnixNano()) / 1e9)
}

// ChildExited records the child's exit with its status (128+N for signal N).
func (s *Supervisor) ChildExited(code int) {
	if s == nil {
		return
	}
	s.up.Set(0)
	s.exits.Inc()
	s.exitCode.Set(float64(code))
}

// Restarted records an in-place restart (before the new ChildStarted).
func (s *Supervisor) Restarted() {
	if s != nil {
		s.restarts.Inc()
	}
}

// DrainObserved records how long the last drain lasted.
func (s *Supervisor) DrainObserved(d time.Duration) {
	if s != nil {
		s.drain.Set(d.Seconds())
	}
}

// StopObserved records how long the last stop lasted.
func (s *Supervisor) StopObserved(d time.Duration) {
	if s != nil {
		s.stop.Set(d.Seconds())
	}
}
