package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/cgroup"
	"github.com/pysup/pysup/internal/testenv"
)

// startInCgroup runs pysup (as a subreaper) inside cg: a shell moves
// itself into the cgroup, then execs pysup, so pysup reads the limits of
// a cgroup it was born in, as in a container.
func startInCgroup(t *testing.T, cg *testenv.Cgroup, env []string, args ...string) *running {
	t.Helper()
	var moves []string
	for _, p := range cg.Procs() {
		moves = append(moves, fmt.Sprintf(`echo $$ > '%s'`, p))
	}
	script := strings.Join(moves, " && ") + ` && exec "$0" "$@"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, testenv.Pysup(t)}, args...)...)
	cmd.Env = append(append(os.Environ(), "PYSUP_HTTP_ADDR="), env...)
	r := &running{t: t, cmd: cmd, stdout: &testenv.SyncBuffer{}, stderr: &testenv.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.pid = cmd.Process.Pid
	go func() {
		_ = cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = syscall.Kill(-r.pid, syscall.SIGKILL)
			<-r.done
		}
		if t.Failed() {
			t.Logf("pysup stderr:\n%s", r.stderr.String())
		}
	})
	return r
}

// childrenOf lists pid's children, forked from any of its threads.
func childrenOf(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, file := range files {
		b, _ := os.ReadFile(file)
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// TestWorkerSizingInCgroup: in a real cgroup with a one-core CPU quota and
// a 256 MiB memory limit, gunicorn started without -w under pysup runs
// min(2 × 1 + 1, 256 MiB / 128 MiB) = 2 workers (3 where the memory limit
// cannot be set), from the WEB_CONCURRENCY pysup gives it, and /metrics
// and the diagnostics show the limits.
func TestWorkerSizingInCgroup(t *testing.T) {
	testenv.RequirePython(t, "gunicorn")
	gunicorn := testenv.RequireBinary(t, "gunicorn")
	cg := testenv.MakeCgroup(t, 1, 256<<20)
	workersWanted := 3
	if cg.Memory {
		workersWanted = 2
	}
	port, probes := testenv.FreePort(t), testenv.FreePort(t)
	r := startInCgroup(t, cg, []string{"PYSUP_PRESET=gunicorn", "PYTHONDONTWRITEBYTECODE=1",
		fmt.Sprintf("PYSUP_HTTP_ADDR=127.0.0.1:%d", probes)},
		"--", gunicorn, "--chdir", testenv.Testdata("servers"), "-b", "127.0.0.1:"+strconv.Itoa(port), "slowapp:app")
	ready := fmt.Sprintf("http://127.0.0.1:%d/readyz", probes)
	deadline := time.Now().Add(30 * time.Second)
	for status(ready) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz never 200")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var workers []int
	for {
		if kids := childrenOf(r.pid); len(kids) == 1 {
			workers = childrenOf(kids[0])
		}
		if len(workers) >= workersWanted || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a fourth would have booted by now
	if kids := childrenOf(r.pid); len(kids) == 1 {
		workers = childrenOf(kids[0])
	}
	if len(workers) != workersWanted {
		t.Errorf("gunicorn runs %d workers, want %d", len(workers), workersWanted)
	}
	metrics := scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", probes))
	want := []string{"pysup_container_cpu_limit_cores 1\n", fmt.Sprintf("pysup_web_concurrency %d\n", workersWanted)}
	if cg.Memory {
		want = append(want, "pysup_container_memory_limit_bytes 2.68435456e+08\n")
	}
	for _, w := range want {
		if !strings.Contains(metrics, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d", code)
	}
	if !strings.Contains(r.stderr.String(), `"message":"container limits","logger":"pysup","cpu_limit_cores":1,`) {
		t.Errorf("diagnostics lack the container limits")
	}
}

// TestWorkerSizingEnv: the child gets WEB_CONCURRENCY and the limits,
// never overriding a WEB_CONCURRENCY already set; off and a number work.
func TestWorkerSizingEnv(t *testing.T) {
	show := []string{"--", "/bin/sh", "-c", `echo "wc=${WEB_CONCURRENCY-unset}"`}
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"WEB_CONCURRENCY=9"}, "wc=9"},
		{[]string{"PYSUP_WEB_CONCURRENCY=off"}, "wc=unset"},
		{[]string{"PYSUP_WEB_CONCURRENCY=4"}, "wc=4"},
		{[]string{"PYSUP_WEB_CONCURRENCY=auto"}, autoHere(t)},
	}
	for _, c := range cases {
		r := startPysup(t, mode{name: "subreaper"}, append([]string{"PYSUP_LOG=false"}, c.env...), show...)
		if code := r.wait(20 * time.Second); code != 0 {
			t.Fatalf("%v: exit status %d", c.env, code)
		}
		if got := strings.TrimSpace(r.stdout.String()); got != c.want {
			t.Errorf("%v: child printed %q, want %q", c.env, got, c.want)
		}
	}
}

// autoHere is what the child sees of PYSUP_WEB_CONCURRENCY=auto on this
// machine: nothing without a CPU quota.
func autoHere(t *testing.T) string {
	l, err := cgroup.Read("/", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := cgroup.WebConcurrency(l, runtime.NumCPU(), 128<<20); n > 0 {
		return fmt.Sprintf("wc=%d", n)
	}
	return "wc=unset"
}
