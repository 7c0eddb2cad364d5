package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/probe"
)

func TestProbeSettings(t *testing.T) {
	cfg, err := Load([]string{"--", "app"}, []string{
		`PYSUP_READY_CHECK=tcp://127.0.0.1:8000?failures=5, notify ,exec:sh -c "a, b"`,
		"PYSUP_LIVE_CHECK=zmq://127.0.0.1:5555?send=ping&timeout=50ms",
		"PYSUP_CHECK_PERIOD=2s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(cfg.ReadyCheck); got != 3 {
		t.Fatalf("ready checks: got %d (%v), want 3", got, cfg.ReadyCheck)
	}
	if s := cfg.ReadyCheck[0]; s.Kind != probe.KindTCP || s.Failures != 5 {
		t.Errorf("first ready check: %+v", s)
	}
	if s := cfg.ReadyCheck[2]; strings.Join(s.Argv, "|") != "sh|-c|a, b" {
		t.Errorf("exec argv: %q", s.Argv)
	}
	if s := cfg.LiveCheck[0]; s.Kind != probe.KindZMQ || s.Timeout != 50*time.Millisecond {
		t.Errorf("live check: %+v", s)
	}
	if cfg.CheckPeriod != 2*time.Second || cfg.CheckTimeout != time.Second || cfg.CheckFailures != 3 || cfg.CheckSuccesses != 1 {
		t.Errorf("defaults: %+v", cfg.Probe)
	}
}

func TestProbeSettingsErrors(t *testing.T) {
	_, err := Load([]string{"--", "app"}, []string{
		"PYSUP_READY_CHECK=tcp://nohost,ftp://x:1",
		"PYSUP_LIVE_CHECK=notify",
		"PYSUP_CHECK_FAILURES=0",
		"PYSUP_CHECK_TIMEOUT=-1s",
	})
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("want *Error, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"PYSUP_READY_CHECK (--ready-check)", `"tcp://nohost"`, `"ftp://x:1"`,
		"PYSUP_LIVE_CHECK (--live-check): notify as a live check needs PYSUP_WATCHDOG",
		"PYSUP_CHECK_FAILURES (--check-failures)", "PYSUP_CHECK_TIMEOUT (--check-timeout)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}
