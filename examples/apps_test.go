package examples_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// Each test runs an example as its image would (the Dockerfile's ENV and
// CMD under pysup), on this machine with Debian's /usr/bin/python3: the
// probe turns ready, a request is served, the app's log lines come out as
// JSON records with the pod's metadata, and SIGTERM, as the kubelet sends
// it, ends in a graceful stop with the right exit status. The drain delay
// is shortened to keep the tests quick; everything else is the image's.

const testDrain = "PYSUP_DRAIN_DELAY=1500ms"

// stopWhileServing sends SIGTERM while a slow request is in flight, checks
// that /readyz turns 503 at once while the request is still answered, and
// returns pysup's exit status.
func stopWhileServing(t *testing.T, a *app, p *proc, started string) int {
	t.Helper()
	base := fmt.Sprintf("http://127.0.0.1:%d", a.h.port(t, "8000"))
	// Longer than the drain: still running when the stop signal goes out.
	slow := inflight(base + "/slow?s=4")
	p.waitRecord(started, 10*time.Second)
	p.signal(syscall.SIGTERM)
	deadline := time.Now().Add(1400 * time.Millisecond) // within the 1.5 s drain
	for status(a.probeURL(t, "/readyz")) != 503 {
		if time.Now().After(deadline) {
			t.Errorf("/readyz still not 503 after SIGTERM")
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	code := p.wait(30 * time.Second)
	select {
	case res := <-slow:
		if res.err != nil || res.status != 200 || res.body != "slow done\n" {
			t.Errorf("request in flight during the stop: %+v, want 200 \"slow done\"", res)
		}
	case <-time.After(5 * time.Second):
		t.Error("the request in flight during the stop never ended")
	}
	return code
}

func TestFlaskGunicorn(t *testing.T) {
	testenv.RequirePython(t, "flask", "gunicorn", "prometheus_client", "pythonjsonlogger")
	pd := pod{name: "flask-gunicorn-7d9f-abcde", namespace: "shop", container: "web",
		labels: map[string]string{"app.kubernetes.io/name": "flask-gunicorn"}}
	a := newApp(t, "flask-gunicorn", pd)
	a.set(testDrain)
	p := a.start(t)
	p.waitReady(a.probeURL(t, "/readyz"), 30*time.Second)
	if body := get(t, a.probeURL(t, "/readyz")); !strings.Contains(body, `"notify"`) {
		t.Errorf("/readyz %s: want readiness from gunicorn's sd_notify", body)
	}

	base := fmt.Sprintf("http://127.0.0.1:%d", a.h.port(t, "8000"))
	if body := get(t, base+"/"); !strings.HasPrefix(body, "hello from Flask") {
		t.Errorf("GET /: %q", body)
	}
	r := p.waitRecord("hello served", 5*time.Second)
	// python-json-logger's fields, merged by pysup.
	if r.str("level") != "info" || r.str("path") != "/" || r["worker_pid"] == nil {
		t.Errorf("app record %v: want level info and the app's fields path and worker_pid", r)
	}
	checkPod(t, r, pd)
	p.waitRecord(`"GET / HTTP/1.1" 200`, 5*time.Second) // gunicorn's access log, as JSON

	// The workers' prometheus_client multiprocess files, aggregated by pysup.
	metrics := get(t, a.probeURL(t, "/metrics"))
	for _, want := range []string{`web_requests_total{path="/",status="200"} 1`, `web_request_duration_seconds_count{path="/"} 1`, "pysup_child_up 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(a.h.translate("/tmp/prometheus"), "*.db")); len(files) == 0 {
		t.Error("no multiprocess .db files in PROMETHEUS_MULTIPROC_DIR")
	}

	if code := stopWhileServing(t, a, p, "slow request started"); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	p.waitRecord("Handling signal: term", time.Second)
	p.waitRecord("slow request done", time.Second)
}

func TestUwsgi(t *testing.T) {
	testenv.RequireBinary(t, "uwsgi")
	if _, err := os.Stat("/usr/lib/uwsgi/plugins/python3_plugin.so"); err != nil {
		testenv.Missing(t, "uWSGI's python3 plugin (uwsgi-plugin-python3)")
	}
	pd := pod{name: "uwsgi-5c8b-fghij", namespace: "shop", container: "web",
		labels: map[string]string{"app.kubernetes.io/name": "uwsgi"}}
	a := newApp(t, "uwsgi", pd)
	a.set(testDrain)
	p := a.start(t)
	p.waitReady(a.probeURL(t, "/readyz"), 30*time.Second)
	if body := get(t, a.probeURL(t, "/readyz")); !strings.Contains(body, `"notify"`) {
		t.Errorf("/readyz %s: want readiness from uWSGI's sd_notify", body)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", a.h.port(t, "8000"))
	if body := get(t, base+"/"); body != "hello from uWSGI under pysup\n" {
		t.Errorf("GET /: %q", body)
	}
	r := p.waitRecord("hello served by worker", 5*time.Second)
	if r.str("level") != "info" || r.str("logger") != "uwsgi-app" {
		t.Errorf("app record %v: want level info, logger uwsgi-app (parsed from the plain line)", r)
	}
	checkPod(t, r, pd)

	if code := stopWhileServing(t, a, p, "slow request started"); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	// A stop, not uWSGI's reload on a bare TERM.
	p.waitRecord("graceful shutdown triggered", time.Second)
	p.waitRecord("goodbye to uWSGI", time.Second)
	for _, r := range p.records() {
		if strings.Contains(r.str("message"), "respawn") {
			t.Errorf("uWSGI respawned during the stop: %v", r)
		}
	}
}

// enqueue sends a task to the worker's broker with the example's own
// enqueue.py, in the worker's environment.
func enqueue(t *testing.T, a *app, args ...string) {
	t.Helper()
	cmd := exec.Command(testenv.Python, append([]string{"enqueue.py"}, args...)...)
	cmd.Dir = exampleDir(a.name)
	cmd.Env = a.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("enqueue.py %v: %v\n%s", args, err, out)
	}
}

// probe runs `pysup probe KIND` as the kubelet's exec probe does, in the
// container's environment, and returns its exit status.
func probe(t *testing.T, a *app, kind string) int {
	t.Helper()
	cmd := exec.Command(testenv.Pysup(t), "probe", kind)
	cmd.Env = a.env
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil {
		t.Fatalf("pysup probe %s: %v", kind, err)
	}
	t.Logf("pysup probe %s: exit %d: %s", kind, cmd.ProcessState.ExitCode(), strings.TrimSpace(string(out)))
	return cmd.ProcessState.ExitCode()
}

func TestCeleryWorker(t *testing.T) {
	testenv.RequirePython(t, "celery", "kombu", "pythonjsonlogger")
	pd := pod{name: "celery-worker-6f7d-klmno", namespace: "shop", container: "worker",
		labels: map[string]string{"app.kubernetes.io/name": "celery-worker"}}
	a := newApp(t, "celery-worker", pd)
	// Tests run as root; the image runs as 10001. Celery only warns.
	p := a.start(t)
	p.waitReady(a.probeURL(t, "/readyz"), 30*time.Second)
	p.waitRecord("ready.", 30*time.Second) // celery@HOST ready.

	enqueue(t, a, "add", "2", "3")
	r := p.waitRecord("adding", 20*time.Second)
	if r.str("name") != "tasks" || r["x"] != 2.0 || r["y"] != 3.0 {
		t.Errorf("task record %v: want the task logger's JSON fields x=2 y=3", r)
	}
	checkPod(t, r, pd)
	if r := p.waitRecord("succeeded in", 10*time.Second); !strings.HasSuffix(r.str("message"), ": 5") {
		t.Errorf("task result record %v: want the result 5", r)
	}
	if code := probe(t, a, "live"); code != 0 {
		t.Errorf("pysup probe live: exit %d, want 0 with the worker running", code)
	}

	// Warm shutdown: the running task finishes, nothing is lost or left.
	enqueue(t, a, "slow", "2")
	p.waitRecord("slow task started", 20*time.Second)
	p.signal(syscall.SIGTERM)
	if code := p.wait(40 * time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	p.waitRecord("Warm shutdown", time.Second)
	p.waitRecord("slow task done", time.Second)
	succeeded := 0
	for _, r := range p.records() {
		if m := r.str("message"); strings.HasPrefix(m, "Task tasks.slow[") && strings.Contains(m, "succeeded") {
			succeeded++
		}
	}
	if succeeded != 1 {
		t.Errorf("slow task succeeded %d times, want 1", succeeded)
	}
	// Not asserted: celery 5.2 may hand a task that was running at the
	// warm shutdown back to the broker although it finished (without pysup
	// too; celery/celery#3796), when the pool had not yet reported it
	// accepted. Tasks must be idempotent (examples/README.md).
	if left, _ := filepath.Glob(filepath.Join(a.h.translate("/tmp/broker"), "*.msg")); len(left) != 0 {
		t.Logf("celery restored %d message(s) at the warm shutdown", len(left))
	}
	if code := probe(t, a, "live"); code == 0 {
		t.Error("pysup probe live: exit 0 with pysup gone, want a failure")
	}
}

func TestZmqEcho(t *testing.T) {
	testenv.RequirePython(t, "zmq")
	// Two server pods, as the Deployment's replicas.
	var servers []*proc
	var backends []string
	for _, name := range []string{"zmq-echo-server-a", "zmq-echo-server-b"} {
		pd := pod{name: name, namespace: "echo", container: "server",
			labels: map[string]string{"app.kubernetes.io/name": "zmq-echo"}}
		s := newApp(t, "zmq-echo", pd)
		s.set("PYSUP_DRAIN_DELAY=500ms")
		p := s.start(t)
		p.waitReady(s.probeURL(t, "/readyz"), 20*time.Second) // zmq ping through the REP socket
		if body := get(t, s.probeURL(t, "/readyz")); !strings.Contains(body, "zmq://") {
			t.Errorf("server /readyz %s: want the zmq check", body)
		}
		servers = append(servers, p)
		backends = append(backends, fmt.Sprintf("tcp://127.0.0.1:%d", s.h.port(t, "5556")))
	}

	// The client, set as client.yaml sets it, with the static list of the
	// servers in place of k8s://NS/zmq-echo:zmq.
	cpd := pod{name: "zmq-echo-client-x", namespace: "echo", container: "client",
		labels: map[string]string{"app.kubernetes.io/name": "zmq-echo"}}
	c := newApp(t, "zmq-echo", cpd)
	front := testenv.FreePort(t)
	c.set("PYSUP_DRAIN_DELAY=0s", "PYSUP_STOP_TIMEOUT=10s",
		"PYSUP_ZMQ_BACKENDS="+strings.Join(backends, ","),
		fmt.Sprintf("PYSUP_ZMQ_FRONTEND=tcp://127.0.0.1:%d", front),
		fmt.Sprintf("PYSUP_READY_CHECK=zmq://127.0.0.1:%d?send=ping&timeout=1s&period=1s", front),
		"PYSUP_LIVE_CHECK=", "ECHO_INTERVAL=0.05")
	c.setCmd(t, "python3", "client.py")
	cp := c.start(t)
	cp.waitReady(c.probeURL(t, "/readyz"), 20*time.Second)

	// Replies from both servers: pysup balances over the endpoints.
	seen := map[string]record{}
	deadline := time.Now().Add(15 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		for _, r := range cp.records() {
			if r.str("message") == "reply" {
				seen[r.str("server")] = r
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, name := range []string{"zmq-echo-server-a", "zmq-echo-server-b"} {
		r, ok := seen[name]
		if !ok {
			t.Errorf("no reply from %s through the client's pysup; replies from %v", name, keys(seen))
			continue
		}
		if !strings.HasPrefix(r.str("echo"), "hello ") {
			t.Errorf("reply %v: want the request echoed", r)
		}
		checkPod(t, r, cpd)
	}

	cp.signal(syscall.SIGTERM)
	if code := cp.wait(15 * time.Second); code != 0 {
		t.Errorf("client exit status %d, want 0", code)
	}
	cp.waitRecord("echo client stopped", time.Second)
	for _, p := range servers {
		r := p.waitRecord("echo 'hello ", time.Second)
		if r.str("logger") != "echo-server" {
			t.Errorf("server record %v: want logger echo-server", r)
		}
		p.signal(syscall.SIGTERM)
		if code := p.wait(15 * time.Second); code != 0 {
			t.Errorf("server exit status %d, want 0", code)
		}
		p.waitRecord("echo server stopped after", time.Second)
	}
}

func keys(m map[string]record) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// startPushgateway runs Debian's prometheus-pushgateway on 127.0.0.1.
func startPushgateway(t *testing.T) string {
	t.Helper()
	bin := testenv.RequireBinary(t, "prometheus-pushgateway")
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(bin, "--web.listen-address="+addr)
	logs := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("pushgateway log:\n%s", tail(logs.String()))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for status("http://"+addr+"/-/ready") != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("pushgateway not ready:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://" + addr
}

// pushed returns the Pushgateway's sample lines of metric for pod.
func pushed(t *testing.T, gw, metric, podName string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(get(t, gw+"/metrics"), "\n") {
		if strings.HasPrefix(l, metric+"{") && strings.Contains(l, `job="batch-job"`) &&
			strings.Contains(l, `pod="`+podName+`"`) && strings.Contains(l, `namespace="jobs"`) {
			out = append(out, l)
		}
	}
	return out
}

func TestBatchJob(t *testing.T) {
	testenv.RequirePython(t, "prometheus_client")
	gw := startPushgateway(t)

	t.Run("success", func(t *testing.T) {
		pd := pod{name: "batch-job-29000000-ok", namespace: "jobs", container: "batch",
			labels: map[string]string{"app.kubernetes.io/name": "batch-job"}}
		a := newApp(t, "batch-job", pd)
		a.set("PYSUP_PUSHGATEWAY_URL=" + gw)
		p := a.start(t)
		if code := p.wait(30 * time.Second); code != 0 {
			t.Fatalf("exit status %d, want 0", code)
		}
		checkPod(t, p.waitRecord("batch done: 50 items", time.Second), pd)
		// The final push, after the child exited, carries the final count.
		if got := pushed(t, gw, "batch_items_processed_total", pd.name); len(got) != 1 || !strings.HasSuffix(got[0], " 50") {
			t.Errorf("pushed batch_items_processed_total: %q, want one sample of 50", got)
		}
		if got := pushed(t, gw, "batch_last_success_timestamp_seconds", pd.name); len(got) != 1 {
			t.Errorf("pushed batch_last_success_timestamp_seconds: %q, want one sample", got)
		}
		if got := pushed(t, gw, "pysup_child_last_exit_code", pd.name); len(got) != 1 || !strings.HasSuffix(got[0], " 0") {
			t.Errorf("pushed pysup_child_last_exit_code: %q, want 0", got)
		}
	})

	t.Run("failure", func(t *testing.T) {
		pd := pod{name: "batch-job-29000000-fail", namespace: "jobs", container: "batch",
			labels: map[string]string{"app.kubernetes.io/name": "batch-job"}}
		a := newApp(t, "batch-job", pd)
		a.set("PYSUP_PUSHGATEWAY_URL="+gw, "BATCH_FAIL=1", "BATCH_ITEMS=5")
		p := a.start(t)
		if code := p.wait(30 * time.Second); code != 1 {
			t.Fatalf("exit status %d, want 1 (the job's)", code)
		}
		// The traceback is one record with the exception's type.
		r := p.waitRecord("Traceback (most recent call last)", time.Second)
		if r.str("exception_type") != "RuntimeError" || r.str("exception_message") != "batch failed after 5 items" {
			t.Errorf("traceback record %v: want exception_type RuntimeError", r)
		}
		if got := pushed(t, gw, "batch_items_processed_total", pd.name); len(got) != 1 || !strings.HasSuffix(got[0], " 5") {
			t.Errorf("pushed batch_items_processed_total: %q, want one sample of 5", got)
		}
		// Never set: prometheus_client's initial 0.
		if got := pushed(t, gw, "batch_last_success_timestamp_seconds", pd.name); len(got) != 1 || !strings.HasSuffix(got[0], " 0") {
			t.Errorf("pushed batch_last_success_timestamp_seconds for a failed run: %q, want 0", got)
		}
		if got := pushed(t, gw, "pysup_child_last_exit_code", pd.name); len(got) != 1 || !strings.HasSuffix(got[0], " 1") {
			t.Errorf("pushed pysup_child_last_exit_code: %q, want 1", got)
		}
	})
}
