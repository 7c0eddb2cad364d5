package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/discovery/kubetest"
	"github.com/pysup/pysup/internal/testenv"
)

// serverPod is a pyzmq REP server under its own pysup, in the test's
// network namespace, as one pod of a Service.
type serverPod struct {
	name, ip string
	http     string // pysup's probe address
	cmd      *exec.Cmd
	out      *testenv.SyncBuffer
	done     chan struct{}
	termed   atomic.Bool // the kubelet sent SIGTERM: the pod is terminating
}

func startServerPod(t *testing.T, netns *kubetest.Netns, name, ip string, port int) *serverPod {
	t.Helper()
	py := testenv.RequirePython(t, "zmq")
	p := &serverPod{name: name, ip: ip, http: fmt.Sprintf("%s:%d", ip, 9180), out: &testenv.SyncBuffer{}, done: make(chan struct{})}
	argv := append(netns.Exec(), testenv.Pysup(t), "--", py, testenv.Testdata("zmq", "rep_server.py"),
		"--bind", fmt.Sprintf("tcp://%s:%d", ip, port), "--name", name, "--sleep", "2")
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(),
		"PYSUP_HTTP_ADDR="+p.http,
		// Long enough for the endpoint change to reach every client's
		// pysup through the API server's watch.
		"PYSUP_DRAIN_DELAY=2s",
		"PYSUP_STOP_TIMEOUT=10s",
		fmt.Sprintf("PYSUP_READY_CHECK=tcp://%s:%d?period=200ms&failures=1", ip, port),
	)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("server %s output:\n%s", name, p.out.String())
		}
	})
	return p
}

func (p *serverPod) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// endpointsController plays the kubelet and the EndpointSlice controller:
// it probes each server pod's /readyz and writes the Service's slice with
// the conditions Kubernetes would give it.
type endpointsController struct {
	c     *kubetest.Cluster
	ns    string
	svc   string
	port  int
	hc    *http.Client
	mu    sync.Mutex
	pods  []*serverPod
	last  string   // the conditions last written, to write only changes
	flips []string // when they changed, for a failure message
}

func (e *endpointsController) add(p *serverPod) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pods = append(e.pods, p)
}

func (e *endpointsController) sync() {
	e.mu.Lock()
	pods := append([]*serverPod(nil), e.pods...)
	e.mu.Unlock()
	var eps []kubetest.Endpoint
	var key strings.Builder
	for _, p := range pods {
		if p.exited() {
			continue // the pod is gone: its endpoint is removed
		}
		ready := false
		if resp, err := e.hc.Get("http://" + p.http + "/readyz"); err == nil {
			ready = resp.StatusCode == 200
			resp.Body.Close()
		}
		// A terminating pod whose readiness fails is neither ready nor
		// serving, as the EndpointSlice controller reports it.
		eps = append(eps, kubetest.Endpoint{IP: p.ip, Ready: ready && !p.termed.Load(), Serving: ready, Terminating: p.termed.Load()})
		fmt.Fprintf(&key, "%s=%v/%v ", p.name, ready, p.termed.Load())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if key.String() == e.last {
		return
	}
	e.last = key.String()
	e.flips = append(e.flips, time.Now().Format("15:04:05.000")+" "+e.last)
	e.c.Slice(e.ns, e.svc, e.svc+"-1", "zmq", e.port, eps...)
}

func (e *endpointsController) run(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		e.sync()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// TestZMQRollingReplacementThroughDrain is issue 6's point 6 end to end,
// every part real: three server pods (pyzmq REP under pysup) behind a
// Service whose EndpointSlice follows their /readyz; a client pod's pysup
// following the slice with a minimal-RBAC ServiceAccount token, as in a
// pod; 16 REQ clients under constant load. One server is replaced by a new
// one and then SIGTERMed: its pysup fails readiness at once, the endpoint
// turns not ready, the client's pysup stops sending to it, the server
// finishes what it has during the drain and gets its stop signal after.
// Not one request is lost.
func TestZMQRollingReplacementThroughDrain(t *testing.T) {
	py := testenv.RequirePython(t, "zmq")
	testenv.RequireBinary(t, "unshare")
	testenv.RequireBinary(t, "mount")
	netns := kubetest.NewNetns(t)
	c := kubetest.Start(t)
	const ns, svc = "shop", "echo"
	token := c.ServiceAccountToken(ns, "client")
	port := 7100
	c.Service(ns, svc, "zmq", port)

	ctl := &endpointsController{c: c, ns: ns, svc: svc, port: port, hc: &http.Client{Timeout: 500 * time.Millisecond}}
	ctx, cancel := context.WithCancel(context.Background())
	var ctlDone sync.WaitGroup
	t.Cleanup(func() { cancel(); ctlDone.Wait() })
	old1 := startServerPod(t, netns, "old1", netns.Addrs[0], port)
	old2 := startServerPod(t, netns, "old2", netns.Addrs[1], port)
	ctl.add(old1)
	ctl.add(old2)
	ctl.sync()
	ctlDone.Add(1)
	go func() { defer ctlDone.Done(); ctl.run(ctx) }()

	// The client pod: its pysup sees the service account files where a
	// pod has them, in a mount namespace of its own.
	dir := t.TempDir()
	for name, data := range map[string]string{"token": token, "namespace": ns} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := os.ReadFile(c.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	front := testenv.FreePort(t)
	stop := filepath.Join(dir, "stop")
	sa := "/run/secrets/kubernetes.io/serviceaccount"
	setup := fmt.Sprintf("mount -t tmpfs tmpfs /run && mkdir -p %[1]s && cp %[2]s/token %[2]s/ca.crt %[2]s/namespace %[1]s/ && exec \"$@\"", sa, dir)
	client := startClientPod(t, setup, []string{
		"KUBERNETES_SERVICE_HOST=" + u.Hostname(),
		"KUBERNETES_SERVICE_PORT=" + u.Port(),
		fmt.Sprintf("PYSUP_ZMQ_FRONTEND=tcp://127.0.0.1:%d", front),
		fmt.Sprintf("PYSUP_ZMQ_BACKENDS=k8s://%s/%s:zmq", ns, svc),
		"PYSUP_ZMQ_TIMEOUT=15s",
	}, py, testenv.Testdata("zmq", "req_client.py"), "--connect", fmt.Sprintf("tcp://127.0.0.1:%d", front),
		"--clients", "16", "--stop-file", stop, "--timeout", "15000")

	time.Sleep(1500 * time.Millisecond)
	// The rolling update: new1 comes up and turns ready, then old1 gets
	// SIGTERM, as the kubelet sends it.
	new1 := startServerPod(t, netns, "new1", netns.Addrs[2], port)
	ctl.add(new1)
	waitUntil(t, "new1 ready in the slice", 30*time.Second, func() bool {
		ctl.mu.Lock()
		defer ctl.mu.Unlock()
		return strings.Contains(ctl.last, "new1=true")
	})
	time.Sleep(time.Second)
	old1.termed.Store(true)
	if err := syscall.Kill(old1.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-old1.done:
	case <-time.After(30 * time.Second):
		t.Fatal("old1's pysup did not exit within 30s of SIGTERM")
	}
	if code := old1.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("old1's pysup exited %d, want 0 (the server stopped gracefully)", code)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := client.wait(60 * time.Second); code != 0 {
		t.Fatalf("client exited %d", code)
	}
	var res struct {
		OK       int            `json:"ok"`
		Lost     int            `json:"lost"`
		Bad      int            `json:"bad"`
		ByServer map[string]int `json:"by_server"`
	}
	found := false
	for _, line := range strings.Split(client.stdout.String(), "\n") {
		if strings.Contains(line, `"by_server"`) {
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("record %q: %v", line, err)
			}
			found = true
		}
	}
	ctl.mu.Lock()
	t.Logf("client: %+v; slice changes: %q", res, ctl.flips)
	ctl.mu.Unlock()
	if !found {
		t.Fatalf("no client result in the client pod's output:\n%s", client.stdout.String())
	}
	if res.Lost != 0 || res.Bad != 0 {
		t.Errorf("lost %d, bad %d: want none lost during the replacement", res.Lost, res.Bad)
	}
	if res.OK < 1000 || res.ByServer["old1"] == 0 || res.ByServer["old2"] == 0 || res.ByServer["new1"] == 0 {
		t.Errorf("want traffic on old1 before, new1 after and old2 throughout: %+v", res)
	}
	served := ""
	for _, l := range strings.Split(old1.out.String(), "\n") {
		if strings.Contains(l, "SERVED") {
			served = l
		}
	}
	if served == "" {
		t.Errorf("old1's server did not finish gracefully (no SERVED record):\n%s", old1.out.String())
	}
}

// startClientPod runs pysup -- ARGV in a mount namespace prepared by the
// shell snippet setup (which ends by exec'ing its arguments).
func startClientPod(t *testing.T, setup string, env []string, argv ...string) *running {
	t.Helper()
	args := append([]string{"--mount", "sh", "-c", setup, "sh", testenv.Pysup(t), "--"}, argv...)
	r := &running{t: t, stdout: &testenv.SyncBuffer{}, stderr: &testenv.SyncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command("unshare", args...)
	r.cmd.Env = append(append(os.Environ(), "PYSUP_HTTP_ADDR="), env...)
	r.cmd.Stdout, r.cmd.Stderr = r.stdout, r.stderr
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.pid = r.cmd.Process.Pid // unshare without --fork execs: this is pysup
	go func() {
		_ = r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
		if t.Failed() {
			t.Logf("client pysup stderr:\n%s", r.stderr.String())
		}
	})
	return r
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
