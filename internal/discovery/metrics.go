package discovery

import "github.com/prometheus/client_golang/prometheus"

// metrics count what the sources see; errors by source kind and reason.
type metrics struct {
	errors  *prometheus.CounterVec // source, reason
	updates *prometheus.CounterVec // source
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pysup", Subsystem: "discovery",
			Name: "errors_total", Help: "Failures of endpoint discovery by source (dns, k8s) and reason."}, []string{"source", "reason"}),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "pysup", Subsystem: "discovery",
			Name: "updates_total", Help: "Endpoint sets delivered by source (dns, k8s)."}, []string{"source"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.errors, m.updates} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
