package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pysup/pysup/internal/cgroup"
	"github.com/pysup/pysup/internal/config"
	"github.com/pysup/pysup/internal/discovery"
	"github.com/pysup/pysup/internal/logs"
	"github.com/pysup/pysup/internal/metrics"
	"github.com/pysup/pysup/internal/podinfo"
	"github.com/pysup/pysup/internal/probe"
	"github.com/pysup/pysup/internal/reaper"
	"github.com/pysup/pysup/internal/signals"
	"github.com/pysup/pysup/internal/supervisor"
	"github.com/pysup/pysup/internal/zmqlb"
)

// kubernetesDrain is the default drain delay in a pod: long enough for the
// endpoint removal to reach kube-proxy and the ingress controllers.
const kubernetesDrain = 5 * time.Second

// podinfoPoll is how often the Downward API files are checked: the kubelet
// updates them about once a minute.
const podinfoPoll = 5 * time.Second

// run wires the parts together and supervises the child; it returns
// pysup's exit status. sigs receives the signals pysup handles once caught
// returned (supervisor.NotifyBackground).
func run(cfg *config.Config, sigs chan os.Signal, caught func(), stderr io.Writer) int {
	log := newDiag(stderr, cfg.DiagLevel)

	if os.Getpid() != 1 {
		if err := reaper.BecomeSubreaper(); err != nil {
			log.Warn("orphans will not be reaped by pysup", "error", err.Error())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := reaper.New(true, log)
	go r.Run(ctx)

	ready, err := readyChecks(cfg)
	if err != nil {
		log.Error("preset readiness: " + err.Error())
		return exitUsage
	}
	health, err := probe.New(probe.Options{
		Startup: cfg.StartupCheck,
		Ready:   ready,
		Live:    cfg.LiveCheck,
		Defaults: probe.Defaults{
			Period: cfg.CheckPeriod, Timeout: cfg.CheckTimeout,
			Failures: cfg.CheckFailures, Successes: cfg.CheckSuccesses,
		},
		Watchdog:       cfg.Watchdog,
		StartupTimeout: cfg.StartupTimeout,
		NotifySocket:   cfg.NotifySocket,
		Runner:         r,
		Logger:         log,
	})
	if err != nil {
		log.Error("probes: " + err.Error())
		return exitUsage
	}
	defer health.Close()
	go func() { _ = health.Run(ctx) }()

	pod, err := podinfo.NewSource(os.Getenv, cfg.PodInfoDir)
	if err != nil {
		log.Warn("pod metadata", "error", err.Error())
	}
	// Only log records read the labels and annotations again, as the
	// kubelet updates them; metrics shipping takes the pod's names once,
	// below. Without log capture nothing polls, and nothing wakes pysup
	// every few seconds for it.
	if cfg.LogCapture {
		go pod.Run(ctx, podinfoPoll, func(err error) { log.Warn("pod metadata", "error", err.Error()) })
	}

	var childPID atomic.Int64
	exp, err := metrics.New(metrics.Options{
		Config:  cfg.Metrics,
		RootPID: func() int { return int(childPID.Load()) },
		Labels:  podLabels(pod.Pod()),
		Logger:  log,
		// No server, no push, no remote write: nobody reads them.
		Unserved: cfg.HTTPAddr == "",
	})
	if err != nil {
		log.Error("metrics: " + err.Error())
		return exitUsage
	}
	go func() { _ = exp.Run(ctx) }()
	supMetrics := exp.Supervisor()
	exp.Registerer().MustRegister(probe.Collector(health))

	stopBalancer, err := startBalancer(ctx, cfg, exp.Registerer(), log)
	if err != nil {
		log.Error("zmq balancer: " + err.Error())
		return exitUsage
	}

	stopHTTP, err := serveHTTP(cfg.HTTPAddr, func() http.Handler { return probe.NewHandler(health, exp.Handler()) }, log)
	if err != nil {
		log.Error("PYSUP_HTTP_ADDR (--http-addr): " + err.Error())
		return exitUsage
	}
	defer stopHTTP()

	opts, err := supervisorOptions(cfg, log)
	if err != nil {
		log.Error(err.Error())
		return exitUsage
	}
	ls, err := setupLeases(cfg, health, exp.Registerer(), log)
	if err != nil {
		log.Error(err.Error())
		return exitUsage
	}
	opts.Gate, opts.RevokeStopTimeout = ls.gate(), revokeStopTimeout(cfg)

	var pipeline *logs.Pipeline
	if cfg.LogCapture {
		pipeline, err = logs.New(logs.FromConfig(cfg.Logs, pod, os.Stdout, log))
		if err != nil {
			log.Error("logs: " + err.Error())
			return exitUsage
		}
		go func() { _ = pipeline.Run(ctx) }()
		exp.Registerer().MustRegister(logs.Collector(pipeline))
		opts.Stdout, opts.Stderr = pipeline.Stdout(), pipeline.Stderr()
	}
	limits, sizingEnv, webConcurrency := containerSizing(cfg.Sizing, os.LookupEnv, log)
	exp.Registerer().MustRegister(cgroup.Collector(limits, webConcurrency))
	for k, v := range opts.presetEnv {
		sizingEnv[k] = v
	}
	opts.Signals = sigs
	opts.Env = childEnv(os.Environ(), sizingEnv, envMap(health.ChildEnv()), opts.Identity)
	opts.Prestart = ls.wrapPrestart(prestartPhase(prestartRunner(cfg, opts.Options, r, pipeline, health, log)))
	opts.Events = supervisor.Events{
		Phase: func(p supervisor.Phase) {
			if p == supervisor.PhaseDraining {
				health.Draining()
			}
			ls.phase(p)
		},
		BeforeStart: exp.Prepare,
		Started: func(pid int) {
			childPID.Store(int64(pid))
			health.ChildStarted(pid)
			supMetrics.ChildStarted()
		},
		Exited: func(st reaper.Status, _ time.Duration) {
			childPID.Store(0)
			if !ls.childExited() {
				health.ChildExited()
			}
			supMetrics.ChildExited(st.ExitCode())
		},
		Restarting: func(int) { supMetrics.Restarted() },
		Drained:    supMetrics.DrainObserved,
		Stopped:    supMetrics.StopObserved,
	}
	// A Go PID 1 exits with status 2 on a standard signal nobody is
	// notified for, and the child's signals must reach it: they are caught
	// from here to the exit (the real-time ones from a moment later, see
	// supervisor.NotifyBackground).
	caught()
	code, _ := supervisor.New(opts.Options, r).Run(ctx)
	ls.release(log)
	stopBalancer()
	if pipeline != nil {
		flushLogs(pipeline, cfg.LogShutdownFlush, log)
	}
	shipFinalMetrics(exp, log)
	log.Info("pysup exiting", "exit_code", code)
	return code
}

// startBalancer binds the ZeroMQ frontend, before the child starts so its
// first connect succeeds, and follows the backends when PYSUP_ZMQ_BACKENDS
// is set. The returned stop is for after the child exited: the client app
// has drained by then, and nobody is left to take a reply.
func startBalancer(ctx context.Context, cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) (stop func(), err error) {
	if cfg.ZMQBackends == "" {
		return func() {}, nil
	}
	dopts := cfg.ZMQDiscovery()
	dopts.Registerer, dopts.Log, dopts.Kube = reg, log, cfg.KubeAPI()
	src, err := discovery.FromSpec(cfg.ZMQBackends, dopts)
	if err != nil {
		return nil, fmt.Errorf("PYSUP_ZMQ_BACKENDS (--zmq-backends): %w", err)
	}
	lb, err := zmqlb.New(cfg.ZMQOptions(), src, reg, log)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := lb.Run(ctx); err != nil {
			log.Error("zmq balancer stopped", "error", err.Error())
		}
	}()
	return func() {
		_ = lb.Close()
		<-done
	}, nil
}

// finalMetricsTimeout bounds the last push and remote write at exit.
const finalMetricsTimeout = 5 * time.Second

// shipFinalMetrics pushes the last values, so a CronJob's final counters
// arrive even though it ends before any scrape.
func shipFinalMetrics(exp *metrics.Exporter, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), finalMetricsTimeout)
	defer cancel()
	if err := exp.Final(ctx); err != nil {
		log.Error("final metrics not shipped", "error", err.Error())
	}
}

// podLabels are the pod's identity for metrics shipping.
func podLabels(p *podinfo.Pod) map[string]string {
	if p == nil {
		return nil
	}
	return map[string]string{"namespace": p.Namespace, "pod": p.Name, "container": p.Container}
}

// flushLogs drains the child's pipes and the sinks, and says what could not
// be delivered: nothing is lost silently.
func flushLogs(p *logs.Pipeline, timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := p.Shutdown(ctx)
	attrs := []any{"records", res.Records, "undelivered", res.Undelivered, "dropped", res.Dropped, "persisted", res.Persisted}
	switch {
	case err != nil:
		log.Error("logs not flushed", append(attrs, "error", err.Error())...)
	case res.Undelivered > 0 || res.Dropped > 0:
		log.Warn("logs flushed with losses", attrs...)
	default:
		log.Debug("logs flushed", attrs...)
	}
}

// readyChecks are the configured ready checks, or the preset's when none
// is set: gunicorn and uWSGI announce readiness over sd_notify themselves.
func readyChecks(cfg *config.Config) (probe.Specs, error) {
	if len(cfg.ReadyCheck) > 0 || cfg.Preset == "" {
		return cfg.ReadyCheck, nil
	}
	preset, _ := signals.LookupPreset(cfg.Preset)
	if preset.ReadyCheck == "" {
		return nil, nil
	}
	return probe.ParseSpecs(preset.ReadyCheck)
}

// supOptions are the supervisor's options and what the preset adds to the
// child's environment.
type supOptions struct {
	supervisor.Options
	presetEnv map[string]string
}

// supervisorOptions turns the configuration and preset into the
// supervisor's options.
func supervisorOptions(cfg *config.Config, log *slog.Logger) (supOptions, error) {
	var preset signals.Preset
	if cfg.Preset != "" {
		preset, _ = signals.LookupPreset(cfg.Preset) // validated by config
	}
	stopSig := cfg.StopSignal
	if stopSig == 0 {
		stopSig = preset.Stop
	}
	group := !preset.MasterOnly
	if cfg.SignalGroup != nil {
		group = *cfg.SignalGroup
	}
	drain := cfg.DrainDelay.Or(0)
	// A leader-elected singleton gets no traffic to drain, and its
	// successor waits for the release.
	if cfg.DrainDelay.Auto && os.Getenv("KUBERNETES_SERVICE_HOST") != "" && cfg.LeaderElection == "" {
		drain = kubernetesDrain
	}
	return supOptions{
		Options: supervisor.Options{
			Argv:        cfg.Command,
			Identity:    cfg.User,
			SignalGroup: group,
			StopSignal:  stopSig,
			Rewrite:     preset.Rewrite.Merge(cfg.SignalRewrite),
			DrainDelay:  drain,
			StopTimeout: cfg.StopTimeout,
			Restart: supervisor.Restart{
				Policy:   cfg.Restart,
				Delay:    cfg.RestartDelay,
				MaxDelay: cfg.RestartMax,
				Limit:    cfg.RestartLimit,
			},
			Log: log,
		},
		presetEnv: preset.Env,
	}, nil
}

// serveHTTP serves the handler it makes at addr until the returned stop is
// called; an empty addr serves nothing and makes no handler. Listening
// happens before the child starts, so a taken port fails at once.
func serveHTTP(addr string, handler func() http.Handler, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := probe.NewServer(addr, handler())
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "error", err.Error())
		}
	}()
	log.Debug("serving probes", "addr", l.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
