package main

import (
	"strings"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// TestExitStatus: pysup exits with the child's code, or 128+N for signal N.
func TestExitStatus(t *testing.T) {
	cases := []struct {
		name string
		code string
		want int
	}{
		{"zero", "import sys; sys.exit(0)", 0},
		{"three", "import sys; sys.exit(3)", 3},
		{"killed", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 137},
		{"terminated", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)", 143},
		{"uncaught", "raise SystemExit(42)", 42},
	}
	forModes(t, func(t *testing.T, m mode) {
		py := testenv.RequirePython(t)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := startPysup(t, m, nil, "--", py, "-c", c.code)
				if got := r.wait(10 * time.Second); got != c.want {
					t.Errorf("exit status %d, want %d", got, c.want)
				}
			})
		}
	})
}

// TestCommandNotRunnable: a missing command is 127, a non-executable one 126.
func TestCommandNotRunnable(t *testing.T) {
	r := startPysup(t, mode{}, nil, "--", "pysup-test-no-such-command")
	if got := r.wait(5 * time.Second); got != 127 {
		t.Errorf("missing command: exit %d, want 127", got)
	}
	r = startPysup(t, mode{}, nil, "--", script("whoami.py"))
	if got := r.wait(5 * time.Second); got != 126 {
		t.Errorf("non-executable command: exit %d, want 126", got)
	}
}

// TestBadConfig: every problem listed, each naming its variable, exit 2.
func TestBadConfig(t *testing.T) {
	r := startPysup(t, mode{}, []string{"PYSUP_STOP_TIMEOUT=soon", "PYSUP_SIGNAL_REWRITE=TERM:NOPE,HUP"},
		"--preset=django", "--restart", "sometimes", "--", "true")
	if got := r.wait(5 * time.Second); got != 2 {
		t.Fatalf("exit %d, want 2", got)
	}
	for _, want := range []string{"PYSUP_STOP_TIMEOUT (--stop-timeout)", "PYSUP_SIGNAL_REWRITE (--signal-rewrite)",
		"\"NOPE\"", "\"HUP\"", "PYSUP_PRESET (--preset)", "PYSUP_RESTART (--restart)"} {
		if !strings.Contains(r.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr.String())
		}
	}
}

// TestHelpListsEverySetting: --help names each variable and its flag.
func TestHelpListsEverySetting(t *testing.T) {
	r := startPysup(t, mode{}, nil, "--help")
	if got := r.wait(5 * time.Second); got != 0 {
		t.Fatalf("exit %d", got)
	}
	for _, want := range []string{"--drain-delay", "PYSUP_DRAIN_DELAY", "--stop-signal", "PYSUP_PRESET"} {
		if !strings.Contains(r.stdout.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}
