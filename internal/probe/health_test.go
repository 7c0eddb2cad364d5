package probe

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// Draining fails /readyz at once (no check runs in between: the state
// changes inside Draining) while /livez stays 200; the child's exit fails
// /livez.
func TestDraining(t *testing.T) {
	port := itoa(testenv.FreePort(t))
	app := python(t, nil, "listening", "http_app.py", port, "/nonexistent")
	h, srv := newHealth(t, Options{
		Ready:    mustSpecs(t, "http://127.0.0.1:"+port+"/ok"),
		Live:     mustSpecs(t, "tcp://127.0.0.1:"+port),
		Defaults: fast,
	})
	h.ChildStarted(app.Process.Pid)
	eventually(t, srv, "/readyz", code(http.StatusOK))

	h.Draining()
	r := get(t, srv, "/readyz")
	if r.Code != http.StatusServiceUnavailable || r.Body.Status != "draining" {
		t.Fatalf("/readyz right after Draining: %d %s", r.Code, r.Raw)
	}
	if r := get(t, srv, "/livez"); r.Code != http.StatusOK || r.Body.Status != "draining" {
		t.Fatalf("/livez while draining: %d %s", r.Code, r.Raw)
	}
	h.ChildExited()
	for _, p := range []string{"/livez", "/readyz", "/startupz"} {
		if r := get(t, srv, p); r.Code != http.StatusServiceUnavailable || r.Body.Status != "exited" {
			t.Errorf("%s after exit: %d %s", p, r.Code, r.Raw)
		}
	}
	if s := h.Snapshot(); s.Ready || s.Live || s.Started {
		t.Errorf("snapshot after exit: %+v", s)
	}
}

// Until startup passes, liveness is healthy-but-starting and readiness is
// false, whatever the live and ready checks say; live checks begin only
// then, with fresh counters.
func TestStartupGatesLiveAndReady(t *testing.T) {
	port := itoa(testenv.FreePort(t))
	h, srv := newHealth(t, Options{
		Startup:  mustSpecs(t, "tcp://127.0.0.1:"+port),
		Ready:    mustSpecs(t, "http://127.0.0.1:"+port+"/ok"),
		Live:     mustSpecs(t, "http://127.0.0.1:"+port+"/fail"),
		Defaults: fast,
	})
	if r := get(t, srv, "/livez"); r.Code != http.StatusOK {
		t.Fatalf("/livez before the child: %d %s", r.Code, r.Raw)
	}
	h.ChildStarted(os.Getpid())
	// Nothing listens yet: startup fails, a few times.
	eventually(t, srv, "/startupz?verbose", func(r reply) bool { return r.Body.Checks[0].ConsecFail >= 4 })
	for _, c := range []struct {
		path   string
		code   int
		status string
	}{{"/startupz", 503, "starting"}, {"/readyz", 503, "starting"}, {"/livez", 200, "starting"}} {
		if r := get(t, srv, c.path); r.Code != c.code || r.Body.Status != c.status {
			t.Errorf("%s while starting: %d %s", c.path, r.Code, r.Raw)
		}
	}
	python(t, nil, "listening", "http_app.py", port, "/nonexistent")
	eventually(t, srv, "/startupz", code(http.StatusOK))
	eventually(t, srv, "/readyz", code(http.StatusOK))
	r := eventually(t, srv, "/livez", code(http.StatusServiceUnavailable))
	if !strings.Contains(r.Body.Reason, "HTTP 503") {
		t.Fatalf("/livez: %s", r.Raw)
	}
	for _, c := range h.Snapshot().Checks {
		if c.Role == RoleStartup && c.Attempts < 4 {
			t.Errorf("startup check: %+v", c)
		}
	}
}

// failures= and successes= from the spec: a check flips only after that
// many consecutive results, observed through what /readyz?verbose shows
// (one consistent answer holds both the counters and the status code).
func TestThresholds(t *testing.T) {
	port := itoa(testenv.FreePort(t))
	flag := filepath.Join(t.TempDir(), "flag")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	app := python(t, nil, "listening", "http_app.py", port, flag)
	h, srv := newHealth(t, Options{
		Ready:    mustSpecs(t, "http://127.0.0.1:"+port+"/flag?period=150ms&failures=3&successes=2"),
		Defaults: fast,
	})
	h.ChildStarted(app.Process.Pid)
	eventually(t, srv, "/readyz", code(http.StatusOK))

	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	below := 0
	eventually(t, srv, "/readyz?verbose", func(r reply) bool {
		c := r.Body.Checks[0]
		switch {
		case c.ConsecFail >= 3:
			if r.Code != http.StatusServiceUnavailable {
				t.Fatalf("%d failures, threshold 3, still %d: %s", c.ConsecFail, r.Code, r.Raw)
			}
			return true
		case c.ConsecFail > 0:
			below++
			if r.Code != http.StatusOK {
				t.Fatalf("%d failures, threshold 3, already %d: %s", c.ConsecFail, r.Code, r.Raw)
			}
		}
		return false
	})

	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, srv, "/readyz?verbose", func(r reply) bool {
		c := r.Body.Checks[0]
		switch {
		case c.ConsecOK >= 2:
			if r.Code != http.StatusOK {
				t.Fatalf("%d successes, threshold 2, still %d: %s", c.ConsecOK, r.Code, r.Raw)
			}
			return true
		case c.ConsecOK == 1:
			below++
			if r.Code != http.StatusServiceUnavailable {
				t.Fatalf("1 success, threshold 2, already %d: %s", r.Code, r.Raw)
			}
		}
		return false
	})
	t.Logf("answers seen below a threshold: %d", below)
}

func TestCheckRecordThresholds(t *testing.T) {
	def := newCheckDef(RoleReady, Spec{Raw: "x", Kind: KindTCP, Failures: 2, Successes: 3}, KubeletDefaults, nil)
	c := newCheck(def)
	fail, now := errors.New("down"), time.Now()
	steps := []struct {
		err  error
		want bool
	}{
		{nil, false}, {nil, false}, {nil, true}, // 3 successes to pass
		{fail, true}, {nil, true}, {fail, true}, {fail, false}, // 2 in a row to fail
		{nil, false}, {nil, false}, {fail, false}, {nil, false}, {nil, false}, {nil, true},
	}
	for i, s := range steps {
		c.record(s.err, time.Millisecond, now)
		if c.ok != s.want {
			t.Fatalf("step %d: ok=%v, want %v", i, c.ok, s.want)
		}
	}
	live := newCheck(newCheckDef(RoleLive, Spec{Raw: "y", Kind: KindTCP}, KubeletDefaults, nil))
	if !live.ok {
		t.Fatal("a live check must pass until it fails its threshold")
	}
}

// Per-spec overrides reach the running check: ?verbose shows them.
func TestSpecOverridesApplied(t *testing.T) {
	port := itoa(testenv.FreePort(t))
	h, srv := newHealth(t, Options{
		Ready:    mustSpecs(t, "tcp://127.0.0.1:"+port+"?period=70ms&timeout=30ms&failures=4&successes=2, notify?period=5s, tcp://127.0.0.1:"+port),
		Defaults: Defaults{Period: 2 * time.Second, Timeout: 300 * time.Millisecond, Failures: 5, Successes: 1},
	})
	h.ChildStarted(os.Getpid())
	r := get(t, srv, "/readyz?verbose")
	want := []struct {
		period, timeout     string
		failures, successes int
	}{{"70ms", "30ms", 4, 2}, {"5s", "300ms", 1, 1}, {"2s", "300ms", 5, 1}}
	if len(r.Body.Checks) != len(want) {
		t.Fatalf("/readyz?verbose: %s", r.Raw)
	}
	for i, w := range want {
		c := r.Body.Checks[i]
		if c.Period != w.period || c.Timeout != w.timeout || c.Failures != w.failures || c.Successes != w.successes {
			t.Errorf("check %s: got %s/%s/%d/%d, want %+v", c.Name, c.Period, c.Timeout, c.Failures, c.Successes, w)
		}
	}
	if plain := get(t, srv, "/readyz"); strings.Contains(plain.Raw, `"period":`) {
		t.Errorf("the default body should stay small: %s", plain.Raw)
	}
}

func TestHandlerRoutes(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("m 1\n")) })
	srv := servedWith(t, h, metrics)
	h.ChildStarted(os.Getpid())
	eventually(t, srv, "/readyz", code(http.StatusOK))

	resp, err := http.Head(srv.URL + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("HEAD /readyz: %v %v", resp, err)
	}
	resp, err = http.Post(srv.URL+"/livez", "text/plain", nil)
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /livez: %v %v", resp, err)
	}
	resp, err = http.Get(srv.URL + "/nothing")
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nothing: %v %v", resp, err)
	}
	resp, err = http.Get(srv.URL + "/metrics")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestClient(t *testing.T) {
	if got := ClientAddr(":9180"); got != "127.0.0.1:9180" {
		t.Errorf("ClientAddr(:9180) = %s", got)
	}
	if got := ClientAddr("0.0.0.0:1"); got != "127.0.0.1:1" {
		t.Errorf("ClientAddr(0.0.0.0:1) = %s", got)
	}
	if got := ClientAddr("[::]:1"); got != "127.0.0.1:1" {
		t.Errorf("ClientAddr([::]:1) = %s", got)
	}
	if got := ClientAddr("10.0.0.1:2"); got != "10.0.0.1:2" {
		t.Errorf("ClientAddr(10.0.0.1:2) = %s", got)
	}

	h, srv := newHealth(t, Options{})
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	var stderr bytes.Buffer
	if code := Main(ctx, []string{"ready", "--addr", addr}, ":1", &stderr); code != 1 || !strings.Contains(stderr.String(), "503") {
		t.Fatalf("ready before start: exit %d, %q", code, stderr.String())
	}
	h.ChildStarted(os.Getpid())
	eventually(t, srv, "/readyz", code(http.StatusOK))
	for _, which := range []string{"live", "ready", "startup"} {
		stderr.Reset()
		if code := Main(ctx, []string{which, "--addr=" + addr}, ":1", &stderr); code != 0 {
			t.Errorf("%s: exit %d, %q", which, code, stderr.String())
		}
	}
	h.Draining()
	stderr.Reset()
	if code := Main(ctx, []string{"ready"}, addr, &stderr); code != 1 || !strings.Contains(stderr.String(), `"status":"draining"`) {
		t.Fatalf("ready while draining: exit %d, %q", code, stderr.String())
	}
	stderr.Reset()
	if code := Main(ctx, []string{"live"}, addr, &stderr); code != 0 {
		t.Fatalf("live while draining: exit %d, %q", code, stderr.String())
	}
	stderr.Reset()
	if code := Main(ctx, []string{"bogus"}, addr, &stderr); code != 2 {
		t.Fatalf("bogus: exit %d, %q", code, stderr.String())
	}
	stderr.Reset()
	if code := Main(ctx, []string{"live"}, "127.0.0.1:"+itoa(testenv.FreePort(t)), &stderr); code != 1 || !strings.Contains(stderr.String(), "refused") {
		t.Fatalf("no pysup: exit %d, %q", code, stderr.String())
	}
}

// Before the child starts, a start phase (the pre-start commands) shows on
// /startupz and /readyz as 503 with its progress, while /livez stays 200;
// the child's start clears it.
func TestStartPhase(t *testing.T) {
	h, srv := newHealth(t, Options{Defaults: fast})
	h.StartPhase("prestart", "2/3: python3 manage.py collectstatic")
	for _, p := range []string{"/startupz", "/readyz"} {
		r := get(t, srv, p)
		if r.Code != http.StatusServiceUnavailable || r.Body.Phase != "prestart" ||
			r.Body.Progress != "2/3: python3 manage.py collectstatic" || !strings.Contains(r.Body.Reason, "prestart 2/3") {
			t.Errorf("%s during prestart: %d %s", p, r.Code, r.Raw)
		}
	}
	if r := get(t, srv, "/livez"); r.Code != http.StatusOK || r.Body.Phase != "prestart" {
		t.Errorf("/livez during prestart: %d %s", r.Code, r.Raw)
	}
	h.ChildStarted(os.Getpid())
	eventually(t, srv, "/startupz", code(http.StatusOK))
	if r := get(t, srv, "/startupz"); r.Body.Phase != "" || r.Body.Progress != "" {
		t.Errorf("/startupz after the start: %s", r.Raw)
	}
	h.StartPhase("prestart", "late") // ignored once the child runs
	if r := get(t, srv, "/readyz"); r.Body.Phase != "" {
		t.Errorf("/readyz after a late StartPhase: %s", r.Raw)
	}
}
