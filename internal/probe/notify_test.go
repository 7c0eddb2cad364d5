package probe

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// Real gunicorn with a Flask app: readiness from gunicorn's own READY=1,
// no change to the app.
func TestGunicornNotifyReadiness(t *testing.T) {
	py := testenv.RequirePython(t, "flask", "gunicorn")
	port := itoa(testenv.FreePort(t))
	h, srv := newHealth(t, Options{Ready: mustSpecs(t, "notify"), Defaults: fast})
	if r := get(t, srv, "/readyz"); r.Code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before start: %d", r.Code)
	}
	env := h.ChildEnv()
	if len(env) != 1 || !strings.HasPrefix(env[0], "NOTIFY_SOCKET=") {
		t.Fatalf("child env: %q", env)
	}
	cmd := startProc(t, append(env, "PYTHONPATH="+testenv.Testdata("probe")), "",
		py, "-m", "gunicorn", "flask_app:app", "-b", "127.0.0.1:"+port, "-w", "2")
	h.ChildStarted(cmd.Process.Pid)
	r := eventually(t, srv, "/readyz", code(http.StatusOK))
	if r.Body.AppStatus != "Gunicorn arbiter booted" {
		t.Fatalf("/readyz body: %s", r.Raw)
	}
	if r := get(t, srv, "/startupz"); r.Code != http.StatusOK {
		t.Fatalf("/startupz: %d %s", r.Code, r.Raw)
	}
}

// Real uWSGI (master + workers) sends READY=1 over NOTIFY_SOCKET too.
func TestUWSGINotifyReadiness(t *testing.T) {
	testenv.RequirePython(t, "flask")
	uwsgi := testenv.RequireBinary(t, "uwsgi")
	if _, err := os.Stat("/usr/lib/uwsgi/plugins/python3_plugin.so"); err != nil {
		testenv.Missing(t, "uwsgi-plugin-python3")
	}
	port := itoa(testenv.FreePort(t))
	h, srv := newHealth(t, Options{Ready: mustSpecs(t, "notify"), Defaults: fast})
	cmd := startProc(t, h.ChildEnv(), "", uwsgi,
		"--plugin", "python3", "--master", "--processes", "2",
		"--http-socket", "127.0.0.1:"+port,
		"--chdir", testenv.Testdata("probe"), "--module", "flask_app:app",
		"--die-on-term", "--disable-logging")
	h.ChildStarted(cmd.Process.Pid)
	r := eventually(t, srv, "/readyz", code(http.StatusOK))
	t.Logf("/readyz: %s", strings.TrimSpace(r.Raw))
}

// An app that stops sending WATCHDOG=1: liveness fails, readiness (its own
// matter) does not decide it.
func TestWatchdogStopsLiveness(t *testing.T) {
	h, srv := newHealth(t, Options{
		Ready:    mustSpecs(t, "notify"),
		Watchdog: time.Second,
		Defaults: fast,
	})
	env := h.ChildEnv()
	if len(env) != 2 || env[1] != "WATCHDOG_USEC=1000000" {
		t.Fatalf("child env: %q", env)
	}
	// READY=1, then 4 heartbeats 500 ms apart (~2 s), then silence.
	app := python(t, env, "", "notify_app.py", "--beats", "4", "READY=1", "STATUS=serving")
	h.ChildStarted(app.Process.Pid)
	eventually(t, srv, "/readyz", code(http.StatusOK))
	if r := get(t, srv, "/livez"); r.Code != http.StatusOK {
		t.Fatalf("/livez while beating: %d %s", r.Code, r.Raw)
	}
	r := eventually(t, srv, "/livez", code(http.StatusServiceUnavailable))
	if !strings.Contains(r.Body.Reason, "no WATCHDOG=1 for") {
		t.Fatalf("/livez: %s", r.Raw)
	}
	if r := get(t, srv, "/readyz"); r.Code != http.StatusOK {
		t.Fatalf("/readyz: %d %s", r.Code, r.Raw)
	}
}

// Datagrams from a process outside the child's tree are ignored and
// counted; one from a worker the child forked is taken.
func TestNotifyOnlyFromChildTree(t *testing.T) {
	testenv.RequirePython(t)
	h, srv := newHealth(t, Options{Ready: mustSpecs(t, "notify"), Defaults: fast})
	env := h.ChildEnv()
	child := python(t, env, "", "notify_app.py") // sends nothing
	h.ChildStarted(child.Process.Pid)

	// A stranger (started by the test, not by the child) says READY=1.
	python(t, env, "sent", "notify_app.py", "READY=1")
	r := eventually(t, srv, "/readyz?verbose", func(r reply) bool { return r.Body.Notify != nil && r.Body.Notify.Rejected >= 1 })
	if r.Code != http.StatusServiceUnavailable || r.Body.Notify.Accepted != 0 {
		t.Fatalf("after a stranger's READY=1: %d %s", r.Code, r.Raw)
	}
	if s := h.Snapshot(); s.NotifyRejected < 1 || s.Ready {
		t.Fatalf("snapshot: %+v", s)
	}

	// The child's own worker (a grandchild of pysup) is in the tree.
	h.ChildExited()
	worker := python(t, env, "", "notify_app.py", "--via-child", "--after", "0.5", "READY=1")
	h.ChildStarted(worker.Process.Pid)
	eventually(t, srv, "/readyz", code(http.StatusOK))
}

func TestStoppingFailsReadiness(t *testing.T) {
	h, srv := newHealth(t, Options{Ready: mustSpecs(t, "notify"), Defaults: fast})
	// The child's worker says READY=1, then STOPPING=1 with a status.
	app := python(t, h.ChildEnv(), "", "notify_app.py", "--via-child", "--after", "0.3", "READY=1", "STOPPING=1\nSTATUS=shutting down")
	h.ChildStarted(app.Process.Pid)
	r := eventually(t, srv, "/readyz", func(r reply) bool { return r.Body.AppStatus == "shutting down" })
	if r.Code != http.StatusServiceUnavailable || !strings.Contains(r.Body.Reason, "STOPPING=1") {
		t.Fatalf("/readyz: %d %s", r.Code, r.Raw)
	}
	if r := get(t, srv, "/livez"); r.Code != http.StatusOK {
		t.Fatalf("/livez: %d %s", r.Code, r.Raw)
	}
}

// Startup that never passes fails liveness after PYSUP_STARTUP_TIMEOUT;
// EXTEND_TIMEOUT_USEC from the app pushes the deadline out.
func TestStartupTimeoutAndExtend(t *testing.T) {
	opts := Options{Startup: mustSpecs(t, "notify"), StartupTimeout: 300 * time.Millisecond, Defaults: fast}

	h, srv := newHealth(t, opts)
	app := python(t, h.ChildEnv(), "", "notify_app.py")
	h.ChildStarted(app.Process.Pid)
	if r := get(t, srv, "/livez"); r.Code != http.StatusOK || r.Body.Status != "starting" {
		t.Fatalf("/livez while starting: %d %s", r.Code, r.Raw)
	}
	r := eventually(t, srv, "/livez", code(http.StatusServiceUnavailable))
	if !strings.Contains(r.Body.Reason, "startup timed out") {
		t.Fatalf("/livez: %s", r.Raw)
	}

	h2, srv2 := newHealth(t, opts)
	app2 := python(t, h2.ChildEnv(), "", "notify_app.py", "--after", "0.1", "EXTEND_TIMEOUT_USEC=60000000")
	h2.ChildStarted(app2.Process.Pid)
	eventually(t, srv2, "/startupz?verbose", func(r reply) bool { return strings.Contains(r.Raw, `"deadline"`) && h2.Snapshot().NotifyAccepted >= 1 })
	time.Sleep(time.Second) // well past the 300 ms timeout
	if r := get(t, srv2, "/livez"); r.Code != http.StatusOK || r.Body.Status != "starting" {
		t.Fatalf("/livez after EXTEND_TIMEOUT_USEC: %d %s", r.Code, r.Raw)
	}
}
