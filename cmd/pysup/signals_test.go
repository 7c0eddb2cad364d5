package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestForwardsSignals: each forwardable signal sent to pysup reaches the
// Python child, by name.
func TestForwardsSignals(t *testing.T) {
	sigs := []struct {
		sig  syscall.Signal
		name string
	}{
		{syscall.SIGHUP, "SIGHUP"}, {syscall.SIGUSR1, "SIGUSR1"}, {syscall.SIGUSR2, "SIGUSR2"},
		{syscall.SIGWINCH, "SIGWINCH"}, {syscall.SIGQUIT, "SIGQUIT"}, {syscall.SIGALRM, "SIGALRM"},
		{syscall.SIGPWR, "SIGPWR"}, {syscall.SIGVTALRM, "SIGVTALRM"}, {syscall.Signal(35), "SIGRTMIN+1"},
	}
	forModes(t, func(t *testing.T, m mode) {
		out := newOut(t)
		r := startPysup(t, m, []string{out.env()}, pythonArgs(t, "sigrecorder.py")...)
		out.waitLine(t, "ready", 30*time.Second)
		for _, s := range sigs {
			r.signal(s.sig)
			out.waitLine(t, s.name+" ", 5*time.Second)
		}
		r.signal(syscall.SIGKILL)
	})
}

// TestRewritesSignals: USR1 arrives as USR2, HUP is dropped, WINCH passes.
func TestRewritesSignals(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		out := newOut(t)
		r := startPysup(t, m, []string{out.env(), "PYSUP_SIGNAL_REWRITE=USR1:USR2,HUP:0"}, pythonArgs(t, "sigrecorder.py")...)
		out.waitLine(t, "ready", 30*time.Second)
		r.signal(syscall.SIGHUP)
		r.signal(syscall.SIGUSR1)
		r.signal(syscall.SIGWINCH)
		out.waitLine(t, "SIGWINCH ", 5*time.Second)
		out.waitLine(t, "SIGUSR2 ", 5*time.Second)
		for _, l := range out.lines() {
			if strings.HasPrefix(l, "SIGHUP ") || strings.HasPrefix(l, "SIGUSR1 ") {
				t.Errorf("child got %q; want it dropped or rewritten", l)
			}
		}
		r.signal(syscall.SIGKILL)
	})
}
