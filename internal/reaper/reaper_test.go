package reaper

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func running(t *testing.T) *Reaper {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// orphans=false: only its own pids, so it coexists with go test's
	// own use of os/exec.
	r := New(false, nil)
	go r.Run(ctx)
	return r
}

func TestOutputStatusAndOutput(t *testing.T) {
	r := running(t)
	out, st, err := r.Output(context.Background(), []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, nil, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode() != 3 || string(out) != "out\nerr\n" {
		t.Errorf("status %d output %q", st.ExitCode(), out)
	}
}

func TestOutputBoundsOutput(t *testing.T) {
	r := running(t)
	out, st, err := r.Output(context.Background(), []string{"sh", "-c", "head -c 1000000 /dev/zero"}, nil, 100)
	if err != nil || len(out) != 100 || st.ExitCode() != 0 {
		t.Errorf("len %d, status %d, err %v: want 100 bytes and a clean exit (the rest drained)", len(out), st.ExitCode(), err)
	}
}

// TestOutputTimeoutKillsGroup: when ctx ends, the whole group dies,
// including a background grandchild holding the pipe.
func TestOutputTimeoutKillsGroup(t *testing.T) {
	r := running(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	out, st, err := r.Output(ctx, []string{"sh", "-c", "sleep 30 & echo $!; wait"}, nil, 1024)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if sig, ok := st.Signaled(); !ok || sig != syscall.SIGKILL || st.ExitCode() != 137 {
		t.Errorf("status %+v, want killed (137)", st)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %s: the grandchild held us", time.Since(start))
	}
	pid := strings.TrimSpace(string(out))
	if pid == "" {
		t.Fatal("the grandchild's pid was not captured")
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %s survived", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOutputNotFound(t *testing.T) {
	r := running(t)
	if _, _, err := r.Output(context.Background(), []string{"pysup-no-such-command"}, nil, 10); !errors.Is(err, ErrNotStarted) {
		t.Errorf("err = %v, want ErrNotStarted", err)
	}
}

// TestCoexistsWithExec: with orphans off, the reaper never steals the
// status of a process os/exec started.
func TestCoexistsWithExec(t *testing.T) {
	r := running(t)
	for i := 0; i < 20; i++ {
		if err := exec.Command("true").Run(); err != nil {
			t.Fatalf("os/exec lost its child's status: %v", err)
		}
		r.Poke()
	}
}

func TestStatusExitCode(t *testing.T) {
	r := running(t)
	_, st, _ := r.Output(context.Background(), []string{"sh", "-c", "kill -TERM $$"}, nil, 10)
	if st.ExitCode() != 143 {
		t.Errorf("killed by TERM: %d, want 143", st.ExitCode())
	}
}
