package multiproc

import "github.com/prometheus/client_golang/prometheus"

// stats are the reader's own metrics, under pysup_multiproc_.
type stats struct {
	files          prometheus.Gauge
	invalidEntries prometheus.Counter
	tornFiles      prometheus.Counter
	badFiles       prometheus.Counter
	removedLive    prometheus.Counter
	cacheHits      prometheus.Counter
	cacheMisses    prometheus.Counter
	compactions    prometheus.Counter
	compacted      prometheus.Counter
	compactErrors  prometheus.Counter
	duration       prometheus.Histogram
}

func newStats(reg prometheus.Registerer) *stats {
	const ns, sub = "pysup", "multiproc"
	s := &stats{
		files: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "files",
			Help: "prometheus_client .db files read by the last collection."}),
		invalidEntries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "invalid_entries_total",
			Help: "Entries of .db files skipped because their key is malformed or does not fit the metric type."}),
		tornFiles: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "torn_reads_total",
			Help: "Reads of .db files that ended early or held a malformed entry; the readable prefix was used."}),
		badFiles: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "unreadable_files_total",
			Help: "Reads of .db files skipped as a whole (bad header, too large, I/O error)."}),
		removedLive: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "removed_live_files_total",
			Help: "Live-gauge files of dead workers removed (what mark_process_dead does)."}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "cache_hits_total",
			Help: "File reads whose entry layout came from the cache."}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "cache_misses_total",
			Help: "File reads that walked the file and parsed its keys."}),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "compactions_total",
			Help: "Compactions that merged dead workers' files."}),
		compacted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "compacted_files_total",
			Help: "Dead workers' files merged into a compacted file and removed."}),
		compactErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "compaction_errors_total",
			Help: "Compactions that failed; the directory is left as it was."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "collect_duration_seconds",
			Help:    "Time to read and aggregate the multiprocess directory.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}),
	}
	if reg != nil {
		reg.MustRegister(s.files, s.invalidEntries, s.tornFiles, s.badFiles, s.removedLive,
			s.cacheHits, s.cacheMisses, s.compactions, s.compacted, s.compactErrors, s.duration)
	}
	return s
}
