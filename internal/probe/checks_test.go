package probe

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/reaper"
	"github.com/pysup/pysup/internal/testenv"
)

// fast are defaults that keep the tests quick; thresholds stay kubelet's.
var fast = Defaults{Period: 50 * time.Millisecond, Timeout: 500 * time.Millisecond, Failures: 3, Successes: 1}

func TestTCPAndHTTPChecks(t *testing.T) {
	port := itoa(testenv.FreePort(t))
	flag := filepath.Join(t.TempDir(), "flag")
	app := python(t, nil, "listening", "http_app.py", port, flag)
	base := "127.0.0.1:" + port

	h, srv := newHealth(t, Options{
		Ready:    mustSpecs(t, "tcp://"+base+", http://"+base+"/ok, http://"+base+"/redirect"),
		Defaults: fast,
	})
	if r := get(t, srv, "/readyz"); r.Code != http.StatusServiceUnavailable {
		t.Fatalf("before the child started: /readyz %d %s", r.Code, r.Raw)
	}
	h.ChildStarted(app.Process.Pid)
	r := eventually(t, srv, "/readyz", code(http.StatusOK))
	if r.Body.Status != "ok" || len(r.Body.Checks) != 3 {
		t.Fatalf("/readyz body: %s", r.Raw)
	}
	for _, c := range r.Body.Checks {
		if !c.OK || c.Error != "" {
			t.Errorf("check %s: %+v", c.Name, c)
		}
	}
}

func TestHTTPCheckFailureReason(t *testing.T) {
	port := itoa(testenv.FreePort(t))
	app := python(t, nil, "listening", "http_app.py", port, "/nonexistent")
	h, srv := newHealth(t, Options{
		Ready:    mustSpecs(t, "http://127.0.0.1:"+port+"/fail"),
		Defaults: fast,
	})
	h.ChildStarted(app.Process.Pid)
	r := eventually(t, srv, "/readyz", func(r reply) bool { return r.Body.Reason != "" && strings.Contains(r.Body.Reason, "HTTP") })
	if r.Code != http.StatusServiceUnavailable || !strings.Contains(r.Body.Reason, "HTTP 503: database unreachable") {
		t.Fatalf("/readyz: %d %s", r.Code, r.Raw)
	}
}

func TestTCPCheckRefused(t *testing.T) {
	port := itoa(testenv.FreePort(t))
	h, srv := newHealth(t, Options{Ready: mustSpecs(t, "tcp://127.0.0.1:"+port), Defaults: fast})
	h.ChildStarted(os.Getpid())
	r := eventually(t, srv, "/readyz", func(r reply) bool { return strings.Contains(r.Body.Reason, "refused") })
	if r.Code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz: %d %s", r.Code, r.Raw)
	}
}

func TestZMQCheck(t *testing.T) {
	testenv.RequirePython(t, "zmq")
	port := itoa(testenv.FreePort(t))
	app := python(t, nil, "bound", "zmq_rep.py", port)
	h, srv := newHealth(t, Options{
		Ready:    mustSpecs(t, "zmq://127.0.0.1:"+port+"?send=ping&timeout=2s"),
		Live:     mustSpecs(t, "zmq://127.0.0.1:"+port+"?send=a&send=b&timeout=2s"),
		Defaults: fast,
	})
	h.ChildStarted(app.Process.Pid)
	eventually(t, srv, "/readyz", code(http.StatusOK))
	eventually(t, srv, "/livez", func(r reply) bool { return r.Code == 200 && r.Body.Status == "ok" && r.Body.Checks[0].LatencyMS > 0 })
	for _, c := range h.Snapshot().Checks {
		if c.Attempts > 0 && !c.OK {
			t.Errorf("%s %s: %s", c.Role, c.Name, c.LastError)
		}
	}
}

// A REP server that answers twice and then hangs with its socket open: the
// zmq live check must fail liveness after the failure threshold, and only
// then.
func TestZMQHungAppFailsLiveness(t *testing.T) {
	testenv.RequirePython(t, "zmq")
	port := itoa(testenv.FreePort(t))
	app := python(t, nil, "bound", "zmq_rep.py", port, "2")
	h, srv := newHealth(t, Options{
		Live:     mustSpecs(t, "zmq://127.0.0.1:"+port+"?send=ping&timeout=100ms&period=100ms&failures=3"),
		Defaults: fast,
	})
	h.ChildStarted(app.Process.Pid)
	sawBelowThreshold := false
	r := eventually(t, srv, "/livez?verbose", func(r reply) bool {
		c := r.Body.Checks[0]
		if c.ConsecFail > 0 && c.ConsecFail < 3 {
			sawBelowThreshold = true
			if r.Code != http.StatusOK {
				t.Errorf("/livez %d after %d failures, threshold 3: %s", r.Code, c.ConsecFail, r.Raw)
			}
		}
		return r.Code == http.StatusServiceUnavailable
	})
	if c := r.Body.Checks[0]; c.ConsecFail < 3 || !strings.Contains(c.Error, "no reply") {
		t.Fatalf("/livez: %s", r.Raw)
	}
	if r.Body.Status != "failing" || !strings.Contains(r.Body.Reason, "zmq://127.0.0.1:"+port) {
		t.Fatalf("/livez body: %s", r.Raw)
	}
	t.Logf("saw the check below its threshold: %v", sawBelowThreshold)
	// Readiness has no checks: a hung live check is not a readiness matter.
	if r := get(t, srv, "/readyz"); r.Code != http.StatusOK {
		t.Fatalf("/readyz: %d %s", r.Code, r.Raw)
	}
}

// A peer that accepts TCP but never speaks ZMTP must not hang the check:
// zmq4's handshake has no timeout of its own.
func TestZMQSilentPeerTimesOut(t *testing.T) {
	py := testenv.RequirePython(t)
	port := itoa(testenv.FreePort(t))
	code := "import socket,time;s=socket.socket();s.bind(('127.0.0.1'," + port + "));s.listen(8);print('listening',flush=True);time.sleep(3600)"
	startProc(t, nil, "listening", py, "-c", code)
	h, srv := newHealth(t, Options{Ready: mustSpecs(t, "zmq://127.0.0.1:"+port+"?timeout=200ms"), Defaults: fast})
	h.ChildStarted(os.Getpid())
	r := eventually(t, srv, "/readyz", func(r reply) bool { return r.Body.Checks[0].Error != "" })
	if r.Code != http.StatusServiceUnavailable || !strings.Contains(r.Body.Checks[0].Error, "timed out after 200ms") {
		t.Fatalf("/readyz: %d %s", r.Code, r.Raw)
	}
}

// A broken peer announcing a 2^40 byte frame fails the check instead of
// making pysup allocate a terabyte.
func TestZMQHugeFrameRefused(t *testing.T) {
	port := itoa(testenv.FreePort(t))
	python(t, nil, "listening", "zmtp_huge.py", port)
	h, srv := newHealth(t, Options{Ready: mustSpecs(t, "zmq://127.0.0.1:"+port+"?timeout=2s"), Defaults: fast})
	h.ChildStarted(os.Getpid())
	r := eventually(t, srv, "/readyz", func(r reply) bool { return r.Body.Checks[0].Error != "" })
	if r.Code != http.StatusServiceUnavailable || !strings.Contains(r.Body.Checks[0].Error, "1099511627776 byte frame") {
		t.Fatalf("/readyz: %d %s", r.Code, r.Raw)
	}
}

func TestCappedConnScan(t *testing.T) {
	c := &cappedConn{max: 10, greeting: 3}
	// greeting, a short frame of 4, a long frame of 10, then a long of 11
	stream := []byte{1, 2, 3, 0x00, 4, 'a', 'b', 'c', 'd', 0x02, 0, 0, 0, 0, 0, 0, 0, 10}
	stream = append(stream, make([]byte, 10)...)
	for i := range stream { // byte by byte: reads may split anywhere
		if err := c.scan(stream[i : i+1]); err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	if err := c.scan([]byte{0x03, 0, 0, 0, 0, 0, 0, 0, 11}); err == nil {
		t.Fatal("an 11 byte frame passed a 10 byte cap")
	}
}

func startReaper(t *testing.T) *reaper.Reaper {
	t.Helper()
	r := reaper.New(false, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func TestExecCheck(t *testing.T) {
	py := testenv.RequirePython(t)
	r := startReaper(t)
	h, srv := newHealth(t, Options{
		Ready:    mustSpecs(t, `exec:`+py+` -c "import sys; sys.exit(0)"`),
		Live:     mustSpecs(t, `exec:`+py+` -c "import sys; print('queue stuck, depth', 5000); sys.exit(3)"`),
		Startup:  mustSpecs(t, `exec:`+py+` -c "pass"`),
		Runner:   r,
		Defaults: fast,
	})
	h.ChildStarted(os.Getpid())
	eventually(t, srv, "/startupz", code(http.StatusOK))
	eventually(t, srv, "/readyz", code(http.StatusOK))
	lr := eventually(t, srv, "/livez", code(http.StatusServiceUnavailable))
	if !strings.Contains(lr.Body.Reason, "exit status 3: queue stuck, depth 5000") {
		t.Fatalf("/livez: %s", lr.Raw)
	}
}

func TestExecCheckTimeout(t *testing.T) {
	r := startReaper(t)
	testenv.RequireBinary(t, "sleep")
	h, srv := newHealth(t, Options{
		Ready:    mustSpecs(t, "exec:sleep 30"),
		Runner:   r,
		Defaults: Defaults{Period: 50 * time.Millisecond, Timeout: 200 * time.Millisecond},
	})
	h.ChildStarted(os.Getpid())
	rr := eventually(t, srv, "/readyz", func(r reply) bool { return r.Body.Checks[0].Error != "" })
	if rr.Code != http.StatusServiceUnavailable || !strings.Contains(rr.Body.Checks[0].Error, "timed out after 200ms") {
		t.Fatalf("/readyz: %d %s", rr.Code, rr.Raw)
	}
}

func TestExecNeedsRunner(t *testing.T) {
	_, err := New(Options{Ready: mustSpecs(t, "exec:true")})
	if err == nil || !strings.Contains(err.Error(), "runner") {
		t.Fatalf("New without a runner: %v", err)
	}
}
