package container

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// example is one directory under examples/ whose Dockerfile follows the
// examples' conventions (ARG PYSUP_IMAGE, BASE and PIP_INSTALL; USER
// 10001:10001; ENTRYPOINT ["pysup", "--"]; pysup's HTTP server on :9180).
type example struct {
	dir       string   // under examples/
	appPort   int      // the app's HTTP port in the container; 0: none
	appPath   string   // a request the app answers with 200 (and logs)
	child     string   // a word of the command line of pysup's child
	startLogs []string // messages the app logs by the time it is ready and answered appPath
	stopLogs  []string // messages the app logs when it stops gracefully
	stopSig   string   // the stop signal pysup sends after the drain (its preset's)
	exitCode  int      // the container's exit status after podman stop
	env       []string // extra -e NAME=VALUE
}

// examples lists the examples run in a container. Add one with a line.
var examples = []example{
	{dir: "demo", appPort: 8000, appPath: "/", child: "app.py",
		startLogs: []string{"listening on 0.0.0.0:8000", "hello from "},
		stopLogs:  []string{"KeyboardInterrupt: finishing in-flight requests", "bye"}, stopSig: "INT"},
	{dir: "flask-gunicorn", appPort: 8000, appPath: "/", child: "gunicorn",
		startLogs: []string{"Listening at: http://0.0.0.0:8000", "hello served"},
		stopLogs:  []string{"Handling signal: term", "Shutting down: Master"}, stopSig: "TERM"},
	{dir: "uwsgi", appPort: 8000, appPath: "/", child: "uwsgi",
		startLogs: []string{"spawned uWSGI worker 2", "hello served by worker"},
		stopLogs:  []string{"graceful shutdown triggered", "goodbye to uWSGI."}, stopSig: "TERM"},
	{dir: "celery-worker", child: "celery",
		startLogs: []string{"ready."}, stopLogs: []string{"Warm shutdown"}, stopSig: "TERM"},
	// The migrations run as pysup's pre-start phase (SQLite on /tmp, the
	// image's demo default), then gunicorn serves the migrated table.
	{dir: "django", appPort: 8000, appPath: "/", child: "gunicorn",
		startLogs: []string{"Applying orders.0002_first_order... OK", "Listening at: http://0.0.0.0:8000", "orders listed"},
		stopLogs:  []string{"Handling signal: term", "Shutting down: Master"}, stopSig: "TERM"},
	{dir: "zmq-echo", child: "server.py",
		startLogs: []string{"echo server listening on tcp://0.0.0.0:5556"},
		stopLogs:  []string{"echo server stopped after"}, stopSig: "INT"},
}

const (
	// drainDelay is long enough to see, on a loaded machine, that readiness
	// fails while the app still answers.
	drainDelay = 3 * time.Second
	// stopWait is podman stop's -t: SIGKILL after it. Far above drainDelay
	// plus the examples' PYSUP_STOP_TIMEOUT, so a kill means a failed stop.
	stopWait = 60
	appUID   = 10001
)

// TestContainers builds pysup's image from the root Dockerfile, then builds
// and runs each example's image with podman as a user would: readiness,
// JSON logs, pysup as PID 1, the app non-root, and `podman stop` ending in
// a graceful stop with the app's exit status.
func TestContainers(t *testing.T) {
	im := prepareImages(t)
	t.Run("pysup-image", func(t *testing.T) { checkPysupImage(t, im) })
	// The examples run side by side: most of their time is waiting (start,
	// drain, stop), and podman's store takes concurrent builds.
	t.Run("examples", func(t *testing.T) {
		for _, ex := range examples {
			t.Run(ex.dir, func(t *testing.T) {
				t.Parallel()
				runExample(t, im, ex)
			})
		}
	})
	// Superseded images of earlier runs, once a day old: the build cache
	// (untagged intermediate images too) is what makes the next run fast.
	if _, _, err := im.podman.run(5*time.Minute, "image", "prune", "-f", "--filter", "until=24h"); err != nil {
		t.Log(err)
	}
}

// checkPysupImage: the final stage holds /pysup and nothing else, it is the
// entrypoint, and the version ldflags arrived.
func checkPysupImage(t *testing.T, im *images) {
	p := im.podman
	if ep := p.must(t, time.Minute, "image", "inspect", "--format", "{{json .Config.Entrypoint}}", im.pysup); ep != `["/pysup"]` {
		t.Errorf("entrypoint = %s, want [\"/pysup\"]", ep)
	}
	name := "pysup-test-export"
	p.run(time.Minute, "rm", "-f", name)
	p.must(t, time.Minute, "create", "--name", name, im.pysup)
	defer p.run(time.Minute, "rm", "-f", name)
	out, _, err := p.run(2*time.Minute, "export", name)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	tr := tar.NewReader(strings.NewReader(out))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the exported image: %v", err)
		}
		files = append(files, h.Name)
	}
	if len(files) != 1 || strings.TrimPrefix(files[0], "./") != "pysup" {
		t.Errorf("pysup image holds %q, want only pysup", files)
	}
	version := p.must(t, time.Minute, "run", "--rm", "--network=none", im.pysup, "version")
	if !strings.HasPrefix(version, "pysup container-test (commit ") {
		t.Errorf("pysup version in the image = %q, want the VERSION build arg", version)
	}
}

func runExample(t *testing.T, im *images, ex example) {
	p := im.podman
	dir := filepath.Join(testenv.RepoRoot(), "examples", ex.dir)
	if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err != nil {
		t.Fatalf("example %s: %v", ex.dir, err)
	}
	image := "localhost/pysup-test-example-" + ex.dir + ":latest"
	start := time.Now()
	p.must(t, 10*time.Minute, "build", "--network=none",
		"--build-arg", "BASE="+im.base,
		"--build-arg", "PYSUP_IMAGE="+im.pysup,
		"--build-arg", "PIP_INSTALL=0",
		"-t", image, dir)
	t.Logf("podman build of examples/%s: %s", ex.dir, time.Since(start).Round(100*time.Millisecond))

	name := "pysup-test-" + ex.dir
	p.run(time.Minute, "rm", "-f", "-t", "0", name)
	probePort := testenv.FreePort(t)
	args := []string{"run", "-d", "--name", name,
		"-p", fmt.Sprintf("127.0.0.1:%d:9180", probePort),
		"-e", "PYSUP_DRAIN_DELAY=" + drainDelay.String(),
		"-e", "POD_NAME=" + name + "-0", "-e", "POD_NAMESPACE=container-test"}
	appURL := ""
	if ex.appPort != 0 {
		appPort := testenv.FreePort(t)
		args = append(args, "-p", fmt.Sprintf("127.0.0.1:%d:%d", appPort, ex.appPort))
		appURL = fmt.Sprintf("http://127.0.0.1:%d%s", appPort, ex.appPath)
	}
	for _, e := range ex.env {
		args = append(args, "-e", e)
	}
	p.must(t, 2*time.Minute, append(args, image)...)
	t.Cleanup(func() { p.run(time.Minute, "rm", "-f", "-t", "0", name) })
	logs := func() (stdout, stderr string) {
		out, errOut, err := p.run(time.Minute, "logs", name)
		if err != nil {
			t.Log(err)
		}
		return out, errOut
	}
	fail := func(format string, a ...any) {
		t.Helper()
		out, errOut := logs()
		t.Fatalf(format+"\n-- container stdout:\n%s\n-- container stderr:\n%s", append(a, tail(out, 6000), tail(errOut, 6000))...)
	}

	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort)
	deadline := time.Now().Add(90 * time.Second)
	for get(readyz) != 200 {
		if time.Now().After(deadline) {
			fail("/readyz not 200 within 90s (last: %d)", get(readyz))
		}
		if status := p.must(t, time.Minute, "inspect", "--format", "{{.State.Status}}", name); status != "running" {
			fail("container is %s before it was ready", status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if appURL != "" {
		if code := get(appURL); code != 200 {
			fail("GET %s through the published port: %d, want 200", ex.appPath, code)
		}
	}

	// pysup is PID 1 of the container, and it and the app run as the
	// image's USER; read from the host's /proc, not the container's tools.
	hostPID := p.must(t, time.Minute, "inspect", "--format", "{{.State.Pid}}", name)
	if comm := readProc(t, hostPID, "comm"); comm != "pysup" {
		fail("PID 1 of the container is %q, want pysup", comm)
	}
	if ns := statusField(t, hostPID, "NSpid"); len(ns) < 2 || ns[len(ns)-1] != "1" {
		fail("pysup's NSpid = %q, want PID 1 in the container's namespace", ns)
	}
	if uid := statusField(t, hostPID, "Uid"); len(uid) == 0 || uid[0] != strconv.Itoa(appUID) {
		fail("pysup runs as uid %q, want %d", uid, appUID)
	}
	child := findChild(t, hostPID, ex.child)
	if child == "" {
		fail("no child of pysup runs %q", ex.child)
	}
	if uid := statusField(t, child, "Uid"); len(uid) == 0 || uid[0] != strconv.Itoa(appUID) {
		fail("the app runs as uid %q, want %d", uid, appUID)
	}

	// The app's lines arrive on the container's stdout as pysup's records.
	waitFor := func(what string, ok func(stdout, stderr string) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, errOut := logs()
			if ok(out, errOut) {
				return
			}
			if time.Now().After(deadline) {
				fail("waited 30s for %s", what)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("the app's start records", func(out, _ string) bool {
		return hasMessages(records(t, out), ex.startLogs)
	})
	for _, r := range records(t, mustLogs(logs)) {
		if r["time"] == nil || r["stream"] == nil || r["level"] == nil {
			fail("record without time/stream/level: %v", r)
		}
		k, _ := r["kubernetes"].(map[string]any)
		if k["pod_name"] != name+"-0" || k["namespace_name"] != "container-test" {
			fail("record without the pod's metadata from POD_NAME/POD_NAMESPACE: %v", r)
		}
	}

	// podman stop: readiness fails at once while the app keeps answering for
	// the drain delay, then the app stops gracefully and its status is the
	// container's.
	stopped := make(chan error, 1)
	stopStart := time.Now()
	go func() {
		_, _, err := p.run(2*time.Minute, "stop", "-t", strconv.Itoa(stopWait), name)
		stopped <- err
	}()
	var stopErr error
	stopDone := false
	for !stopDone && get(readyz) != 503 {
		select {
		case stopErr = <-stopped:
			stopDone = true
		case <-time.After(50 * time.Millisecond):
		}
	}
	if stopDone {
		fail("/readyz never answered 503 while podman stop ran (error: %v)", stopErr)
	}
	// The stop signal leaves pysup drainDelay after podman's TERM, which
	// came after stopStart: a request begun before then is served.
	if at := time.Since(stopStart); appURL == "" {
		// nothing to ask during the drain
	} else if at < drainDelay {
		if code := get(appURL); code != 200 {
			fail("GET %s %s into the drain: %d, want 200", ex.appPath, at.Round(time.Millisecond), code)
		}
	} else {
		t.Logf("machine too slow to test serving during the drain (readiness failed after %s)", at)
	}
	if err := <-stopped; err != nil {
		fail("podman stop: %v", err)
	}
	took := time.Since(stopStart)
	if took < drainDelay {
		fail("podman stop returned after %s, before the drain delay %s", took, drainDelay)
	}
	if code := p.must(t, time.Minute, "inspect", "--format", "{{.State.ExitCode}}", name); code != strconv.Itoa(ex.exitCode) {
		fail("container exit status %s after podman stop, want %d", code, ex.exitCode)
	}
	out, errOut := logs()
	if !hasMessages(records(t, out), ex.stopLogs) {
		fail("the app's graceful-stop lines %q are missing from the container's stdout", ex.stopLogs)
	}
	diag := records(t, errOut)
	for _, want := range []struct{ message, key, value string }{
		{"stop requested: draining", "signal", "TERM"},
		{"sending stop signal", "signal", ex.stopSig},
		{"pysup exiting", "exit_code", strconv.Itoa(ex.exitCode)},
	} {
		if !hasRecord(diag, want.message, want.key, want.value) {
			fail("pysup's diagnostic %q with %s=%s missing from the container's stderr", want.message, want.key, want.value)
		}
	}
	if hasRecord(diag, "stop timeout: killing every process left", "", "") {
		fail("the app had to be killed")
	}
	t.Logf("podman stop took %s (drain delay %s)", took.Round(10*time.Millisecond), drainDelay)
}

func mustLogs(logs func() (string, string)) string {
	out, _ := logs()
	return out
}

// records parses every line of s as one JSON object: pysup's stdout (and
// its diagnostics on stderr) hold nothing else.
func records(t *testing.T, s string) []map[string]any {
	t.Helper()
	var rs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("a line of pysup's output is not a JSON object: %q: %v", line, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// hasMessages: each of want is contained in the message of some record.
func hasMessages(rs []map[string]any, want []string) bool {
	for _, w := range want {
		found := false
		for _, r := range rs {
			if m, _ := r["message"].(string); strings.Contains(m, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// hasRecord: a record with this message and, unless key is empty, this value.
func hasRecord(rs []map[string]any, message, key, value string) bool {
	for _, r := range rs {
		if r["message"] != message {
			continue
		}
		if key == "" || fmt.Sprint(r[key]) == value {
			return true
		}
	}
	return false
}

// get returns the status of a GET, 0 when it failed.
func get(url string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func readProc(t *testing.T, pid, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", pid, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// statusField returns the fields of one line of /proc/PID/status.
func statusField(t *testing.T, pid, key string) []string {
	t.Helper()
	for _, line := range strings.Split(readProc(t, pid, "status"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.Fields(v)
		}
	}
	return nil
}

// findChild returns the host PID of a child of pid whose command line
// holds word.
func findChild(t *testing.T, pid, word string) string {
	t.Helper()
	tasks, err := filepath.Glob(filepath.Join("/proc", pid, "task", "*", "children"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", c, "cmdline"))
			if bytes.Contains(cmdline, []byte(word)) {
				return c
			}
		}
	}
	return ""
}
