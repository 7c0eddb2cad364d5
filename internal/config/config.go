// Package config holds pysup's one Config struct: every setting is an
// environment variable PYSUP_* (parsed by caarlos0/env) and a flag derived
// from the same struct tags; a flag wins over the environment.
//
// Settings of one part live in a struct of their own in a file named for the
// part (probe.go, logs.go, ...), embedded in Config, so the parts' owners
// never edit the same lines.
package config

import (
	"time"

	"github.com/pysup/pysup/internal/identity"
	"github.com/pysup/pysup/internal/signals"
)

// Config is everything pysup can be told.
type Config struct {
	Supervisor
	Probe
	Logs
	Metrics
	ZMQ
	Prestart
	Sizing
	Lease

	// Command is the child's argv, from after "--".
	Command []string `env:"-"`
}

// Supervisor holds the settings of the child's lifecycle.
type Supervisor struct {
	Preset        string             `env:"PYSUP_PRESET" help:"stop preset of the server being run: gunicorn, uwsgi, celery, uvicorn or python"`
	StopSignal    signals.Signal     `env:"PYSUP_STOP_SIGNAL" help:"signal asking the child to stop (TERM, SIGTERM or 15); default: the preset's, else the signal pysup received, rewritten"`
	StopTimeout   time.Duration      `env:"PYSUP_STOP_TIMEOUT" envDefault:"20s" help:"how long the child and its descendants get after the stop signal before SIGKILL"`
	DrainDelay    AutoDuration       `env:"PYSUP_DRAIN_DELAY" envDefault:"auto" help:"how long the app keeps serving after readiness fails, before the stop signal; auto: 5s in Kubernetes (0 under PYSUP_LEADER_ELECTION), 0 elsewhere"`
	SignalRewrite signals.Rewrite    `env:"PYSUP_SIGNAL_REWRITE" help:"rewrite forwarded signals, e.g. TERM:QUIT,HUP:0 (0 drops); on top of the preset's"`
	SignalGroup   *bool              `env:"PYSUP_SIGNAL_GROUP" help:"send signals to the child's whole process group, not only the child; default: true, false under the gunicorn, uwsgi, celery and uvicorn presets, whose master stops its workers"`
	Restart       RestartPolicy      `env:"PYSUP_RESTART" envDefault:"never" help:"restart the child in place: never, on-failure or always (Kubernetes restarts containers itself)"`
	RestartDelay  time.Duration      `env:"PYSUP_RESTART_DELAY" envDefault:"1s" help:"first restart backoff; doubles on each restart"`
	RestartMax    time.Duration      `env:"PYSUP_RESTART_DELAY_MAX" envDefault:"30s" help:"cap of the restart backoff; a child that ran this long resets it"`
	RestartLimit  int                `env:"PYSUP_RESTART_LIMIT" envDefault:"0" help:"give up after this many restarts (0: no limit)"`
	User          *identity.Identity `env:"PYSUP_USER" help:"run the child as name, uid or uid:gid (supplementary groups set); pysup keeps its own privileges"`
	HTTPAddr      string             `env:"PYSUP_HTTP_ADDR" envDefault:":9180" help:"listen address of the probe and metrics server; off (or set empty) disables it"`
	DiagLevel     string             `env:"PYSUP_DIAG_LEVEL" envDefault:"info" help:"level of pysup's own diagnostics on stderr: debug, info, warn or error"`
	ExtraEnv      map[string]string  `env:"-"`
}

// RestartPolicy says when the child is restarted in place.
type RestartPolicy string

// The restart policies.
const (
	RestartNever     RestartPolicy = "never"
	RestartOnFailure RestartPolicy = "on-failure"
	RestartAlways    RestartPolicy = "always"
)

// UnmarshalText accepts the three policies.
func (p *RestartPolicy) UnmarshalText(b []byte) error {
	switch v := RestartPolicy(b); v {
	case RestartNever, RestartOnFailure, RestartAlways:
		*p = v
		return nil
	}
	return errInvalid("want never, on-failure or always, got %q", string(b))
}
