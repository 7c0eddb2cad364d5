package config

import (
	"fmt"

	"github.com/pysup/pysup/internal/signals"
)

// validate checks what the types alone cannot, and returns every problem.
// vars is the merged environment and flags, for settings read from outside
// pysup's own prefix; field names a setting by its Go field name.
func (c *Config) validate(vars map[string]string, field func(goName string) string) []string {
	var p []string
	if len(c.Command) == 0 {
		p = append(p, "no command: usage is pysup [flags] -- COMMAND [ARG...]")
	}
	if c.Preset != "" {
		if _, err := signals.LookupPreset(c.Preset); err != nil {
			p = append(p, fmt.Sprintf("%s: %v", field("Preset"), err))
		}
	}
	if c.StopTimeout < 0 {
		p = append(p, fmt.Sprintf("%s: must not be negative", field("StopTimeout")))
	}
	if c.RestartDelay <= 0 {
		p = append(p, fmt.Sprintf("%s: must be positive", field("RestartDelay")))
	}
	if c.RestartMax < c.RestartDelay {
		p = append(p, fmt.Sprintf("%s: must be at least %s", field("RestartMax"), field("RestartDelay")))
	}
	if c.RestartLimit < 0 {
		p = append(p, fmt.Sprintf("%s: must not be negative", field("RestartLimit")))
	}
	switch c.DiagLevel {
	case "debug", "info", "warn", "error":
	default:
		p = append(p, fmt.Sprintf("%s: want debug, info, warn or error, got %q", field("DiagLevel"), c.DiagLevel))
	}
	for _, v := range c.validators() {
		p = append(p, v(vars, field)...)
	}
	return p
}

// validator checks one part's settings. field names a setting by its Go
// field name for messages.
type validator func(vars map[string]string, field func(goName string) string) []string

// validators lists the parts' own checks; each part adds its method here.
func (c *Config) validators() []validator {
	return []validator{c.Probe.validate, c.Logs.validate, c.Metrics.validate, c.ZMQ.validate, c.Prestart.validate, c.Sizing.validate, c.Lease.validate, c.validateOnceKey}
}
