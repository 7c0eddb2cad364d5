package main

import (
	"strings"
	"testing"
	"time"
)

// TestReapsOrphans: 200 grandchildren are orphaned to pysup and exit; one
// second later none is left a zombie.
func TestReapsOrphans(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		out := newOut(t)
		r := startPysup(t, m, []string{out.env(), "N=200", "WAIT=1"}, pythonArgs(t, "orphans.py")...)
		code := r.wait(30 * time.Second)
		got := strings.Join(out.lines(), ",")
		if got != "adopted 200,zombies 0,live 0" {
			t.Errorf("child saw %q, want adopted 200,zombies 0,live 0", got)
		}
		if code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
	})
}
