package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/pysup/pysup/internal/config"
	"github.com/pysup/pysup/internal/metrics/multiproc"
	"github.com/pysup/pysup/internal/metrics/push"
)

// Options are what New needs besides the settings.
type Options struct {
	Config config.Metrics
	// RootPID returns the child's pid, 0 while there is none; its process
	// tree is exported as process metrics. Nil exports none.
	RootPID func() int
	// Alive reports whether a pid still runs, for the multiprocess
	// directory's dead workers. Nil: /proc/PID exists (right when pysup
	// and the app share a pid namespace, as in a container).
	Alive func(pid int) bool
	// Labels are the pod's identity for shipping: "namespace", "pod" and
	// "container" (empty values are left out). They become the
	// Pushgateway grouping labels (with job) and remote write's external
	// labels.
	Labels map[string]string
	// Client makes every outgoing request (scrapes, pushes, writes);
	// nil: a client with its own transport.
	Client *http.Client
	// Logger receives shipping errors; nil discards them.
	Logger *slog.Logger
	// ProcDir is /proc unless a test says otherwise.
	ProcDir string
	// Unserved says Handler is never mounted (no HTTP server). With no
	// Pushgateway and no remote write either, nothing can read the
	// metrics, so New builds none: Registerer discards what the other
	// parts register and Supervisor returns nil, whose methods do nothing.
	// PROMETHEUS_MULTIPROC_DIR is still prepared and compacted, as the app
	// writes it either way.
	Unserved bool
}

// Exporter is the metrics part: it owns pysup's registry, serves the
// merged exposition and ships it. Create it with New.
type Exporter struct {
	cfg        config.Metrics
	log        *slog.Logger
	reg        *prometheus.Registry // nil when nothing reads the metrics
	registerer prometheus.Registerer
	supervisor *Supervisor
	scraper    *scraper
	multiproc  *multiproc.Reader
	pushgw     *push.Pushgateway
	rw         *push.RemoteWriter
	gatherErrs prometheus.Counter

	finalOnce sync.Once
	finalErr  error
}

// New builds the exporter from its settings. It starts nothing: main
// calls Prepare before starting the child, mounts Handler, runs Run and
// calls Final after the child exited.
func New(opts Options) (*Exporter, error) {
	cfg := opts.Config
	e := &Exporter{cfg: cfg, log: opts.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	procDir := opts.ProcDir
	if procDir == "" {
		procDir = "/proc"
	}
	alive := opts.Alive
	if alive == nil {
		alive = func(pid int) bool {
			_, err := os.Stat(procDir + "/" + strconv.Itoa(pid))
			return err == nil
		}
	}
	if opts.Unserved && cfg.PushgatewayURL == "" && cfg.RemoteWriteURL == "" {
		e.registerer = discard{}
		if cfg.MultiprocDir != "" {
			e.multiproc = multiproc.New(multiproc.Options{Dir: cfg.MultiprocDir, Alive: alive})
		}
		return e, nil
	}
	e.reg = prometheus.NewRegistry()
	e.registerer = e.reg
	client := opts.Client
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}

	// The constructors of package prometheus, not their wrappers in
	// prometheus/collectors: they are the same collectors, and importing
	// that package links database/sql and the collectors' regexps, whose
	// init runs at every start of pysup.
	pysup := prometheus.WrapRegistererWithPrefix("pysup_", e.reg)
	pysup.MustRegister(
		//nolint:staticcheck // SA1019: collectors.NewGoCollector calls exactly this.
		lazy(func() prometheus.Collector { return prometheus.NewGoCollector() }),
		lazy(func() prometheus.Collector {
			//nolint:staticcheck // SA1019: as collectors.NewProcessCollector does.
			return prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{})
		}),
	)
	e.gatherErrs = prometheus.NewCounter(prometheus.CounterOpts{Name: "pysup_metrics_gather_errors_total",
		Help: "Sources of /metrics that failed as a whole during a collection (own registry, multiprocess directory)."})
	e.reg.MustRegister(e.gatherErrs)
	e.supervisor = newSupervisor(e.reg)

	prefix := "pysup_app_process_"
	if cfg.MultiprocDir != "" {
		prefix = "process_"
		e.multiproc = multiproc.New(multiproc.Options{Dir: cfg.MultiprocDir, Alive: alive, Registerer: e.reg})
	}
	if opts.RootPID != nil {
		e.reg.MustRegister(newTreeCollector(procDir, prefix, opts.RootPID))
	}
	e.scraper = newScraper(cfg.MetricsScrape, client, cfg.MetricsScrapeTimeout, cfg.MetricsScrapeMaxSize, e.reg)

	labels := map[string]string{}
	for k, v := range opts.Labels {
		if v != "" && (k == "namespace" || k == "pod") {
			labels[k] = v
		}
	}
	job := cfg.PushJob
	if job == "" {
		job = opts.Labels["container"]
	}
	if job == "" {
		job = "pysup"
	}
	if cfg.PushgatewayURL != "" {
		pg, err := push.NewPushgateway(push.PushgatewayOptions{
			URL: cfg.PushgatewayURL, Job: job, Grouping: labels,
			Client: client, Gather: e.Gather, Registerer: e.reg,
		})
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		e.pushgw = pg
	}
	if cfg.RemoteWriteURL != "" {
		ext := map[string]string{"job": job}
		for k, v := range labels {
			ext[k] = v
		}
		e.rw = push.NewRemoteWriter(push.RemoteWriteOptions{
			URL: cfg.RemoteWriteURL, ExternalLabels: ext, BatchSize: cfg.RemoteWriteBatch,
			Timeout: cfg.RemoteWriteTimeout, Client: client, Gather: e.Gather, Registerer: e.reg,
		})
	}
	return e, nil
}

// Registerer is pysup's registry, for the other parts' collectors
// (probes, logs, zmq). Their names must start with pysup_.
func (e *Exporter) Registerer() prometheus.Registerer { return e.registerer }

// Supervisor returns the child lifecycle metrics the supervisor updates.
func (e *Exporter) Supervisor() *Supervisor { return e.supervisor }

// Prepare creates and wipes PROMETHEUS_MULTIPROC_DIR; call it before
// every start of the child. Without the setting it does nothing.
func (e *Exporter) Prepare() error {
	if e.cfg.MultiprocDir == "" {
		return nil
	}
	return multiproc.Prepare(e.cfg.MultiprocDir)
}

// Handler serves the merged exposition. A failing source never makes it
// answer an error: the rest is served and the failure counted.
func (e *Exporter) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		// Prometheus says how long it waits; answering in time with the
		// app's part missing beats answering too late with everything.
		if s := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); s != "" {
			if secs, err := strconv.ParseFloat(s, 64); err == nil && secs > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Duration(secs*0.9*float64(time.Second)))
				defer cancel()
			}
		}
		g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return e.Gather(ctx) })
		promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})
}

// Gather collects the merged exposition: pysup's own registry, the
// multiprocess directory, then the app's URLs (see the package doc for
// collisions). Its error is always nil; failures are counted.
func (e *Exporter) Gather(ctx context.Context) ([]*dto.MetricFamily, error) {
	if e.reg == nil {
		return nil, nil
	}
	var mp []*dto.MetricFamily
	if e.multiproc != nil {
		var err error
		if mp, err = e.multiproc.Gather(); err != nil {
			e.gatherErrs.Inc()
			e.log.Warn("reading the multiprocess directory", "err", err)
		}
	}
	scraped := e.scraper.scrapeAll(ctx)
	// Last, so that its scrape and multiprocess metrics describe this
	// very collection. Conflicts found below show in the next one.
	own, err := e.reg.Gather()
	if err != nil {
		// Partial families still come back; one bad collector of another
		// part must not hide the rest.
		e.gatherErrs.Inc()
		e.log.Warn("gathering pysup's registry", "err", err)
	}
	m := newMerger()
	m.add(own)
	if dropped := m.add(mp); dropped > 0 {
		e.log.Debug("multiprocess series collide with pysup's", "dropped", dropped)
	}
	for i, mfs := range scraped {
		if dropped := m.add(mfs); dropped > 0 {
			e.scraper.conflicts.WithLabelValues(e.scraper.urls[i]).Add(float64(dropped))
		}
	}
	return m.families(), nil
}

// Run compacts the multiprocess directory and pushes until ctx ends.
func (e *Exporter) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	every := func(d time.Duration, f func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					f(ctx)
				}
			}
		}()
	}
	if e.multiproc != nil && e.cfg.MultiprocCompact > 0 {
		every(e.cfg.MultiprocCompact, func(context.Context) {
			if _, err := e.multiproc.Compact(); err != nil {
				e.log.Warn("compacting the multiprocess directory", "err", err)
			}
		})
	}
	if e.pushgw != nil {
		every(e.cfg.PushInterval, func(ctx context.Context) {
			if err := e.pushgw.Push(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("pushing to the Pushgateway", "err", err)
			}
		})
	}
	if e.rw != nil {
		every(e.cfg.RemoteWriteInterval, func(ctx context.Context) {
			// Retries stop before the next round starts.
			wctx, cancel := context.WithTimeout(ctx, e.cfg.RemoteWriteInterval)
			defer cancel()
			if err := e.rw.Write(wctx); err != nil && ctx.Err() == nil {
				e.log.Warn("remote write", "err", err)
			}
		})
	}
	wg.Wait()
	return nil
}

// Final ships the last values once the child has exited, before pysup
// exits: a final push (or, with PYSUP_PUSH_DELETE_ON_EXIT, the deletion
// of the pod's group) and a last remote write, within ctx. Calls after
// the first return the first result.
func (e *Exporter) Final(ctx context.Context) error {
	e.finalOnce.Do(func() {
		var errs []error
		if e.pushgw != nil {
			if e.cfg.PushDeleteOnExit {
				errs = append(errs, e.pushgw.Delete(ctx))
			} else {
				errs = append(errs, e.pushgw.Push(ctx))
			}
		}
		if e.rw != nil {
			errs = append(errs, e.rw.Write(ctx))
		}
		e.finalErr = errors.Join(errs...)
	})
	return e.finalErr
}
