package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// ranPrestart reports whether a pysup's output has records of the
// pre-start phase.
func ranPrestart(t *testing.T, r *running) bool {
	for _, rec := range records(t, r.stdout.String()) {
		if rec["phase"] == "prestart" {
			return true
		}
	}
	return false
}

// A real Django project (SQLite shared by the replicas) whose migrate
// runs once across three pysups with the same once-key on a real
// kube-apiserver: one migrates, the others wait (not started, /startupz
// says for whom) and then skip it; all three serve the migrated data.
func TestOnceKeyDjangoMigrateOnce(t *testing.T) {
	_, kenv := leaseCluster(t)
	env := djangoEnv(t, append(kenv, "PYSUP_PRESET=gunicorn", "PYSUP_PRESTART_ONCE_KEY=shop-1.0",
		"PYSUP_PRESTART="+migrateThenCheck(), "MIGRATION_SLEEP=3", "PYSUP_DRAIN_DELAY=0",
		"PYSUP_LEASE_DURATION=4s", "PYSUP_LEASE_RENEW_DEADLINE=2s", "PYSUP_LEASE_RETRY_PERIOD=300ms")...)
	type replica struct {
		name         string
		port, probes int
		r            *running
		waited       bool
	}
	var rs []*replica
	for i := range 3 {
		p := &replica{name: fmt.Sprintf("web-%d", i), port: testenv.FreePort(t), probes: testenv.FreePort(t)}
		p.r = startPysup(t, mode{}, append(env, "POD_NAME="+p.name, "PYSUP_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(p.probes)),
			gunicornDjango(t, p.port)...)
		rs = append(rs, p)
	}
	deadline := time.Now().Add(60 * time.Second)
	for ready := 0; ready < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("replicas not ready after 60s")
		}
		ready = 0
		for _, p := range rs {
			st := getProbe(fmt.Sprintf("http://127.0.0.1:%d/startupz", p.probes))
			if st.Code == 503 && strings.HasPrefix(st.Progress, "waiting for web-") {
				p.waited = true
				if rd := getProbe(fmt.Sprintf("http://127.0.0.1:%d/readyz", p.probes)); rd.Code != 503 {
					t.Errorf("%s ready while waiting for the holder: %+v", p.name, rd)
				}
			}
			if status(fmt.Sprintf("http://127.0.0.1:%d/readyz", p.probes)) == 200 {
				ready++
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	migrated, waited := 0, 0
	for _, p := range rs {
		if ranPrestart(t, p.r) {
			migrated++
		} else if !strings.Contains(p.r.stderr.String(), "once-key already done") {
			t.Errorf("%s neither migrated nor skipped", p.name)
		}
		if p.waited {
			waited++
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", p.port))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "notes: 1\n" {
			t.Errorf("%s: %d %q; want the migrated data", p.name, resp.StatusCode, b)
		}
	}
	if migrated != 1 {
		t.Errorf("%d replicas ran migrate, want exactly 1", migrated)
	}
	if waited != 2 {
		t.Errorf("%d replicas showed 'waiting for' the holder on /startupz, want 2", waited)
	}
	// A replica started later (a restart, a scale-up) skips at once.
	late := startPysup(t, mode{}, append(env, "POD_NAME=web-9", "PYSUP_HTTP_ADDR="), gunicornDjango(t, testenv.FreePort(t))...)
	deadline = time.Now().Add(30 * time.Second)
	for !strings.Contains(late.stdout.String(), "Booting worker") {
		if time.Now().After(deadline) {
			t.Fatal("late replica did not start its child")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ranPrestart(t, late) {
		t.Error("a late replica ran migrate again")
	}
	all := append(rs, &replica{r: late})
	for _, p := range all {
		p.r.signal(syscall.SIGTERM)
	}
	for _, p := range all {
		if code := p.r.wait(30 * time.Second); code != 0 {
			t.Errorf("exit %d after SIGTERM", code)
		}
	}
}

// The once-key through the binary: a holder SIGKILLed mid-run (PID 1, so
// its command dies with it) is taken over by exactly one of the replicas
// started after it; a failed run is not recorded, exits with its status,
// and another replica runs the commands.
func TestOnceKeyTakeoverAndRetry(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "unshare")
	_, kenv := leaseCluster(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	lines := func() []string {
		b, _ := os.ReadFile(runs)
		return strings.Fields(string(b))
	}
	env := append(kenv, "PYSUP_LEASE_DURATION=3s", "PYSUP_LEASE_RENEW_DEADLINE=2s", "PYSUP_LEASE_RETRY_PERIOD=300ms")
	start := func(name, key, cmd string) *running {
		return startPysup(t, mode{pid1: true}, append(env, "POD_NAME="+name, "PYSUP_PRESTART_ONCE_KEY="+key, "PYSUP_PRESTART="+cmd),
			"--", "/bin/sh", "-c", "echo child $POD_NAME >> "+runs+".children")
	}

	// Killed mid-run.
	cmd := fmt.Sprintf("/bin/sh -c 'echo $POD_NAME >> %s; sleep 1.5'", runs)
	a := start("pod-a", "kill-me", cmd)
	deadline := time.Now().Add(20 * time.Second)
	for len(lines()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("pod-a never ran the pre-start command")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.signal(syscall.SIGKILL)
	a.wait(10 * time.Second)
	killed := time.Now()
	b, c := start("pod-b", "kill-me", cmd), start("pod-c", "kill-me", cmd)
	for _, r := range []*running{b, c} {
		if code := r.wait(30 * time.Second); code != 0 {
			t.Errorf("replica exited %d", code)
		}
	}
	took := time.Since(killed)
	if got := lines(); len(got) != 2 || got[0] != "pod-a" || got[1] == "pod-a" {
		t.Fatalf("runs %q: want pod-a's killed run, then exactly one take-over", got)
	}
	t.Logf("after SIGKILL of the holder mid-run: taken over and done, both replicas' children run, in %s (lease 3s, command 1.5s)", took.Round(time.Millisecond))

	// A failed run is retried by another replica.
	_ = os.Remove(runs)
	marker := filepath.Join(dir, "failed-once")
	cmd = fmt.Sprintf("/bin/sh -c 'echo $POD_NAME >> %s; sleep 0.5; [ -e %s ] || { touch %s; exit 3; }'", runs, marker, marker)
	var rs []*running
	for _, n := range []string{"pod-d", "pod-e", "pod-f"} {
		rs = append(rs, start(n, "fail-once", cmd))
	}
	codes := map[int]int{}
	for _, r := range rs {
		codes[r.wait(30*time.Second)]++
	}
	if got := lines(); len(got) != 2 || got[0] == got[1] || codes[3] != 1 || codes[0] != 2 {
		t.Fatalf("runs %q, exit codes %v: want one failed run (exit 3), then one success by another replica", got, codes)
	}
}

// SIGTERM through the binary, on a real kube-apiserver: a replica waiting
// for the once-key exits 0 without its child, as a standby does; the
// holder, whose command takes longer than the lease duration to stop,
// keeps the Lease meanwhile, so a replica started after the SIGTERM runs
// the command only once the holder's has ended.
func TestOnceKeySIGTERM(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "unshare")
	_, kenv := leaseCluster(t)
	runs := filepath.Join(t.TempDir(), "runs")
	lines := func() []string {
		b, _ := os.ReadFile(runs)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	has := func(line string) bool {
		for _, l := range lines() {
			if l == line {
				return true
			}
		}
		return false
	}
	until := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; runs %q", what, lines())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	env := append(kenv, "PYSUP_LEASE_DURATION=3s", "PYSUP_LEASE_RENEW_DEADLINE=2s", "PYSUP_LEASE_RETRY_PERIOD=300ms", "PYSUP_STOP_TIMEOUT=15s")
	// Stopping takes 4s, more than the lease duration.
	cmd := fmt.Sprintf(`/bin/sh -c 'echo start $POD_NAME >> %s; trap "sleep 4; echo end \$POD_NAME >> %s; exit 0" TERM; while :; do sleep 0.1; done'`, runs, runs)
	start := func(name string) *running {
		return startPysup(t, mode{pid1: true}, append(env, "POD_NAME="+name, "PYSUP_PRESTART_ONCE_KEY=sigterm", "PYSUP_PRESTART="+cmd),
			"--", "/bin/sh", "-c", "echo child $POD_NAME >> "+runs)
	}
	g := start("pod-g")
	until("pod-g's command", 20*time.Second, func() bool { return has("start pod-g") })

	h := start("pod-h")
	until("pod-h waiting", 20*time.Second, func() bool {
		return strings.Contains(h.stderr.String(), "pre-start commands running on another replica: waiting")
	})
	h.signal(syscall.SIGTERM)
	if code := h.wait(10 * time.Second); code != 0 {
		t.Errorf("waiting replica exited %d on SIGTERM, want 0", code)
	}
	if has("start pod-h") || has("child pod-h") {
		t.Errorf("the waiting replica ran something: %q", lines())
	}

	g.signal(syscall.SIGTERM)
	i := start("pod-i")
	until("pod-i's command", 30*time.Second, func() bool { return has("start pod-i") })
	got := lines()
	if len(got) != 3 || got[1] != "end pod-g" {
		t.Errorf("runs %q: want pod-g's command ended before pod-i's started", got)
	}
	if code := g.wait(20 * time.Second); code != 143 {
		t.Errorf("holder exited %d, want 143 (its command stopped by TERM)", code)
	}
	i.signal(syscall.SIGTERM)
	i.wait(20 * time.Second)
}
