package zmqlb

import "github.com/prometheus/client_golang/prometheus"

// metrics are the balancer's collectors. Per-endpoint series are deleted
// when the endpoint goes away, so pod churn does not grow /metrics forever.
type metrics struct {
	requests  *prometheus.CounterVec   // endpoint
	errors    *prometheus.CounterVec   // endpoint, reason
	latency   *prometheus.HistogramVec // endpoint
	inflight  *prometheus.GaugeVec     // endpoint
	up        *prometheus.GaugeVec     // endpoint: 1 connected and usable
	frontend  *prometheus.CounterVec   // reason: errors not tied to an endpoint
	conns     prometheus.Gauge
	endpoints prometheus.Gauge
	waiting   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "pysup", "zmq"
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "requests_total", Help: "Requests sent to a backend endpoint."}, []string{"endpoint"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "endpoint_errors_total", Help: "Failures of a backend endpoint by reason: connect, timeout, lost, send, recv, bad_reply, too_large."}, []string{"endpoint", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "request_duration_seconds", Help: "Time from sending a request to a backend endpoint to its reply.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"endpoint"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "inflight_requests", Help: "Requests sent to a backend endpoint and not yet answered."}, []string{"endpoint"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "endpoint_up", Help: "1 when the backend endpoint is connected and may receive new requests."}, []string{"endpoint"}),
		frontend: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "frontend_errors_total", Help: "Requests or connections of the app lost or refused by reason: handshake, too_large, bad_frame, recv, send, accept, conn_limit, reply_dropped, no_endpoint (no endpoint with room within the timeout), timeout, lost, retried, abandoned."}, []string{"reason"}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "frontend_connections", Help: "App connections to the frontend."}),
		endpoints: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "endpoints", Help: "Backend endpoints known, usable or not."}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "waiting_requests", Help: "Requests waiting for an endpoint with room."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.errors, m.latency, m.inflight, m.up, m.frontend, m.conns, m.endpoints, m.waiting} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// forget deletes an endpoint's series.
func (m *metrics) forget(addr string) {
	m.requests.DeleteLabelValues(addr)
	m.errors.DeletePartialMatch(prometheus.Labels{"endpoint": addr})
	m.latency.DeleteLabelValues(addr)
	m.inflight.DeleteLabelValues(addr)
	m.up.DeleteLabelValues(addr)
}
