package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

const (
	drain   = 400 * time.Millisecond
	timeout = 700 * time.Millisecond
)

func stopEnv(out outFile, extra ...string) []string {
	return append([]string{out.env(), "PYSUP_DRAIN_DELAY=" + drain.String(), "PYSUP_STOP_TIMEOUT=" + timeout.String()}, extra...)
}

// TestStopSequence: SIGTERM to pysup -> the stop signal reaches the child
// only after the drain delay; the exit status is the child's.
func TestStopSequence(t *testing.T) {
	cases := []struct {
		name   string
		action string
		want   int
		killed bool // SIGKILL at the deadline
	}{
		{"clean", "exit:0", 0, false},
		{"code", "exit:3", 3, false},
		{"dies-of-term", "default", 143, false},
		{"ignores-term", "ignore", 137, true},
	}
	forModes(t, func(t *testing.T, m mode) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				out := newOut(t)
				r := startPysup(t, m, stopEnv(out, "TERM_ACTION="+c.action), pythonArgs(t, "sigrecorder.py")...)
				out.waitLine(t, "ready", 30*time.Second)
				sent := time.Now()
				r.signal(syscall.SIGTERM)
				code := r.wait(10 * time.Second)
				elapsed := time.Since(sent)
				if code != c.want {
					t.Errorf("exit status %d, want %d", code, c.want)
				}
				if c.action == "exit:0" || c.action == "exit:3" {
					if got := out.signalTime(t, "SIGTERM", time.Second).Sub(sent); got < drain {
						t.Errorf("stop signal arrived %s after SIGTERM, before the %s drain delay", got, drain)
					}
				}
				if c.killed && elapsed < drain+timeout {
					t.Errorf("killed after %s, before drain+timeout %s", elapsed, drain+timeout)
				}
				if !strings.Contains(r.stderr.String(), `"message":"stop requested: draining"`) {
					t.Errorf("no drain diagnostic on stderr")
				}
			})
		}
	})
}

// TestStopKillsGrandchildIgnoringTerm: the child exits on TERM, its
// grandchild ignores TERM; pysup waits for it until the deadline, kills it,
// and exits with the child's status.
func TestStopKillsGrandchildIgnoringTerm(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		out := newOut(t)
		r := startPysup(t, m, stopEnv(out, "TERM_ACTION=exit:5", "GRANDCHILD=ignore-term"), pythonArgs(t, "sigrecorder.py")...)
		out.waitLine(t, "ready", 30*time.Second)
		gc, _ := strconv.Atoi(strings.Fields(out.waitLine(t, "grandchild ", time.Second))[1])
		sent := time.Now()
		r.signal(syscall.SIGTERM)
		code := r.wait(10 * time.Second)
		if elapsed := time.Since(sent); elapsed < drain+timeout {
			t.Errorf("pysup exited %s after SIGTERM: before the grandchild's deadline %s", elapsed, drain+timeout)
		}
		if code != 5 {
			t.Errorf("exit status %d, want the child's 5", code)
		}
		if !m.pid1 && alive(gc) {
			t.Errorf("grandchild %d still alive after pysup exited", gc)
		}
	})
}

// TestSecondTermSkipsDrain: a second SIGTERM during the drain sends the
// stop signal at once.
func TestSecondTermSkipsDrain(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		out := newOut(t)
		r := startPysup(t, m, []string{out.env(), "PYSUP_DRAIN_DELAY=30s", "TERM_ACTION=exit:0"}, pythonArgs(t, "sigrecorder.py")...)
		out.waitLine(t, "ready", 30*time.Second)
		r.signal(syscall.SIGTERM)
		time.Sleep(200 * time.Millisecond)
		if lines := out.lines(); len(lines) != 1 {
			t.Fatalf("child got a signal during the drain: %q", lines)
		}
		r.signal(syscall.SIGTERM)
		if code := r.wait(5 * time.Second); code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
	})
}

// TestChildExitStopsLeftovers: the child exits on its own while a
// grandchild in its group takes a while to stop on TERM; pysup waits for it
// and exits with the child's status.
func TestChildExitStopsLeftovers(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		out := newOut(t)
		py := `
import os, signal, sys, time
out = open(os.environ["OUT"], "a", buffering=1)
if os.fork() == 0:
    def term(*_):
        time.sleep(0.3)
        out.write("grandchild stopped\n")
        os._exit(0)
    signal.signal(signal.SIGTERM, term)
    out.write("grandchild ready\n")
    while True:
        time.sleep(0.05)
while "grandchild ready" not in open(os.environ["OUT"]).read():
    time.sleep(0.01)
sys.exit(7)
`
		r := startPysup(t, m, []string{out.env(), "PYSUP_STOP_TIMEOUT=5s"}, "--", testenv.RequirePython(t), "-c", py)
		if code := r.wait(10 * time.Second); code != 7 {
			t.Errorf("exit status %d, want 7", code)
		}
		out.waitLine(t, "grandchild stopped", 0)
	})
}

// TestPythonPresetRunsFinally: plain Python dies on TERM without cleanup;
// the python preset stops it with INT, so its finally block runs.
func TestPythonPresetRunsFinally(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		out := newOut(t)
		r := startPysup(t, m, []string{out.env(), "PYSUP_PRESET=python"}, pythonArgs(t, "finally.py")...)
		out.waitLine(t, "ready", 30*time.Second)
		r.signal(syscall.SIGTERM)
		code := r.wait(10 * time.Second)
		out.waitLine(t, "cleanup", 0)
		// KeyboardInterrupt uncaught: Python exits 130 (128+INT) since 3.8.
		if code != 130 {
			t.Errorf("exit status %d, want 130", code)
		}
	})
}

// TestRestartOnFailure: the child fails twice, then succeeds.
func TestRestartOnFailure(t *testing.T) {
	out := newOut(t)
	r := startPysup(t, mode{}, []string{out.env(), "FAILS=2", "PYSUP_RESTART=on-failure", "PYSUP_RESTART_DELAY=50ms"},
		pythonArgs(t, "flaky.py")...)
	if code := r.wait(10 * time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if n := len(out.lines()); n != 3 {
		t.Errorf("child started %d times, want 3", n)
	}
	r = startPysup(t, mode{}, []string{out.env() + "2", "OUT=" + string(out) + "2", "FAILS=5", "PYSUP_RESTART=always",
		"PYSUP_RESTART_DELAY=10ms", "PYSUP_RESTART_LIMIT=2"}, pythonArgs(t, "flaky.py")...)
	if code := r.wait(10 * time.Second); code != 4 {
		t.Errorf("limit reached: exit status %d, want the child's 4", code)
	}
	if n := len(outFile(string(out) + "2").lines()); n != 3 {
		t.Errorf("child started %d times, want 1 + 2 restarts", n)
	}
}

// TestUserDrop: PYSUP_USER=nobody runs the child as nobody with nogroup.
func TestUserDrop(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		out := newOut(t)
		// A copy nobody can read: the checkout may sit below a directory
		// only root may enter (/root is 0700).
		src, err := os.ReadFile(script("whoami.py"))
		if err != nil {
			t.Fatal(err)
		}
		copied := filepath.Join(filepath.Dir(string(out)), "whoami.py")
		if err := os.WriteFile(copied, src, 0o644); err != nil {
			t.Fatal(err)
		}
		r := startPysup(t, m, []string{out.env(), "PYSUP_USER=nobody"}, "--", testenv.RequirePython(t), copied)
		if code := r.wait(10 * time.Second); code != 0 {
			t.Fatalf("exit status %d", code)
		}
		if got := out.lines()[0]; got != "65534 65534 [65534] /nonexistent" {
			t.Errorf("child ran as %q, want nobody", got)
		}
	})
}

// TestTermDuringRestartSweepStops: the child fails and leaves a grandchild
// that takes a while to stop; a SIGTERM that arrives while pysup stops it
// before restarting means stop, not restart.
func TestTermDuringRestartSweepStops(t *testing.T) {
	out := newOut(t)
	py := `
import os, signal, sys, time
fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
os.write(fd, b"start\n")
if os.fork() == 0:
    def term(*_):
        os.write(fd, b"leftover stopping\n")
        time.sleep(1)
        os._exit(0)
    signal.signal(signal.SIGTERM, term)
    os.write(fd, b"leftover ready\n")
    while True:
        time.sleep(0.05)
while b"leftover ready" not in open(os.environ["OUT"], "rb").read():
    time.sleep(0.01)
sys.exit(1)
`
	r := startPysup(t, mode{}, []string{out.env(), "PYSUP_RESTART=always", "PYSUP_RESTART_DELAY=10ms", "PYSUP_STOP_TIMEOUT=10s"},
		"--", testenv.RequirePython(t), "-c", py)
	out.waitLine(t, "leftover stopping", 30*time.Second)
	r.signal(syscall.SIGTERM)
	if code := r.wait(15 * time.Second); code != 1 {
		t.Errorf("exit status %d, want the child's 1", code)
	}
	starts := 0
	for _, l := range out.lines() {
		if l == "start" {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("child started %d times: the stop request was lost", starts)
	}
}

// TestDeadlineKillsSetsidGrandchild: a grandchild in a session of its own
// that ignores TERM is out of the group's reach; the deadline's SIGKILL
// still finds it, and pysup exits only after it is gone.
func TestDeadlineKillsSetsidGrandchild(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		out := newOut(t)
		py := `
import os, signal, sys, time
fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
if os.fork() == 0:
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.write(fd, f"grandchild {os.getpid()}\n".encode())
    while True:
        time.sleep(0.05)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(0.05)
`
		r := startPysup(t, m, []string{out.env(), "PYSUP_STOP_TIMEOUT=500ms"}, "--", testenv.RequirePython(t), "-c", py)
		gc, _ := strconv.Atoi(strings.Fields(out.waitLine(t, "grandchild ", 30*time.Second))[1])
		sent := time.Now()
		r.signal(syscall.SIGTERM)
		if code := r.wait(15 * time.Second); code != 0 {
			t.Errorf("exit status %d, want the child's 0", code)
		}
		if elapsed := time.Since(sent); elapsed < 500*time.Millisecond {
			t.Errorf("pysup exited %s after SIGTERM, before the deadline: it did not wait for the grandchild", elapsed)
		}
		if !m.pid1 && alive(gc) {
			t.Errorf("setsid grandchild %d survived pysup", gc)
		}
	})
}
