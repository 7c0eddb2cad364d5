package probe

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the probe state as pysup_probe_* and pysup_check_*
// metrics, read from Snapshot at scrape time so a scrape never waits on a
// check.
func Collector(h *Health) prometheus.Collector { return &collector{h: h} }

type collector struct{ h *Health }

var (
	descProbe = prometheus.NewDesc("pysup_probe_healthy",
		"1 when the endpoint answers 200: live, ready or startup.", []string{"probe"}, nil)
	descDraining = prometheus.NewDesc("pysup_draining",
		"1 from the moment a stop was asked for: readiness is off.", nil, nil)
	descCheckUp = prometheus.NewDesc("pysup_check_up",
		"1 when the check passes its thresholds.", []string{"role", "kind", "check"}, nil)
	descCheckLatency = prometheus.NewDesc("pysup_check_latency_seconds",
		"Duration of the check's last attempt.", []string{"role", "kind", "check"}, nil)
	descCheckAttempts = prometheus.NewDesc("pysup_check_attempts_total",
		"Attempts of the check.", []string{"role", "kind", "check"}, nil)
	descNotify = prometheus.NewDesc("pysup_notify_datagrams_total",
		"sd_notify datagrams, by whether they were accepted (rejected: sender outside the child's tree, too large, no credentials).",
		[]string{"result"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descProbe, descDraining, descCheckUp, descCheckLatency, descCheckAttempts, descNotify} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Snapshot()
	gauge := func(d *prometheus.Desc, ok bool, labels ...string) {
		v := 0.0
		if ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descProbe, s.Live, "live")
	gauge(descProbe, s.Ready, "ready")
	gauge(descProbe, s.StartupPassed, "startup")
	gauge(descDraining, s.Draining)
	for _, r := range s.Checks {
		labels := []string{string(r.Role), string(r.Kind), r.Name}
		gauge(descCheckUp, r.OK, labels...)
		ch <- prometheus.MustNewConstMetric(descCheckLatency, prometheus.GaugeValue, r.Latency.Seconds(), labels...)
		ch <- prometheus.MustNewConstMetric(descCheckAttempts, prometheus.CounterValue, float64(r.Attempts), labels...)
	}
	ch <- prometheus.MustNewConstMetric(descNotify, prometheus.CounterValue, float64(s.NotifyAccepted), "accepted")
	ch <- prometheus.MustNewConstMetric(descNotify, prometheus.CounterValue, float64(s.NotifyRejected), "rejected")
}
