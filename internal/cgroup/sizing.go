package cgroup

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"
)

// CPUs is the number of cores the app can use: the CPU quota rounded up
// (a 1.5-core quota keeps two workers busy), capped by the cores the
// process may run on (its affinity mask, cpuset included).
func CPUs(l Limits, available int) int {
	n := max(available, 1)
	if l.CPU > 0 {
		n = min(n, int(math.Ceil(l.CPU-1e-9)))
	}
	return max(n, 1)
}

// WebConcurrency is gunicorn's recommended worker count, 2 × CPUs + 1,
// capped so that workers of workerMemory bytes each fit the memory limit,
// and at least 1; 0 (none) without a CPU quota. The node's core count says
// nothing about the pod's share of it: 2 × 96 + 1 workers on a big node
// with no limit would swamp the pod, so without a quota the worker count
// stays the app's (gunicorn's default is 1).
func WebConcurrency(l Limits, available int, workerMemory int64) int {
	if l.CPU <= 0 {
		return 0
	}
	w := 2*CPUs(l, available) + 1
	if l.Memory > 0 && workerMemory > 0 {
		w = min(w, int(l.Memory/workerMemory))
	}
	return max(w, 1)
}

// Collector exports the limits and the worker count pysup exported (0:
// none) as gauges.
func Collector(l Limits, webConcurrency int) prometheus.Collector {
	return &collector{l: l, wc: webConcurrency}
}

type collector struct {
	l  Limits
	wc int
}

var (
	descCPU = prometheus.NewDesc("pysup_container_cpu_limit_cores",
		"CPU bandwidth quota of pysup's cgroup in cores (quota / period); 0: no quota.", nil, nil)
	descMemory = prometheus.NewDesc("pysup_container_memory_limit_bytes",
		"Memory limit of pysup's cgroup in bytes; 0: no limit.", nil, nil)
	descWC = prometheus.NewDesc("pysup_web_concurrency",
		"WEB_CONCURRENCY given to the child (worker count for gunicorn and uvicorn); 0: not set by pysup.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descCPU
	ch <- descMemory
	ch <- descWC
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descCPU, prometheus.GaugeValue, c.l.CPU)
	ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, float64(c.l.Memory))
	ch <- prometheus.MustNewConstMetric(descWC, prometheus.GaugeValue, float64(c.wc))
}
