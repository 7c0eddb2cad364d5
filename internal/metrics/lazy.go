package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// lazyCollector builds its collector on the first collection. The Go
// collector reads every runtime/metrics description when it is made and
// described, a cost of milliseconds on each start of every pysup, scraped or
// not. As an unchecked collector (Describe sends nothing) it is still
// collected, and a name clash would still fail that gather.
type lazyCollector struct {
	once sync.Once
	make func() prometheus.Collector
	c    prometheus.Collector
}

func lazy(make func() prometheus.Collector) *lazyCollector { return &lazyCollector{make: make} }

// Describe sends nothing: the collector is unchecked.
func (l *lazyCollector) Describe(chan<- *prometheus.Desc) {}

// Collect builds the collector once, then collects it.
func (l *lazyCollector) Collect(ch chan<- prometheus.Metric) {
	l.once.Do(func() { l.c = l.make() })
	l.c.Collect(ch)
}
