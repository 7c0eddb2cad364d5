package multiproc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// procAlive is the default liveness test: /proc/PID exists.
func procAlive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

// startGunicorn runs testdata/metrics/mpapp.py under real gunicorn with
// 4 sync workers in multiprocess mode, each replaced after maxRequests.
func startGunicorn(t *testing.T, dir string, maxRequests int) string {
	t.Helper()
	py := testenv.RequirePython(t, "prometheus_client", "gunicorn")
	port := testenv.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(py, "-m", "gunicorn", "--chdir", testenv.Testdata("metrics"),
		"-w", "4", "-b", addr, "--max-requests", fmt.Sprint(maxRequests),
		"--max-requests-jitter", "0", "--graceful-timeout", "2", "mpapp:app")
	cmd.Env = append(os.Environ(), "PROMETHEUS_MULTIPROC_DIR="+dir)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("gunicorn output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/ready"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gunicorn did not answer on %s:\n%s", addr, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://" + addr
}

func hit(t *testing.T, base string, n int) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < n; i++ {
		resp, err := client.Get(fmt.Sprintf("%s/p%d", base, i%7))
		if err != nil {
			// A worker being replaced may drop one connection.
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func countFiles(t *testing.T, dir, prefix string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, prefix+"*.db"))
	return len(m)
}

// waitWorkers waits until gunicorn settled after churn: the same four
// live workers (liveall files of live pids) for a second.
func waitWorkers(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last, since := "", time.Now()
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, "gauge_liveall_*.db"))
		var live []string
		for _, f := range m {
			n, _ := parseName(filepath.Base(f))
			var pid int
			fmt.Sscan(n.pid, &pid)
			if procAlive(pid) {
				live = append(live, n.pid)
			}
		}
		cur := strings.Join(live, ",")
		if cur != last {
			last, since = cur, time.Now()
		}
		if len(live) == 4 && time.Since(since) > time.Second {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("gunicorn workers did not settle")
}

// TestGunicornMatchesMultiProcessCollector runs real prometheus_client
// under real gunicorn with 4 workers and compares pysup's aggregation
// with MultiProcessCollector's on the same directory, before and after
// workers are replaced (max_requests), and after compaction.
func TestGunicornMatchesMultiProcessCollector(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "multiproc")
	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	base := startGunicorn(t, dir, 20)
	r := New(Options{Dir: dir, Alive: procAlive})

	hit(t, base, 12)
	waitWorkers(t, dir)
	assertSame(t, r, "4 workers")

	hit(t, base, 200) // every worker is replaced about twice
	waitWorkers(t, dir)
	if n := countFiles(t, dir, "counter_"); n <= 4 {
		t.Fatalf("expected dead workers' counter files, got %d", n)
	}
	before := assertSame(t, r, "after churn")
	for _, mode := range []string{"liveall", "livesum", "livemin", "livemax"} {
		if n := countFiles(t, dir, "gauge_"+mode+"_"); n != 4 {
			t.Errorf("gauge_%s files: %d, want 4 (dead workers' removed)", mode, n)
		}
	}

	merged, err := r.Compact()
	if err != nil {
		t.Fatal(err)
	}
	if merged == 0 {
		t.Fatal("nothing compacted")
	}
	// Only live workers' files and one compacted file per type are left.
	for _, typ := range []string{"counter_", "histogram_", "summary_", "gauge_sum_", "gauge_min_", "gauge_max_"} {
		m, _ := filepath.Glob(filepath.Join(dir, typ+"*.db"))
		compacted := 0
		for _, f := range m {
			n, _ := parseName(filepath.Base(f))
			var pid int
			if n.pid == compactedPID {
				compacted++
			} else if fmt.Sscan(n.pid, &pid); !procAlive(pid) {
				t.Errorf("dead worker's %s left after compaction", f)
			}
		}
		if compacted != 1 {
			t.Errorf("%s: %d compacted files, want 1", typ, compacted)
		}
	}
	after := assertSame(t, r, "after compaction")
	if diffs := equalFlat(after, before); len(diffs) > 0 {
		t.Fatalf("compaction changed the output:\n%s", strings.Join(diffs, "\n"))
	}

	hit(t, base, 200)
	waitWorkers(t, dir)
	assertSame(t, r, "churn after compaction")
	if _, err := r.Compact(); err != nil {
		t.Fatal(err)
	}
	assertSame(t, r, "second compaction")
	_ = context.Background
}
