package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLoadFlagsWinOverEnv(t *testing.T) {
	cfg, err := Load([]string{"--stop-timeout", "3s", "--drain-delay=1s", "--signal-group", "--", "app", "-x"},
		[]string{"PYSUP_STOP_TIMEOUT=9s", "PYSUP_PRESET=gunicorn", "PYSUP_SIGNAL_GROUP=false"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StopTimeout != 3*time.Second || cfg.DrainDelay.Or(0) != time.Second || cfg.Preset != "gunicorn" {
		t.Errorf("got %+v", cfg.Supervisor)
	}
	if cfg.SignalGroup == nil || !*cfg.SignalGroup {
		t.Errorf("--signal-group did not win over PYSUP_SIGNAL_GROUP=false")
	}
	if strings.Join(cfg.Command, " ") != "app -x" {
		t.Errorf("command %q", cfg.Command)
	}
}

func TestLoadCommandWithoutDashes(t *testing.T) {
	cfg, err := Load([]string{"--preset=python", "python3", "--version"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Command, " ") != "python3 --version" {
		t.Errorf("command %q: flags after the command belong to it", cfg.Command)
	}
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load([]string{"--", "app"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.DrainDelay.Auto || cfg.StopTimeout != 20*time.Second || cfg.Restart != RestartNever || cfg.SignalGroup != nil {
		t.Errorf("defaults: %+v", cfg.Supervisor)
	}
}

// TestLoadListsEveryProblem: each problem names its variable and flag.
func TestLoadListsEveryProblem(t *testing.T) {
	_, err := Load([]string{"--bogus", "--restart", "maybe", "--stop-timeout"},
		[]string{"PYSUP_DRAIN_DELAY=-1s", "PYSUP_STOP_SIGNAL=NOPE", "PYSUP_PRESET=django", "PYSUP_DIAG_LEVEL=loud"})
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("err = %v, want *Error", err)
	}
	all := strings.Join(cerr.Problems, "\n")
	for _, want := range []string{"--bogus: unknown flag", "PYSUP_RESTART (--restart)", "PYSUP_STOP_TIMEOUT (--stop-timeout): needs a value",
		"PYSUP_DRAIN_DELAY (--drain-delay)", "PYSUP_STOP_SIGNAL (--stop-signal)", "PYSUP_PRESET (--preset)",
		"PYSUP_DIAG_LEVEL (--diag-level)", "no command"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
}

func TestHelpRequested(t *testing.T) {
	if _, err := Load([]string{"-h"}, nil); !errors.Is(err, ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// TestEveryFieldDocumented: --help and the README reference need a help
// text for each setting, and flags must be unique.
func TestEveryFieldDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Fields() {
		if strings.TrimSpace(f.Help) == "" {
			t.Errorf("%s has no help tag", f.Env)
		}
		if seen[f.Flag] {
			t.Errorf("flag --%s defined twice", f.Flag)
		}
		seen[f.Flag] = true
	}
}

// TestBoolFlagTakesAValue: "--signal-group false" sets the flag; it must
// not run /bin/false.
func TestBoolFlagTakesAValue(t *testing.T) {
	cfg, err := Load([]string{"--signal-group", "false", "--", "app"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SignalGroup == nil || *cfg.SignalGroup || strings.Join(cfg.Command, " ") != "app" {
		t.Errorf("signal group %v, command %q", cfg.SignalGroup, cfg.Command)
	}
}

// TestHTTPAddrOff: set empty or "off", the listen address disables the
// server instead of falling back to the default.
func TestHTTPAddrOff(t *testing.T) {
	for _, env := range [][]string{{"PYSUP_HTTP_ADDR="}, {"PYSUP_HTTP_ADDR=off"}} {
		cfg, err := Load([]string{"--", "app"}, env)
		if err != nil || cfg.HTTPAddr != "" {
			t.Errorf("%v: addr %q, %v", env, cfg.HTTPAddr, err)
		}
	}
	cfg, _ := Load([]string{"--", "app"}, nil)
	if cfg.HTTPAddr != ":9180" {
		t.Errorf("default addr %q", cfg.HTTPAddr)
	}
}

// TestUnknownUserListed: an unknown PYSUP_USER is one of the problems.
func TestUnknownUserListed(t *testing.T) {
	_, err := Load([]string{"--user", "no-such-user-here", "--preset", "nope", "--", "app"}, nil)
	var cerr *Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 2 || !strings.Contains(cerr.Problems[0]+cerr.Problems[1], "PYSUP_USER (--user)") {
		t.Errorf("problems: %v", err)
	}
}

// TestRewriteProblemsOnePerEntry: each bad entry is its own problem,
// naming the variable.
func TestRewriteProblemsOnePerEntry(t *testing.T) {
	_, err := Load([]string{"--", "app"}, []string{"PYSUP_SIGNAL_REWRITE=TERM:NOPE,HUP"})
	var cerr *Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 2 {
		t.Fatalf("problems: %v", err)
	}
	for _, p := range cerr.Problems {
		if !strings.HasPrefix(p, "PYSUP_SIGNAL_REWRITE (--signal-rewrite): ") {
			t.Errorf("problem %q does not name its variable", p)
		}
	}
}
