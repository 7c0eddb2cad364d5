package examples_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// exampleDir is the directory of example name.
func exampleDir(name string) string {
	return filepath.Join(testenv.RepoRoot(), "examples", name)
}

// image is what an example's Dockerfile says about running it: the ENV
// settings in order, the CMD after the ENTRYPOINT ["pysup", "--"], and the
// EXPOSEd ports.
type image struct {
	env    [][2]string
	cmd    []string
	expose []string
}

// readDockerfile parses the ENV, CMD, ENTRYPOINT and EXPOSE instructions
// of an example's Dockerfile, so the tests run what the image runs.
func readDockerfile(t *testing.T, name string) image {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(exampleDir(name), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var img image
	var entrypoint []string
	for _, ins := range instructions(string(b)) {
		word, rest, _ := strings.Cut(ins, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(word) {
		case "ENV":
			for _, w := range shellWords(t, rest) {
				k, v, ok := strings.Cut(w, "=")
				if !ok {
					t.Fatalf("%s/Dockerfile: ENV %q: use the KEY=VALUE form", name, w)
				}
				img.env = append(img.env, [2]string{k, v})
			}
		case "CMD", "ENTRYPOINT":
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil {
				t.Fatalf("%s/Dockerfile: %s %s: want the exec (JSON) form: %v", name, word, rest, err)
			}
			if strings.ToUpper(word) == "CMD" {
				img.cmd = argv
			} else {
				entrypoint = argv
			}
		case "EXPOSE":
			img.expose = append(img.expose, strings.Fields(rest)...)
		}
	}
	if strings.Join(entrypoint, " ") != "pysup --" {
		t.Fatalf("%s/Dockerfile: ENTRYPOINT %q, want [\"pysup\", \"--\"]", name, entrypoint)
	}
	if len(img.cmd) == 0 {
		t.Fatalf("%s/Dockerfile: no CMD", name)
	}
	return img
}

// instructions joins continuation lines and drops comments.
func instructions(dockerfile string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(dockerfile, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	return out
}

// shellWords splits s as Docker splits ENV: on blanks, with double quotes
// and backslash escapes.
func shellWords(t *testing.T, s string) []string {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			inWord = true
		case c == '"':
			quoted = !quoted
			inWord = true
		case (c == ' ' || c == '\t') && !quoted:
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quotes in %q", s)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// host is what a test changes when it runs an example's image settings on
// this machine: free ports for the exposed ones, loopback for 0.0.0.0, a
// temporary directory for /tmp, Debian's python3.
type host struct {
	ports map[string]int // exposed port -> free port here
	tmp   string
}

func newHost(t *testing.T, img image) *host {
	h := &host{ports: map[string]int{}, tmp: t.TempDir()}
	for _, p := range img.expose {
		h.ports[strings.TrimSuffix(p, "/tcp")] = testenv.FreePort(t)
	}
	return h
}

// port is the free port standing in for the image's port p.
func (h *host) port(t *testing.T, p string) int {
	t.Helper()
	n, ok := h.ports[p]
	if !ok {
		t.Fatalf("port %s is not EXPOSEd", p)
	}
	return n
}

var portRef = regexp.MustCompile(`:(\d+)\b`)

// translate rewrites one setting or argument of the image for this machine.
func (h *host) translate(s string) string {
	if n, ok := h.ports[s]; ok {
		return strconv.Itoa(n)
	}
	s = portRef.ReplaceAllStringFunc(s, func(m string) string {
		if n, ok := h.ports[m[1:]]; ok {
			return ":" + strconv.Itoa(n)
		}
		return m
	})
	s = strings.ReplaceAll(s, "0.0.0.0", "127.0.0.1")
	if s == "/tmp" || strings.HasPrefix(s, "/tmp/") {
		s = h.tmp + strings.TrimPrefix(s, "/tmp")
	}
	return s
}

// pod is the Downward API a test gives an example, as the manifests do.
type pod struct {
	name, namespace, container string
	labels                     map[string]string
}

func (p pod) env(t *testing.T) []string {
	dir := t.TempDir()
	var labels strings.Builder
	for k, v := range p.labels {
		fmt.Fprintf(&labels, "%s=%q\n", k, v)
	}
	if err := os.WriteFile(filepath.Join(dir, "labels"), []byte(labels.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "annotations"), []byte("prometheus.io/scrape=\"true\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"POD_NAME=" + p.name, "POD_NAMESPACE=" + p.namespace, "POD_UID=uid-" + p.name,
		"POD_IP=127.0.0.1", "NODE_NAME=node-1", "CONTAINER_NAME=" + p.container, "PYSUP_PODINFO_DIR=" + dir}
}

// baseEnv is the test's environment without the variables the examples
// set or read, so nothing of the machine leaks into a run.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "PYSUP_"), strings.HasPrefix(k, "POD_"), strings.HasPrefix(k, "CELERY_"),
			k == "NODE_NAME", k == "CONTAINER_NAME", k == "PROMETHEUS_MULTIPROC_DIR", k == "NOTIFY_SOCKET",
			k == "HOST", k == "PORT", k == "KUBERNETES_SERVICE_HOST":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// app is an example to run: the image's settings translated for this
// machine, plus the test's overrides.
type app struct {
	name string
	img  image
	h    *host
	env  []string // KEY=VALUE, later ones win
	argv []string
}

// newApp reads example name's Dockerfile and translates its settings; the
// probe server listens on the free port standing in for 9180.
func newApp(t *testing.T, name string, p pod) *app {
	t.Helper()
	img := readDockerfile(t, name)
	a := &app{name: name, img: img, h: newHost(t, img)}
	a.env = baseEnv()
	for _, kv := range img.env {
		a.env = append(a.env, kv[0]+"="+a.h.translate(kv[1]))
	}
	a.env = append(a.env, p.env(t)...)
	a.env = append(a.env, fmt.Sprintf("PYSUP_HTTP_ADDR=127.0.0.1:%d", a.h.port(t, "9180")))
	a.env = append(a.env, "PATH="+debianPythonFirst(t))
	a.setCmd(t, img.cmd...)
	return a
}

// debianPythonFirst is a PATH on which python3 is Debian's, as in the
// image: the commands pysup runs by name (PYSUP_PRESTART's python3) find
// it, not the pyenv build first on this machine's PATH.
func debianPythonFirst(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(testenv.RequirePython(t), filepath.Join(dir, "python3")); err != nil {
		t.Fatal(err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

// setCmd sets the command, as a pod's args replace the image's CMD.
func (a *app) setCmd(t *testing.T, argv ...string) {
	a.argv = nil
	for i, arg := range argv {
		if i == 0 && arg == "python3" {
			arg = testenv.RequirePython(t)
		}
		a.argv = append(a.argv, a.h.translate(arg))
	}
}

// set overrides settings, as a pod's env does (values are translated).
func (a *app) set(kv ...string) {
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		a.env = append(a.env, k+"="+a.h.translate(v))
	}
}

// probeURL is the URL of one of pysup's endpoints for this app.
func (a *app) probeURL(t *testing.T, path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", a.h.port(t, "9180"), path)
}

// proc is a running pysup with an example app as its child.
type proc struct {
	t              *testing.T
	name           string
	cmd            *exec.Cmd
	pid            int // pysup's, as this test sees it
	stdout, stderr *testenv.SyncBuffer
	done           chan struct{}
	code           int
}

// start runs pysup -- argv in the example's directory (the image's
// WORKDIR). As root, pysup runs as PID 1 of a new PID namespace, as in a
// container; otherwise as a subreaper.
func (a *app) start(t *testing.T) *proc {
	t.Helper()
	argv := append([]string{testenv.Pysup(t), "--"}, a.argv...)
	unshare, err := exec.LookPath("unshare")
	pid1 := os.Geteuid() == 0 && err == nil
	if pid1 {
		argv = append([]string{unshare, "--pid", "--fork", "--mount-proc"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = exampleDir(a.name)
	cmd.Env = a.env
	p := &proc{t: t, name: a.name, cmd: cmd, stdout: &testenv.SyncBuffer{}, stderr: &testenv.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pysup: %v", err)
	}
	p.pid = cmd.Process.Pid
	go func() {
		_ = cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			p.code = 128 + int(ws.Signal())
		}
		close(p.done)
	}()
	if pid1 {
		p.pid = testenv.FirstChild(t, p.pid) // unshare --fork waits for pysup, PID 1 inside
	}
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = syscall.Kill(p.pid, syscall.SIGKILL) // PID 1 inside: its namespace goes with it
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s: pysup stderr:\n%s", p.name, tail(p.stderr.String()))
			t.Logf("%s: pysup stdout:\n%s", p.name, tail(p.stdout.String()))
		}
	})
	return p
}

func tail(s string) string {
	if len(s) > 12000 {
		return "…" + s[len(s)-12000:]
	}
	return s
}

// signal sends sig to pysup, as the container runtime does.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := syscall.Kill(p.pid, sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait returns pysup's exit status, failing the test after timeout.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	start := time.Now()
	select {
	case <-p.done:
		p.t.Logf("%s: pysup exited %d after %s", p.name, p.code, time.Since(start).Round(time.Millisecond))
		return p.code
	case <-time.After(timeout):
		p.t.Fatalf("%s: pysup still running after %s", p.name, timeout)
		return -1
	}
}

// record is one JSON record pysup wrote on stdout.
type record map[string]any

func (r record) str(key string) string { s, _ := r[key].(string); return s }

// kube returns a field of the record's kubernetes object.
func (r record) kube(key string) any {
	k, _ := r["kubernetes"].(map[string]any)
	return k[key]
}

// records parses pysup's stdout; every line must be a JSON object.
func (p *proc) records() []record {
	p.t.Helper()
	var out []record
	sc := bufio.NewScanner(strings.NewReader(p.stdout.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			p.t.Fatalf("%s: stdout line is not a JSON object: %q", p.name, sc.Text())
		}
		out = append(out, r)
	}
	return out
}

// waitRecord waits for a record whose message contains substr.
func (p *proc) waitRecord(substr string, timeout time.Duration) record {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, r := range p.records() {
			if strings.Contains(r.str("message"), substr) {
				return r
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: no record with message %q after %s", p.name, substr, timeout)
		}
		select {
		case <-p.done:
			// Exited: what is on stdout is all there will be; one more look.
			deadline = time.Now()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// waitReady polls /readyz until it answers 200.
func (p *proc) waitReady(url string, timeout time.Duration) {
	p.t.Helper()
	start := time.Now()
	defer func() { p.t.Logf("%s: ready after %s", p.name, time.Since(start).Round(time.Millisecond)) }()
	deadline := start.Add(timeout)
	for status(url) != 200 {
		select {
		case <-p.done:
			p.t.Fatalf("%s: pysup exited with %d before %s answered 200", p.name, p.code, url)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: %s not 200 after %s", p.name, url, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkPod checks that a record carries the pod's metadata from the
// Downward API env and files.
func checkPod(t *testing.T, r record, p pod) {
	t.Helper()
	if got := r.kube("pod_name"); got != p.name {
		t.Errorf("record %v: kubernetes.pod_name %v, want %s", r, got, p.name)
	}
	if got := r.kube("namespace_name"); got != p.namespace {
		t.Errorf("record %v: kubernetes.namespace_name %v, want %s", r, got, p.namespace)
	}
	labels, _ := r.kube("labels").(map[string]any)
	for k, v := range p.labels {
		if labels[k] != v {
			t.Errorf("record %v: kubernetes.labels[%s] = %v, want %s", r, k, labels[k], v)
		}
	}
}

var client = &http.Client{Timeout: 20 * time.Second}

// status is the HTTP status of GET url, 0 when it cannot be fetched.
func status(url string) int {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// get fetches url and fails the test unless it answers 200.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

type result struct {
	status int
	body   string
	err    error
}

// inflight starts a request and returns where its result arrives.
func inflight(url string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := client.Get(url)
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
