package main

import (
	"context"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pysup/pysup/internal/config"
	"github.com/pysup/pysup/internal/reaper"
	"github.com/pysup/pysup/internal/signals"
	"github.com/pysup/pysup/internal/supervisor"
)

// kubernetesDrain is the default drain delay in a pod: long enough for the
// endpoint removal to reach kube-proxy and the ingress controllers.
const kubernetesDrain = 5 * time.Second

// run wires the parts together and supervises the child; it returns
// pysup's exit status.
func run(cfg *config.Config, stderr io.Writer) int {
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
	if cfg.DrainDelay.Auto && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		drain = kubernetesDrain
	}

	var identity *supervisor.Identity
	if cfg.User != "" {
		id, err := supervisor.LookupUser(cfg.User)
		if err != nil {
			log.Error("PYSUP_USER (--user): " + err.Error())
			return exitUsage
		}
		identity = id
	}

	env := childEnv(os.Environ(), preset.Env, cfg.ExtraEnv, identity)

	sup := supervisor.New(supervisor.Options{
		Argv:        cfg.Command,
		Env:         env,
		Identity:    identity,
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
	}, r)
	code, _ := sup.Run(ctx)
	log.Info("pysup exiting", "exit_code", code)
	return code
}

// childEnv is pysup's environment plus what the preset and the parts add.
// A preset never overrides what the user set; the parts' own variables
// (NOTIFY_SOCKET...) always win. A dropped identity gets its HOME and USER,
// as gosu does.
func childEnv(base []string, preset, parts map[string]string, id *supervisor.Identity) []string {
	set := make(map[string]int, len(base))
	env := append([]string(nil), base...)
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = i
	}
	put := func(k, v string, override bool) {
		if i, ok := set[k]; ok {
			if override {
				env[i] = k + "=" + v
			}
			return
		}
		set[k] = len(env)
		env = append(env, k+"="+v)
	}
	for k, v := range preset {
		put(k, v, false)
	}
	if id != nil {
		if id.Home != "" {
			put("HOME", id.Home, true)
		}
		if id.Name != "" {
			put("USER", id.Name, true)
		}
	}
	for k, v := range parts {
		put(k, v, true)
	}
	return env
}
