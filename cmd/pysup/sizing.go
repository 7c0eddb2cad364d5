package main

import (
	"log/slog"
	"runtime"
	"strconv"

	"github.com/pysup/pysup/internal/cgroup"
	"github.com/pysup/pysup/internal/config"
)

// containerSizing reads the container's limits and returns them with the
// variables they add to the child's environment (never overriding one set
// already): PYSUP_CPU_LIMIT (cores) and PYSUP_MEMORY_LIMIT (bytes) when
// set, and WEB_CONCURRENCY per PYSUP_WEB_CONCURRENCY. webConcurrency is
// what the child gets from pysup, 0 when pysup sets none.
//
// pysup's own GOMAXPROCS needs nothing: the Go runtime (1.25 and later)
// already follows the cgroup CPU quota, v1 and v2.
func containerSizing(cfg config.Sizing, lookup func(string) (string, bool), log *slog.Logger) (l cgroup.Limits, env map[string]string, webConcurrency int) {
	l, err := cgroup.Read("/", 0)
	if err != nil {
		log.Warn("container limits not fully read", "error", err.Error())
	}
	env = map[string]string{}
	if l.CPU > 0 {
		env["PYSUP_CPU_LIMIT"] = strconv.FormatFloat(l.CPU, 'f', -1, 64)
	}
	if l.Memory > 0 {
		env["PYSUP_MEMORY_LIMIT"] = strconv.FormatInt(l.Memory, 10)
	}
	switch {
	case cfg.WebConcurrency.Auto:
		webConcurrency = cgroup.WebConcurrency(l, runtime.NumCPU(), int64(cfg.WorkerMemory))
	case cfg.WebConcurrency.N > 0:
		webConcurrency = cfg.WebConcurrency.N
	}
	if v, set := lookup("WEB_CONCURRENCY"); set {
		log.Debug("WEB_CONCURRENCY set already: kept", "web_concurrency", v)
		webConcurrency, _ = strconv.Atoi(v)
	} else if webConcurrency > 0 {
		env["WEB_CONCURRENCY"] = strconv.Itoa(webConcurrency)
	}
	log.Info("container limits", "cpu_limit_cores", l.CPU, "memory_limit_bytes", l.Memory,
		"cores_available", runtime.NumCPU(), "web_concurrency", webConcurrency, "cgroup_cpu", l.CPUVersion, "cgroup_memory", l.MemoryVersion)
	return l, env, webConcurrency
}
