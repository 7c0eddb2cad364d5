package zmqlb

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/discovery"
)

// A server slower than the reply timeout: the request is counted as timed
// out, the endpoint taken out and reconnected; the fast one keeps serving.
func TestReplyTimeoutTakesEndpointOut(t *testing.T) {
	slow := startServer(t, "slow", "127.0.0.1", 1500)
	fast := startServer(t, "fast", "127.0.0.1", 0)
	lb, reg := startLB(t, Options{Timeout: 300 * time.Millisecond, BackoffMin: 50 * time.Millisecond}, discovery.Static{slow.endpoint(), fast.endpoint()})
	waitUp(t, lb, 2)
	r := startClient(t, "--connect", lb.Endpoint(), "--clients", "4", "--count", "20", "--timeout", "1000").wait(t)
	t.Logf("client: %+v", r)
	if r.ByServer["fast"] < 40 || r.Bad != 0 {
		t.Errorf("fast server should carry the load: %+v", r)
	}
	if got := metricValue(t, reg, "pysup_zmq_endpoint_errors_total", map[string]string{"endpoint": slow.addr, "reason": "timeout"}); got < 1 {
		t.Errorf("timeouts on the slow endpoint = %v", got)
	}
	if got := metricValue(t, reg, "pysup_zmq_frontend_errors_total", map[string]string{"reason": "timeout"}); got != float64(r.Lost) {
		t.Errorf("frontend timeouts %v, client lost %d", got, r.Lost)
	}
}

// The per-endpoint in-flight cap holds; requests beyond it wait and are
// all answered.
func TestMaxInflightCap(t *testing.T) {
	s := startServer(t, "only", "127.0.0.1", 5)
	lb, reg := startLB(t, Options{MaxInflight: 2}, discovery.Static{s.endpoint()})
	waitUp(t, lb, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	peakc := make(chan float64)
	go func() {
		peak := 0.0
		for ctx.Err() == nil {
			peak = max(peak, metricValue(t, reg, "pysup_zmq_inflight_requests", nil))
			time.Sleep(time.Millisecond)
		}
		peakc <- peak
	}()
	r := startClient(t, "--connect", lb.Endpoint(), "--clients", "8", "--count", "10").wait(t)
	cancel()
	peak := <-peakc
	if r.OK != 80 {
		t.Fatalf("%+v", r)
	}
	if peak > 2 || peak < 1 {
		t.Errorf("peak in flight = %v, want <= 2", peak)
	}
}

// Drain stops taking requests and returns once the ones in flight are
// answered; an ipc:// frontend works like tcp://.
func TestDrainOverIPC(t *testing.T) {
	s := startServer(t, "s", "127.0.0.1", 100)
	sock := filepath.Join(t.TempDir(), "fe.sock")
	lb, reg := startLB(t, Options{Frontend: "ipc://" + sock}, discovery.Static{s.endpoint()})
	waitUp(t, lb, 1)
	stop := filepath.Join(t.TempDir(), "stop")
	c := startClient(t, "--connect", lb.Endpoint(), "--clients", "4", "--stop-file", stop, "--timeout", "3000")
	waitFor(t, "requests in flight", func() bool {
		return metricValue(t, reg, "pysup_zmq_inflight_requests", nil) > 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := lb.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Drain took %v", d)
	}
	answered := metricValue(t, reg, "pysup_zmq_request_duration_seconds", nil)
	sent := metricValue(t, reg, "pysup_zmq_requests_total", nil)
	if answered != sent || sent == 0 {
		t.Errorf("after Drain: %v sent, %v answered", sent, answered)
	}
	_ = os.WriteFile(stop, nil, 0o644)
	_ = lb.Close()
	r := c.wait(t)
	if r.OK == 0 || r.Bad != 0 {
		t.Errorf("client: %+v", r)
	}
}

// Connections beyond MaxConns are refused and counted, handshaking or not.
func TestConnLimit(t *testing.T) {
	s := startServer(t, "s", "127.0.0.1", 0)
	lb, reg := startLB(t, Options{MaxConns: 2}, discovery.Static{s.endpoint()})
	waitUp(t, lb, 1)
	for range 2 {
		c, err := net.Dial("tcp", lb.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close() // silent: stuck in the handshake
	}
	waitFor(t, "refusals", func() bool {
		c, err := net.Dial("tcp", lb.Addr().String())
		if err == nil {
			c.Close()
		}
		return metricValue(t, reg, "pysup_zmq_frontend_errors_total", map[string]string{"reason": "conn_limit"}) > 0
	})
}
