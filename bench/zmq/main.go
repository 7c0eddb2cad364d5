// Command zmq runs pysup's ZeroMQ balancer alone for the benchmark, until
// SIGTERM or SIGINT, then prints one JSON line with the requests it
// forwarded and the CPU time it spent (getrusage of this process).
//
//	go run ./bench/zmq -frontend tcp://127.0.0.1:5555 -backends tcp://127.0.0.1:6001,tcp://127.0.0.1:6002
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pysup/pysup/internal/discovery"
	"github.com/pysup/pysup/internal/zmqlb"
)

func main() {
	frontend := flag.String("frontend", "tcp://127.0.0.1:5555", "frontend endpoint")
	backends := flag.String("backends", "", "PYSUP_ZMQ_BACKENDS spec")
	inflight := flag.Int("max-inflight", 64, "per-endpoint in-flight cap")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*frontend, *backends, *inflight); err != nil {
		fmt.Fprintln(os.Stderr, "bench/zmq:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(frontend, backends string, inflight int) error {
	src, err := discovery.FromSpec(backends, discovery.Options{})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	lb, err := zmqlb.New(zmqlb.Options{Frontend: frontend, MaxInflight: inflight}, src, reg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fmt.Println("READY", lb.Endpoint())
	start := time.Now()
	if err := lb.Run(ctx); err != nil {
		return err
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	requests := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "pysup_zmq_requests_total" {
			for _, m := range mf.GetMetric() {
				requests += m.GetCounter().GetValue()
			}
		}
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	out := map[string]any{
		"requests":       requests,
		"cpu_seconds":    cpu.Seconds(),
		"user_seconds":   time.Duration(ru.Utime.Nano()).Seconds(),
		"sys_seconds":    time.Duration(ru.Stime.Nano()).Seconds(),
		"wall_seconds":   time.Since(start).Seconds(),
		"cpu_us_per_req": 0.0,
		"max_rss_kib":    ru.Maxrss,
	}
	if requests > 0 {
		out["cpu_us_per_req"] = float64(cpu.Microseconds()) / requests
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
