package logs

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the pipeline's counters as pysup_log_* metrics, read
// from Stats at scrape time.
func Collector(p *Pipeline) prometheus.Collector { return &collector{p: p} }

type collector struct{ p *Pipeline }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descBytesIn     = desc("pysup_log_bytes_total", "Bytes read from the child's stdout and stderr.")
	descRecordsIn   = desc("pysup_log_records_total", "Records made from the child's output.")
	descRecordsOut  = desc("pysup_log_records_written_total", "Records written to pysup's stdout.")
	descPartial     = desc("pysup_log_partial_records_total", "Records that are pieces of lines longer than PYSUP_LOG_MAX_LINE.")
	descOutErrors   = desc("pysup_log_write_errors_total", "Failed writes to pysup's stdout.")
	descFluentSent  = desc("pysup_fluent_records_sent_total", "Records acknowledged by the Fluent receiver.")
	descFluentErr   = desc("pysup_fluent_send_errors_total", "Failed attempts to send a batch to the Fluent receiver (each is retried).")
	descFluentDrop  = desc("pysup_fluent_records_dropped_total", "Records lost to the Fluent buffer and spool bounds.")
	descFluentSpool = desc("pysup_fluent_records_spooled_total", "Records written to the disk spool while the receiver was slow or down.")
	descFluentWait  = desc("pysup_fluent_records_waiting", "Records waiting for the Fluent receiver.", "where")
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBytesIn, descRecordsIn, descRecordsOut, descPartial, descOutErrors,
		descFluentSent, descFluentErr, descFluentDrop, descFluentSpool, descFluentWait} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.Stats()
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(descBytesIn, s.BytesIn)
	counter(descRecordsIn, s.RecordsIn)
	counter(descRecordsOut, s.RecordsOut)
	counter(descPartial, s.Partial)
	counter(descOutErrors, s.OutErrors)
	counter(descFluentSent, s.FluentSent)
	counter(descFluentErr, s.FluentSendErrors)
	counter(descFluentDrop, s.FluentDropped)
	counter(descFluentSpool, s.FluentSpooled)
	ch <- prometheus.MustNewConstMetric(descFluentWait, prometheus.GaugeValue, float64(s.FluentBuffered), "memory")
	ch <- prometheus.MustNewConstMetric(descFluentWait, prometheus.GaugeValue, float64(s.FluentOnDisk), "disk")
}
