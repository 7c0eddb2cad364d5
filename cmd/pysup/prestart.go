package main

import (
	"context"
	"log/slog"
	"strings"
	"syscall"

	"github.com/pysup/pysup/internal/config"
	"github.com/pysup/pysup/internal/lease"
	"github.com/pysup/pysup/internal/logs"
	"github.com/pysup/pysup/internal/prestart"
	"github.com/pysup/pysup/internal/probe"
	"github.com/pysup/pysup/internal/reaper"
	"github.com/pysup/pysup/internal/supervisor"
)

// prestartRunner runs PYSUP_PRESTART with the child's environment and
// user, reporting its progress on /startupz and tagging its output's
// records with the phase. Nil when no command is set.
func prestartRunner(cfg *config.Config, opts supervisor.Options, r *reaper.Reaper, pipeline *logs.Pipeline, health *probe.Health, log *slog.Logger) *prestart.Runner {
	if len(cfg.PrestartCommands) == 0 {
		return nil
	}
	// The sd_notify socket and watchdog are the child's: a pre-start
	// command's READY=1 must not make the pod ready.
	notify := envMap(health.ChildEnv())
	env := make([]string, 0, len(opts.Env))
	for _, kv := range opts.Env {
		if k, _, _ := strings.Cut(kv, "="); notify[k] == "" {
			env = append(env, kv)
		}
	}
	runner := &prestart.Runner{
		Commands:    cfg.PrestartCommands,
		Env:         env,
		Identity:    opts.Identity,
		Timeout:     cfg.PrestartTimeout,
		StopSignal:  syscall.Signal(cfg.StopSignal),
		StopTimeout: cfg.StopTimeout,
		Starter:     r,
		LookPath:    supervisor.LookPath,
		Progress:    func(p prestart.Progress) { health.StartPhase("prestart", p.String()) },
		Log:         log,
	}
	if cfg.PrestartOnceKey != "" {
		// The once-key Lease lost: a waiting replica may start the same
		// commands LeaseDuration-RenewDeadline after the last renewal.
		runner.Urgent, runner.UrgentStopTimeout = lease.Lost, revokeStopTimeout(cfg)
	}
	if pipeline != nil {
		runner.Streams = func(p prestart.Progress) (prestart.Streams, error) {
			s, err := pipeline.NewStreams(logs.String("phase", "prestart"), logs.Int("prestart_step", p.Step),
				logs.String("prestart_command", p.Name))
			if err != nil {
				return nil, err
			}
			return s, nil
		}
	}
	return runner
}

// prestartPhase is the function the supervisor runs before the child:
// the runner's Run, or nil.
func prestartPhase(runner *prestart.Runner) func(context.Context) error {
	if runner == nil {
		return nil
	}
	return runner.Run
}
