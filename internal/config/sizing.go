package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Sizing holds the settings of worker sizing from the container's limits.
type Sizing struct {
	WebConcurrency WebConcurrency `env:"PYSUP_WEB_CONCURRENCY" envDefault:"auto" help:"WEB_CONCURRENCY given to the child (gunicorn and uvicorn read it) unless already set: auto (under a cgroup CPU quota: 2 x CPUs + 1, CPUs being the quota rounded up; capped at memory limit / PYSUP_WORKER_MEMORY; at least 1; without a quota none), off, or a number"`
	WorkerMemory   ByteSize       `env:"PYSUP_WORKER_MEMORY" envDefault:"128MiB" help:"memory one worker is expected to use, for PYSUP_WEB_CONCURRENCY=auto under a memory limit (0: no memory cap)"`
}

// WebConcurrency is auto, off or a fixed worker count.
type WebConcurrency struct {
	Auto bool
	N    int // 0 with Auto false: off
}

// UnmarshalText reads auto, off or a positive number.
func (w *WebConcurrency) UnmarshalText(b []byte) error {
	switch s := strings.TrimSpace(string(b)); s {
	case "auto":
		*w = WebConcurrency{Auto: true}
	case "off":
		*w = WebConcurrency{}
	default:
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return errInvalid("want auto, off or a number of workers (at least 1), got %q", s)
		}
		*w = WebConcurrency{N: n}
	}
	return nil
}

func (s Sizing) validate(_ map[string]string, field func(string) string) []string {
	if s.WorkerMemory < 0 {
		return []string{fmt.Sprintf("%s: must not be negative", field("WorkerMemory"))}
	}
	return nil
}
