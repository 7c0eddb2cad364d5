package zmqlb

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/discovery"
)

// backendUsable reports whether the balancer sees addr as usable.
func backendUsable(lb *Balancer, addr string) (usable, known bool) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	b := lb.backends[addr]
	if b == nil {
		return false, false
	}
	return b.usable, true
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The rolling replacement under constant load: a new server gets traffic
// within a second; the old one is flipped not-ready, gets no new request
// from then on, finishes what it has, and is stopped: no request is lost.
func TestRollingReplacementLosesNothing(t *testing.T) {
	s1 := startServer(t, "old1", "127.0.0.1", 2)
	s2 := startServer(t, "old2", "127.0.0.1", 2)
	var src discovery.Manual
	src.Set([]discovery.Endpoint{s1.endpoint(), s2.endpoint()})
	lb, reg := startLB(t, Options{Timeout: 5 * time.Second}, &src)
	waitUp(t, lb, 2)

	stop := filepath.Join(t.TempDir(), "stop")
	c := startClient(t, "--connect", lb.Endpoint(), "--clients", "16", "--stop-file", stop, "--timeout", "10000")
	time.Sleep(500 * time.Millisecond)

	// Replace old1 by new1.
	n1 := startServer(t, "new1", "127.0.0.1", 2)
	added := time.Now()
	src.Set([]discovery.Endpoint{s1.endpoint(), s2.endpoint(), n1.endpoint()})
	waitFor(t, "new1 to get traffic", func() bool {
		return metricValue(t, reg, "pysup_zmq_requests_total", map[string]string{"endpoint": n1.addr}) > 0
	})
	// Within a second (the contract) on an idle machine; a loaded CI
	// machine gets room, and the time is logged.
	d := time.Since(added)
	t.Logf("new endpoint got its first request after %v", d)
	if d > 3*time.Second {
		t.Errorf("new endpoint got its first request after %v, want about a second", d)
	}
	notReady := s1.endpoint()
	notReady.Ready, notReady.Terminating = false, true
	src.Set([]discovery.Endpoint{notReady, s2.endpoint(), n1.endpoint()})
	waitFor(t, "old1 not usable", func() bool { u, _ := backendUsable(lb, s1.addr); return !u })
	before := metricValue(t, reg, "pysup_zmq_requests_total", map[string]string{"endpoint": s1.addr})
	time.Sleep(300 * time.Millisecond) // the drain delay: in-flight requests finish
	if after := metricValue(t, reg, "pysup_zmq_requests_total", map[string]string{"endpoint": s1.addr}); after != before {
		t.Errorf("old1 got %v requests after it turned not ready", after-before)
	}
	if out := s1.stop(t); out == "" {
		t.Errorf("old1 did not report how many it served")
	}
	src.Set([]discovery.Endpoint{s2.endpoint(), n1.endpoint()})
	waitFor(t, "old1 retired", func() bool { _, known := backendUsable(lb, s1.addr); return !known })
	time.Sleep(500 * time.Millisecond)

	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := c.wait(t)
	t.Logf("client: %+v", r)
	if r.Lost != 0 || r.Bad != 0 || r.OK < 500 {
		t.Fatalf("want no request lost, got %+v", r)
	}
	if r.ByServer["new1"] == 0 || r.ByServer["old1"] == 0 {
		t.Errorf("want traffic on old1 then new1: %v", r.ByServer)
	}
	if e := metricValue(t, reg, "pysup_zmq_frontend_errors_total", nil); e != 0 {
		t.Errorf("frontend errors: %v", e)
	}
}

// A server that dies mid-load is taken out and retried with backoff; with
// PYSUP_ZMQ_RETRY=1 semantics its in-flight requests are answered elsewhere.
func TestBackendDeathWithRetry(t *testing.T) {
	s1 := startServer(t, "dies", "127.0.0.1", 20)
	s2 := startServer(t, "lives", "127.0.0.1", 2)
	lb, reg := startLB(t, Options{Timeout: 3 * time.Second, Retry: 1}, discovery.Static{s1.endpoint(), s2.endpoint()})
	waitUp(t, lb, 2)
	stop := filepath.Join(t.TempDir(), "stop")
	c := startClient(t, "--connect", lb.Endpoint(), "--clients", "8", "--stop-file", stop, "--timeout", "10000")
	time.Sleep(500 * time.Millisecond)
	s1.kill() // SIGKILL: requests in flight on it get no reply
	time.Sleep(time.Second)
	_ = os.WriteFile(stop, nil, 0o644)
	r := c.wait(t)
	t.Logf("client: %+v", r)
	if r.Lost != 0 || r.Bad != 0 {
		t.Fatalf("with retry, want nothing lost: %+v", r)
	}
	if got := metricValue(t, reg, "pysup_zmq_endpoint_errors_total", map[string]string{"endpoint": s1.addr, "reason": "connect"}); got < 1 {
		t.Errorf("want reconnect attempts counted on the dead endpoint, got %v", got)
	}
}
