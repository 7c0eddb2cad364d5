package lease

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pysup/pysup/internal/kubeapi"
)

// Metrics are the Lease parts' metrics; make them once per registry and
// share them between the Elector and Once. A nil *Metrics counts nothing.
type Metrics struct {
	leader      *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	errors      *prometheus.CounterVec
}

// NewMetrics registers the metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pysup_leader", Help: "1 while this pod holds the leader election Lease, else 0.",
		}, []string{"lease"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pysup_leader_transitions_total", Help: "Times this pod became leader (to=leader) or stopped being it (to=standby).",
		}, []string{"lease", "to"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pysup_lease_errors_total", Help: "Failed Lease requests by reason (conflict: another replica wrote first).",
		}, []string{"lease", "reason"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.leader, m.transitions, m.errors} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *Metrics) count(lease string, err error) {
	if m != nil {
		m.errors.WithLabelValues(lease, kubeapi.Reason(err)).Inc()
	}
}

func (m *Metrics) leading(lease string, on bool) {
	if m == nil {
		return
	}
	v, to := 0.0, "standby"
	if on {
		v, to = 1, "leader"
	}
	m.leader.WithLabelValues(lease).Set(v)
	m.transitions.WithLabelValues(lease, to).Inc()
}

// standby initialises the gauge to 0 so a standby pod shows it.
func (m *Metrics) standby(lease string) {
	if m != nil {
		m.leader.WithLabelValues(lease).Set(0)
	}
}
