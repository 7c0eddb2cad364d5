package zmqlb

import (
	"testing"

	"github.com/pysup/pysup/internal/discovery"
)

// Four real pyzmq REP servers behind the balancer, real pyzmq REQ clients
// in front: every request is answered by the right server for the right
// client, and the load is spread.
func TestStaticREQClientsREPServers(t *testing.T) {
	var eps []discovery.Endpoint
	for _, n := range []string{"s1", "s2", "s3", "s4"} {
		eps = append(eps, startServer(t, n, "127.0.0.1", 1).endpoint())
	}
	lb, reg := startLB(t, Options{MaxInflight: 8}, discovery.Static(eps))
	waitUp(t, lb, 4)
	r := startClient(t, "--connect", lb.Endpoint(), "--clients", "16", "--count", "50", "--timeout", "5000").wait(t)
	if r.OK != 800 || r.Lost != 0 || r.Bad != 0 {
		t.Fatalf("want 800 answered, got %+v", r)
	}
	for _, n := range []string{"s1", "s2", "s3", "s4"} {
		if got := r.ByServer[n]; got < 100 {
			t.Errorf("server %s answered %d of 800, want a fair share: %v", n, got, r.ByServer)
		}
	}
	if got := metricValue(t, reg, "pysup_zmq_requests_total", nil); got != 800 {
		t.Errorf("requests_total = %v, want 800", got)
	}
	if got := metricValue(t, reg, "pysup_zmq_request_duration_seconds", map[string]string{"endpoint": eps[0].Addr}); got < 100 {
		t.Errorf("latency samples of %s = %v", eps[0].Addr, got)
	}
}

// A DEALER app keeping many requests in flight gets every reply.
func TestStaticDEALERClient(t *testing.T) {
	var eps []discovery.Endpoint
	for _, n := range []string{"a", "b"} {
		eps = append(eps, startServer(t, n, "127.0.0.1", 0).endpoint())
	}
	lb, _ := startLB(t, Options{}, discovery.Static(eps))
	waitUp(t, lb, 2)
	r := startClient(t, "--connect", lb.Endpoint(), "--dealer", "--clients", "32", "--count", "2000").wait(t)
	if r.OK != 2000 || r.Lost != 0 || r.Bad != 0 {
		t.Fatalf("want 2000 answered, got %+v", r)
	}
	if r.ByServer["a"] < 400 || r.ByServer["b"] < 400 {
		t.Errorf("unfair: %v", r.ByServer)
	}
}
