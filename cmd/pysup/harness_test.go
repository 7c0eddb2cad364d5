package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// mode is how pysup runs in a test: as real PID 1 of a new PID namespace,
// or as an ordinary process that makes itself a child subreaper.
type mode struct {
	name string
	pid1 bool
}

var modes = []mode{{"pid1", true}, {"subreaper", false}}

// forModes runs f once per mode as subtests.
func forModes(t *testing.T, f func(t *testing.T, m mode)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if m.pid1 {
				testenv.RequireRoot(t)
				testenv.RequireBinary(t, "unshare")
			}
			f(t, m)
		})
	}
}

// running is a pysup started by a test.
type running struct {
	t      *testing.T
	cmd    *exec.Cmd
	pid    int // pysup's pid as this test sees it
	stdout *testenv.SyncBuffer
	stderr *testenv.SyncBuffer
	done   chan struct{}
	code   int
}

// startPysup runs pysup with env added to the test's environment.
func startPysup(t *testing.T, m mode, env []string, args ...string) *running {
	t.Helper()
	bin := testenv.Pysup(t)
	argv := append([]string{bin}, args...)
	if m.pid1 {
		argv = append([]string{"unshare", "--pid", "--fork", "--mount-proc"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// No HTTP server unless a test asks: parallel test binaries must not
	// fight over the default port.
	cmd.Env = append(append(os.Environ(), "PYSUP_HTTP_ADDR="), env...)
	r := &running{t: t, cmd: cmd, stdout: &testenv.SyncBuffer{}, stderr: &testenv.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pysup: %v", err)
	}
	r.pid = cmd.Process.Pid
	go func() {
		_ = cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
		close(r.done)
	}()
	if m.pid1 {
		// unshare --fork waits for its child, which is pysup as PID 1.
		r.pid = testenv.FirstChild(t, r.pid)
	}
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			if t.Failed() {
				t.Logf("pysup still running at failure: %s", procState(r.pid))
			}
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = syscall.Kill(r.pid, syscall.SIGKILL)
			<-r.done
		}
		if t.Failed() {
			t.Logf("pysup stderr:\n%s", r.stderr.String())
			t.Logf("pysup stdout:\n%s", r.stdout.String())
		}
	})
	return r
}

// procState describes pid and its children for a failure message: what a
// hung pysup was doing.
func procState(pid int) string {
	var b strings.Builder
	for _, f := range []string{"stat", "wchan"} {
		data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + f)
		fmt.Fprintf(&b, "%s=%q ", f, strings.TrimSpace(string(data)))
	}
	kids, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	for _, k := range strings.Fields(string(kids)) {
		data, _ := os.ReadFile("/proc/" + k + "/stat")
		fmt.Fprintf(&b, "child %s: %q ", k, strings.TrimSpace(string(data)))
	}
	return b.String()
}

// signal sends sig to pysup.
func (r *running) signal(sig syscall.Signal) {
	r.t.Helper()
	if err := syscall.Kill(r.pid, sig); err != nil {
		r.t.Fatalf("kill %d %v: %v", r.pid, sig, err)
	}
}

// wait returns pysup's exit status, failing the test after timeout.
func (r *running) wait(timeout time.Duration) int {
	r.t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(timeout):
		r.t.Fatalf("pysup still running after %s", timeout)
		return -1
	}
}

// outFile is a file a test child writes its observations to.
type outFile string

func newOut(t *testing.T) outFile {
	dir := t.TempDir()
	// A child running as another user (PYSUP_USER) writes here too.
	_ = os.Chmod(filepath.Dir(dir), 0o755)
	_ = os.Chmod(dir, 0o777)
	return outFile(filepath.Join(dir, "out"))
}

func (o outFile) env() string { return "OUT=" + string(o) }

func (o outFile) lines() []string {
	b, _ := os.ReadFile(string(o))
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// waitLine waits until a line starting with prefix appears and returns it.
func (o outFile) waitLine(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range o.lines() {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		if !time.Now().Before(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no line %q in %s after %s; have %q", prefix, o, timeout, o.lines())
	return ""
}

// signalTime parses the time of the first line recording sig.
func (o outFile) signalTime(t *testing.T, sig string, timeout time.Duration) time.Time {
	t.Helper()
	l := o.waitLine(t, sig+" ", timeout)
	f, err := strconv.ParseFloat(strings.Fields(l)[1], 64)
	if err != nil {
		t.Fatalf("bad line %q", l)
	}
	return time.Unix(0, int64(f*1e9))
}

func script(name string) string { return testenv.Testdata("supervisor", name) }

// pythonArgs is "--", python and the test script.
func pythonArgs(t *testing.T, name string) []string {
	return []string{"--", testenv.RequirePython(t), script(name)}
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}
