package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/discovery/kubetest"
	"github.com/pysup/pysup/internal/testenv"
)

// leaseRole is the whole Role pysup's Leases need.
var leaseRole = kubetest.Rule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}}

// leaseCluster starts a kube-apiserver and returns the environment of a
// pod whose ServiceAccount is bound to the minimal Role only.
func leaseCluster(t *testing.T) (*kubetest.Cluster, []string) {
	t.Helper()
	c := kubetest.Start(t)
	token := c.Token("apps", "pysup", "pysup-leases", leaseRole)
	return c, c.InClusterEnv(c.ServiceAccountDir("apps", token))
}

// pod is one pysup replica with its probe port.
type pod struct {
	name string
	port int
	r    *running
}

// probe returns the status code and body of a probe endpoint.
func (p *pod) probe(t *testing.T, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", p.port, path))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of a sample line of /metrics starting with
// prefix, or -1.
func (p *pod) metric(t *testing.T, prefix string) float64 {
	_, body := p.probe(t, "/metrics")
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return v
		}
	}
	return -1
}

// event is one line of singleton.py's record.
type event struct {
	what, name string
	at         time.Time
}

func events(path string) []event {
	var out []event
	b, _ := os.ReadFile(path)
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		sec, _ := strconv.ParseFloat(f[2], 64)
		out = append(out, event{f[0], f[1], time.Unix(0, int64(sec*1e9))})
	}
	return out
}

// waitStart waits for a start event by a pod other than not, after n
// events, and returns it.
func waitStart(t *testing.T, path string, after int, not string, within time.Duration) event {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		evs := events(path)
		for _, e := range evs[min(after, len(evs)):] {
			if e.what == "start" && e.name != not {
				return e
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no new start within %s; events %v", within, events(path))
	return event{}
}

// Leader election across three pysups, as real PID 1s, against a real
// kube-apiserver with the minimal Role: exactly one child runs at any
// time (the children hold a flock and record contention) while the
// holder is SIGKILLed again and again, a new pysup taking its place each
// time; the hand-over time is measured; the probes and metrics say who
// leads; SIGTERM of the leader releases the Lease, so the hand-over is
// fast.
func TestLeaderElectionSingleton(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireBinary(t, "unshare")
	py := testenv.RequirePython(t)
	_, kenv := leaseCluster(t)
	dir := t.TempDir()
	out, lock := filepath.Join(dir, "events"), filepath.Join(dir, "lock")
	duration := 6 * time.Second
	env := append(kenv, "PYSUP_LEADER_ELECTION=singleton", "OUT="+out, "LOCK="+lock)
	timings := "lease 6s, renew deadline 3s, retry 300ms"
	if os.Getenv("LEASE_TEST_DEFAULTS") == "1" {
		// For measuring the hand-over with the default timings (slow).
		duration, timings = 15*time.Second, "the defaults: lease 15s, renew deadline 10s, retry 2s"
	} else {
		env = append(env, "PYSUP_LEASE_DURATION=6s", "PYSUP_LEASE_RENEW_DEADLINE=3s", "PYSUP_LEASE_RETRY_PERIOD=300ms")
	}
	pods := map[string]*pod{}
	n := 0
	spawn := func() *pod {
		n++
		p := &pod{name: fmt.Sprintf("pod-%d", n), port: testenv.FreePort(t)}
		p.r = startPysup(t, mode{pid1: true}, append(env, "POD_NAME="+p.name, fmt.Sprintf("PYSUP_HTTP_ADDR=127.0.0.1:%d", p.port)),
			"--", py, testenv.Testdata("lease", "singleton.py"))
		pods[p.name] = p
		return p
	}
	for range 3 {
		spawn()
	}
	leader := waitStart(t, out, 0, "", 30*time.Second)
	time.Sleep(time.Second) // standbys have tried a few times

	// Who leads, as the probes and metrics say.
	for name, p := range pods {
		for _, path := range []string{"/readyz", "/livez", "/startupz"} {
			code, body := p.probe(t, path)
			var b struct {
				Status   string
				Election struct{ Role, Leader string }
			}
			_ = json.Unmarshal([]byte(body), &b)
			wantRole, wantStatus := "standby", "standby"
			if name == leader.name {
				wantRole, wantStatus = "leader", "ok"
			}
			if path == "/startupz" && name == leader.name {
				wantStatus = b.Status // the child's startup: no check configured
			}
			if code != 200 || b.Election.Role != wantRole || b.Election.Leader != leader.name || b.Status != wantStatus {
				t.Errorf("%s %s: %d %s; want 200, role %s, leader %s", name, path, code, body, wantRole, leader.name)
			}
		}
		want := 0.0
		if name == leader.name {
			want = 1
		}
		if v := p.metric(t, `pysup_leader{lease="singleton"}`); v != want {
			t.Errorf("%s: pysup_leader %v, want %v", name, v, want)
		}
	}

	// SIGKILL the holder, again and again.
	var handovers []time.Duration
	for range 4 {
		seen := len(events(out))
		p := pods[leader.name]
		p.r.signal(syscall.SIGKILL)
		killed := time.Now()
		p.r.wait(10 * time.Second)
		delete(pods, leader.name)
		spawn()
		next := waitStart(t, out, seen, leader.name, duration+15*time.Second)
		handovers = append(handovers, next.at.Sub(killed))
		leader = next
	}
	// SIGTERM: the leader stops its child, then releases the Lease.
	seen := len(events(out))
	p := pods[leader.name]
	p.r.signal(syscall.SIGTERM)
	termed := time.Now()
	next := waitStart(t, out, seen, leader.name, duration+15*time.Second)
	release := next.at.Sub(termed)
	if code := p.r.wait(10 * time.Second); code != 0 {
		t.Errorf("SIGTERMed leader exited %d, want 0 (its child's status)", code)
	}
	if !strings.Contains(p.r.stderr.String(), "lease released") {
		t.Errorf("SIGTERMed leader did not release the lease")
	}
	delete(pods, p.name)
	// The rest (a leader and a standby) stop on SIGTERM too, with 0.
	for name, p := range pods {
		p.r.signal(syscall.SIGTERM)
		if code := p.r.wait(15 * time.Second); code != 0 {
			t.Errorf("%s exited %d after SIGTERM, want 0", name, code)
		}
	}

	// Exactly one child at any time: no contention, and every start
	// follows the previous holder's end.
	evs := events(out)
	for _, e := range evs {
		if e.what == "CONTENTION" {
			t.Errorf("two children at once: %v", e)
		}
	}
	sort.Slice(handovers, func(i, j int) bool { return handovers[i] < handovers[j] })
	t.Logf("hand-over after SIGKILL of the leader (%s): min %s median %s max %s; after SIGTERM (release): %s",
		timings, handovers[0].Round(time.Millisecond), handovers[len(handovers)/2].Round(time.Millisecond), handovers[len(handovers)-1].Round(time.Millisecond), release.Round(time.Millisecond))
	for _, h := range handovers {
		// A standby waits a lease duration from the last renewal it saw
		// (at most a retry period before the kill), then tries within a
		// jittered retry period.
		if h < duration-time.Second || h > duration+8*time.Second {
			t.Errorf("hand-over after SIGKILL took %s, want about the lease duration (%s)", h, duration)
		}
	}
	if release > duration/2 {
		t.Errorf("hand-over after SIGTERM took %s: the lease was not released", release)
	}
}

// beatPIDs lists the running celery beat processes of beatapp.
func beatPIDs() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, "python3 -m celery -A beatapp beat") && !strings.Contains(cmd, "pysup") && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// celery beat (Debian's python3-celery, kombu's filesystem broker) under
// three pysups with leader election: exactly one beat runs and sends the
// schedule; when its pysup is SIGKILLed another takes over within a lease
// duration and the schedule goes on from another process.
func TestLeaderElectionCeleryBeat(t *testing.T) {
	py := testenv.RequirePython(t, "celery", "kombu.transport.filesystem")
	_, kenv := leaseCluster(t)
	dir := t.TempDir()
	broker := filepath.Join(dir, "broker")
	_ = os.Mkdir(broker, 0o755)
	const duration = 4 * time.Second
	env := append(kenv, "PYSUP_LEADER_ELECTION=celery-beat", "PYSUP_LEASE_DURATION=4s", "PYSUP_LEASE_RENEW_DEADLINE=2s",
		"PYSUP_LEASE_RETRY_PERIOD=300ms", "PYSUP_PRESET=celery", "BROKER_DIR="+broker,
		"PYTHONPATH="+testenv.Testdata("lease"))
	var mu sync.Mutex
	maxBeats, samples := 0, 0
	stop := make(chan struct{})
	polled := make(chan struct{})
	var once sync.Once
	stopPoll := func() { once.Do(func() { close(stop) }); <-polled }
	t.Cleanup(stopPoll)
	go func() {
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			n := len(beatPIDs())
			mu.Lock()
			maxBeats, samples = max(maxBeats, n), samples+1
			mu.Unlock()
		}
	}()
	var rs []*running
	for i := range 3 {
		rs = append(rs, startPysup(t, mode{}, append(env, fmt.Sprintf("POD_NAME=beat-%d", i)),
			"--", py, "-m", "celery", "-A", "beatapp", "beat", "--loglevel=INFO", "--pidfile=",
			"-s", filepath.Join(dir, fmt.Sprintf("schedule-%d", i))))
	}
	waitBeat := func(not int, within time.Duration) int {
		t.Helper()
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if p := beatPIDs(); len(p) == 1 && p[0] != not {
				return p[0]
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no new beat within %s (running: %v)", within, beatPIDs())
		return 0
	}
	// The tasks sent, by the beat process that sent them, in time order.
	origin := regexp.MustCompile(`"origin": "gen(\d+)@`)
	tasks := func() (byPID map[int]int, order []int) {
		files, _ := filepath.Glob(filepath.Join(broker, "*.msg"))
		sort.Strings(files)
		byPID = map[int]int{}
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if m := origin.FindSubmatch(b); m != nil {
				pid, _ := strconv.Atoi(string(m[1]))
				byPID[pid]++
				if len(order) == 0 || order[len(order)-1] != pid {
					order = append(order, pid)
				}
			}
		}
		return byPID, order
	}
	sent := func(pid, n int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			if by, _ := tasks(); by[pid] >= n {
				return
			}
			if time.Now().After(deadline) {
				by, _ := tasks()
				t.Fatalf("beat %d did not send %d tasks in 60s: %v", pid, n, by)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	first := waitBeat(0, 30*time.Second)
	sent(first, 3) // the schedule runs
	// Find the pysup whose child it is.
	var holder *running
	for _, r := range rs {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", first))
		if f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:]); len(f) > 1 && f[1] == strconv.Itoa(r.pid) {
			holder = r
		}
	}
	if holder == nil {
		t.Fatalf("beat %d belongs to none of the pysups", first)
	}
	holder.signal(syscall.SIGKILL)
	killed := time.Now()
	second := waitBeat(first, duration+10*time.Second)
	took := time.Since(killed)
	sent(second, 3)
	stopPoll()
	byPID, order := tasks()
	t.Logf("beat hand-over after SIGKILL of its pysup: %s (lease 4s); tasks sent by beat pid: %v; %d process samples, at most %d beat at once",
		took.Round(time.Millisecond), byPID, samples, maxBeats)
	if maxBeats != 1 {
		t.Errorf("at most %d beats at once, want exactly 1", maxBeats)
	}
	if took > duration+5*time.Second {
		t.Errorf("hand-over took %s, want within about a lease duration (%s)", took, duration)
	}
	if len(order) != 2 || order[0] != first || order[1] != second || byPID[first] < 3 || byPID[second] < 3 {
		t.Errorf("tasks by sender in time order %v (counts %v): want beat %d, then beat %d", order, byPID, first, second)
	}
}

// A leader that loses the Lease (another holder appears in it) stops its
// child at once and goes back to standby: alive, live and ready, showing
// the new leader; when that holder stops renewing, it leads again.
func TestLeaderElectionLostLease(t *testing.T) {
	py := testenv.RequirePython(t)
	c, kenv := leaseCluster(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "events")
	p := &pod{name: "pod-1", port: testenv.FreePort(t)}
	p.r = startPysup(t, mode{}, append(kenv, "PYSUP_LEADER_ELECTION=singleton", "PYSUP_LEASE_DURATION=4s",
		"PYSUP_LEASE_RENEW_DEADLINE=2s", "PYSUP_LEASE_RETRY_PERIOD=300ms", "OUT="+out, "LOCK="+filepath.Join(dir, "lock"),
		"POD_NAME="+p.name, fmt.Sprintf("PYSUP_HTTP_ADDR=127.0.0.1:%d", p.port)),
		"--", py, testenv.Testdata("lease", "singleton.py"))
	waitStart(t, out, 0, "", 30*time.Second)

	path := "/apis/coordination.k8s.io/v1/namespaces/apps/leases/singleton"
	_, b, _ := c.Do(c.AdminToken, "GET", path, nil)
	var l map[string]any
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	spec := l["spec"].(map[string]any)
	spec["holderIdentity"] = "intruder"
	spec["renewTime"] = time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	taken := time.Now()
	c.Must("PUT", path, l)
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := events(out)
		if e := evs[len(evs)-1]; e.what == "stop" {
			t.Logf("child stopped %s after another holder took the lease", e.at.Sub(taken).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child not stopped after the lease was lost: %v", evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	for _, path := range []string{"/livez", "/readyz", "/startupz"} {
		code, body := p.probe(t, path)
		if code != 200 || !strings.Contains(body, `"status":"standby"`) || !strings.Contains(body, `"leader":"intruder"`) {
			t.Errorf("%s while standby: %d %s", path, code, body)
		}
	}
	if v := p.metric(t, `pysup_leader{lease="singleton"}`); v != 0 {
		t.Errorf("pysup_leader %v after the loss", v)
	}
	if v := p.metric(t, `pysup_leader_transitions_total{lease="singleton",to="standby"}`); v != 1 {
		t.Errorf("transitions to standby %v, want 1", v)
	}
	// The intruder never renews: pysup leads again a lease duration later.
	seen := len(events(out))
	next := waitStart(t, out, seen, "", 20*time.Second)
	if took := next.at.Sub(taken); took < 3*time.Second {
		t.Errorf("led again %s after the intruder's renewal: before its lease expired", took)
	}
	select {
	case <-p.r.done:
		t.Fatalf("pysup exited (%d) on losing the lease", p.r.code)
	default:
	}
}

// The example RBAC applied with kubectl is all a pysup needs to lead, and
// nothing more.
func TestLeaderElectionRBACExample(t *testing.T) {
	kubectl := filepath.Join(testenv.RepoRoot(), "tools", "kube", "bin", "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		testenv.Missing(t, "kubectl (tools/kube/build.sh)")
	}
	c := kubetest.Start(t)
	c.Must("POST", "/api/v1/namespaces", map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "shop"}})
	cmd := exec.Command(kubectl, "--server="+c.URL, "--certificate-authority="+c.CAFile, "--token="+c.AdminToken,
		"apply", "-n", "shop", "-f", filepath.Join(testenv.RepoRoot(), "examples", "django", "rbac.yaml"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	tr := map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": map[string]any{"expirationSeconds": 3600}}
	var tok struct{ Status struct{ Token string } }
	if err := json.Unmarshal(c.Must("POST", "/api/v1/namespaces/shop/serviceaccounts/pysup-leases/token", tr), &tok); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/apis/coordination.k8s.io/v1/namespaces/shop/leases", "/api/v1/namespaces/shop/pods", "/api/v1/namespaces/shop/secrets"} {
		if code, _, _ := c.Do(tok.Status.Token, "GET", p, nil); code != 403 {
			t.Errorf("GET %s with the example Role: %d, want 403", p, code)
		}
	}
	out := filepath.Join(t.TempDir(), "events")
	env := append(c.InClusterEnv(c.ServiceAccountDir("shop", tok.Status.Token)), "PYSUP_LEADER_ELECTION=celery-beat",
		"POD_NAME=beat-0", "OUT="+out, "LOCK="+out+".lock")
	r := startPysup(t, mode{}, env, "--", testenv.RequirePython(t), testenv.Testdata("lease", "singleton.py"))
	waitStart(t, out, 0, "", 30*time.Second)
	r.signal(syscall.SIGTERM)
	if code := r.wait(20 * time.Second); code != 0 || !strings.Contains(r.stderr.String(), "lease released") {
		t.Errorf("exit %d; released: %v", code, strings.Contains(r.stderr.String(), "lease released"))
	}
}

// The Lease lost while a SIGTERM stop is under way (the child ignores its
// stop signal): SIGKILL comes after the revocation's deadline (half the
// lease gap), not after PYSUP_STOP_TIMEOUT, as a successor may start soon.
func TestLeaderElectionLostDuringStop(t *testing.T) {
	c, kenv := leaseCluster(t)
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	r := startPysup(t, mode{}, append(kenv, "PYSUP_LEADER_ELECTION=stopping", "PYSUP_LEASE_DURATION=4s",
		"PYSUP_LEASE_RENEW_DEADLINE=2s", "PYSUP_LEASE_RETRY_PERIOD=300ms", "PYSUP_STOP_TIMEOUT=20s", "POD_NAME=pod-1", "READY="+ready),
		"--", "/bin/sh", "-c", `trap '' TERM; touch "$READY"; while :; do sleep 0.1; done`)
	waitFile(t, ready, 30*time.Second)
	r.signal(syscall.SIGTERM)
	time.Sleep(500 * time.Millisecond)

	path := "/apis/coordination.k8s.io/v1/namespaces/apps/leases/stopping"
	_, b, _ := c.Do(c.AdminToken, "GET", path, nil)
	var l map[string]any
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	spec := l["spec"].(map[string]any)
	spec["holderIdentity"] = "intruder"
	spec["renewTime"] = time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	c.Must("PUT", path, l)
	taken := time.Now()
	code := r.wait(30 * time.Second)
	took := time.Since(taken)
	t.Logf("pysup gone %s after another holder took the lease during the stop", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("child killed %s after the lease was lost, want within the revocation's 1s (+ a retry period)", took)
	}
	if code != 137 {
		t.Errorf("exit %d, want 137 (the child SIGKILLed)", code)
	}
}
