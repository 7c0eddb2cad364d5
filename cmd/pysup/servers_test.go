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

func waitHTTP(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not answering after %s", url, timeout)
}

type result struct {
	status int
	body   string
	err    error
}

// inflight starts a slow request and returns where its result arrives.
func inflight(url string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(url)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	return ch
}

// stopDuringRequest starts the server under pysup, sends SIGTERM while a
// 1.5 s request is in flight, and returns that request's result and
// pysup's exit status.
func stopDuringRequest(t *testing.T, m mode, env []string, port int, argv ...string) (result, int) {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "slow-started")
	env = append([]string{"PYSUP_STOP_TIMEOUT=15s", "PYSUP_DRAIN_DELAY=200ms", "SLOW_MARKER=" + marker}, env...)
	r := startPysup(t, m, env, append([]string{"--"}, argv...)...)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, base+"/", 20*time.Second)
	req := inflight(base + "/slow?s=1.5")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow request never reached a worker")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.signal(syscall.SIGTERM)
	code := r.wait(20 * time.Second)
	select {
	case res := <-req:
		return res, code
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request never ended")
		return result{}, code
	}
}

// TestGunicornPresetFinishesInflight: real gunicorn under the gunicorn
// preset finishes a slow request during the stop sequence and exits 0.
func TestGunicornPresetFinishesInflight(t *testing.T) {
	testenv.RequirePython(t, "gunicorn")
	gunicorn := testenv.RequireBinary(t, "gunicorn")
	forModes(t, func(t *testing.T, m mode) {
		port := testenv.FreePort(t)
		res, code := stopDuringRequest(t, m, []string{"PYSUP_PRESET=gunicorn"}, port,
			gunicorn, "--chdir", testenv.Testdata("servers"), "-w", "2", "--graceful-timeout", "10",
			"-b", "127.0.0.1:"+strconv.Itoa(port), "slowapp:app")
		if res.err != nil || res.status != 200 || res.body != "done" {
			t.Errorf("in-flight request: %+v, want 200 done", res)
		}
		if code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
	})
}

func uwsgiArgv(t *testing.T, port int) []string {
	uwsgi := testenv.RequireBinary(t, "uwsgi")
	return []string{uwsgi, "--plugin", "python3", "--master", "--processes", "2",
		"--http-socket", "127.0.0.1:" + strconv.Itoa(port), "--wsgi-file", testenv.Testdata("servers", "slowapp.py")}
}

// TestUwsgiPresetStopsGracefully: uWSGI 2.0 treats TERM as a brutal reload;
// under the uwsgi preset the in-flight request finishes and uWSGI exits
// instead of respawning.
func TestUwsgiPresetStopsGracefully(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		port := testenv.FreePort(t)
		res, code := stopDuringRequest(t, m, []string{"PYSUP_PRESET=uwsgi"}, port, uwsgiArgv(t, port)...)
		if res.err != nil || res.status != 200 || res.body != "done" {
			t.Errorf("in-flight request: %+v, want 200 done", res)
		}
		if code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
	})
}

// TestUwsgiWithoutPresetLosesRequest is the control: the same stop without
// the preset cuts the request (TERM is a brutal reload), which is why the
// preset exists.
func TestUwsgiWithoutPresetLosesRequest(t *testing.T) {
	port := testenv.FreePort(t)
	res, _ := stopDuringRequest(t, mode{}, []string{"PYSUP_STOP_TIMEOUT=2s"}, port, uwsgiArgv(t, port)...)
	if res.err == nil && res.status == 200 && res.body == "done" {
		t.Errorf("request survived a bare TERM to uWSGI; the control no longer shows what the preset fixes")
	}
}

// TestGunicornPresetReadyFromNotify: under the gunicorn preset, with no
// ready check configured, /readyz follows gunicorn's own sd_notify READY=1.
func TestGunicornPresetReadyFromNotify(t *testing.T) {
	testenv.RequirePython(t, "gunicorn")
	gunicorn := testenv.RequireBinary(t, "gunicorn")
	port, probes := testenv.FreePort(t), testenv.FreePort(t)
	r := startPysup(t, mode{}, []string{"PYSUP_PRESET=gunicorn", fmt.Sprintf("PYSUP_HTTP_ADDR=127.0.0.1:%d", probes)},
		"--", gunicorn, "--chdir", testenv.Testdata("servers"), "-w", "1", "-b", "127.0.0.1:"+strconv.Itoa(port), "slowapp:app")
	ready := fmt.Sprintf("http://127.0.0.1:%d/readyz", probes)
	deadline := time.Now().Add(20 * time.Second)
	for status(ready) != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never 200; stderr:\n%s", r.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get(ready)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"notify"`) {
		t.Errorf("/readyz body %s: want the notify check the preset adds", body)
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(20 * time.Second); code != 0 {
		t.Errorf("exit status %d", code)
	}
}
