package config

import (
	"fmt"
	"time"

	"github.com/pysup/pysup/internal/probe"
)

// Probe holds the settings of the probe part.
type Probe struct {
	StartupCheck   probe.Specs   `env:"PYSUP_STARTUP_CHECK" help:"checks that must all pass once before the child counts as started (/startupz); comma-separated: tcp://HOST:PORT, http://HOST:PORT/PATH, zmq://HOST:PORT?send=ping, exec:ARGV, notify"`
	ReadyCheck     probe.Specs   `env:"PYSUP_READY_CHECK" help:"checks that must all pass for /readyz; same forms as PYSUP_STARTUP_CHECK; URL forms and notify take ?period=&timeout=&failures=&successes="`
	LiveCheck      probe.Specs   `env:"PYSUP_LIVE_CHECK" help:"checks that must all pass for /livez once started; same forms as PYSUP_STARTUP_CHECK"`
	CheckPeriod    time.Duration `env:"PYSUP_CHECK_PERIOD" envDefault:"10s" help:"how often each check runs, unless its spec says period="`
	CheckTimeout   time.Duration `env:"PYSUP_CHECK_TIMEOUT" envDefault:"1s" help:"how long one check attempt may take, unless its spec says timeout="`
	CheckFailures  int           `env:"PYSUP_CHECK_FAILURES" envDefault:"3" help:"consecutive failed attempts that make a passing check fail, unless its spec says failures= (notify checks: 1)"`
	CheckSuccesses int           `env:"PYSUP_CHECK_SUCCESSES" envDefault:"1" help:"consecutive passed attempts that make a failing check pass, unless its spec says successes="`
	Watchdog       time.Duration `env:"PYSUP_WATCHDOG" envDefault:"0s" help:"sd_notify watchdog: passed to the child as WATCHDOG_USEC; liveness fails when WATCHDOG=1 heartbeats stop for this long (0: off)"`
	StartupTimeout time.Duration `env:"PYSUP_STARTUP_TIMEOUT" envDefault:"0s" help:"liveness fails when startup has not passed this long after the child started, for pods without a startupProbe; EXTEND_TIMEOUT_USEC extends it (0: no limit)"`
	NotifySocket   string        `env:"PYSUP_NOTIFY_SOCKET" help:"path (or @abstract name) of the sd_notify socket given to the child as NOTIFY_SOCKET; default: a private path under the temp dir; made only when a notify check or the watchdog needs it"`
}

func (p Probe) validate(vars map[string]string, field func(string) string) []string {
	var out []string
	bad := func(goName, format string, args ...any) {
		out = append(out, fmt.Sprintf("%s: %s", field(goName), fmt.Sprintf(format, args...)))
	}
	if p.CheckPeriod <= 0 {
		bad("CheckPeriod", "must be positive")
	}
	if p.CheckTimeout <= 0 {
		bad("CheckTimeout", "must be positive")
	}
	if p.CheckFailures < 1 {
		bad("CheckFailures", "must be at least 1")
	}
	if p.CheckSuccesses < 1 {
		bad("CheckSuccesses", "must be at least 1")
	}
	if p.Watchdog < 0 {
		bad("Watchdog", "must not be negative")
	}
	if p.Watchdog > 0 && p.Watchdog < time.Millisecond {
		bad("Watchdog", "must be at least 1ms")
	}
	if p.StartupTimeout < 0 {
		bad("StartupTimeout", "must not be negative")
	}
	if p.LiveCheck.Has(probe.KindNotify) && p.Watchdog <= 0 {
		bad("LiveCheck", "notify as a live check needs %s (the heartbeat interval)", field("Watchdog"))
	}
	return out
}
