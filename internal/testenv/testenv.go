// Package testenv gives tests the real components they need: Debian's
// /usr/bin/python3 with its modules, other binaries, and a freshly built
// pysup. A missing component skips the test with the reason locally and
// fails it under CI (CI=true), where `make test` must have installed it.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Python is the interpreter with Debian's python3-zmq, prometheus_client,
// gunicorn and friends; the python3 first on PATH may lack them.
const Python = "/usr/bin/python3"

// Missing skips t (or fails it under CI) because what is not available.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("required component missing under CI: %s (make test installs it)", what)
	}
	t.Skipf("skipped: %s is not available here (make test installs it)", what)
}

// RequirePython returns Python after checking it imports every module.
func RequirePython(t testing.TB, modules ...string) string {
	t.Helper()
	if _, err := os.Stat(Python); err != nil {
		Missing(t, Python)
	}
	if len(modules) > 0 {
		code := "import " + strings.Join(modules, ", ")
		if out, err := exec.Command(Python, "-c", code).CombinedOutput(); err != nil {
			Missing(t, "python modules "+strings.Join(modules, ", ")+": "+strings.TrimSpace(string(out)))
		}
	}
	return Python
}

// RequireBinary returns the path of a program on PATH.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name)
	}
	return p
}

// RequireRoot skips (or fails under CI) when not root: PID namespaces,
// subreapers and credential changes need it.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root")
	}
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
	buildOut  []byte
)

// Pysup builds cmd/pysup once per test binary and returns its path.
func Pysup(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pysup-test-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "pysup")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/pysup")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("building pysup: %v\n%s", buildErr, buildOut)
	}
	return buildPath
}

// RepoRoot is the directory holding go.mod.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Testdata returns the path of a file under the repository's testdata/.
func Testdata(elem ...string) string {
	return filepath.Join(append([]string{RepoRoot(), "testdata"}, elem...)...)
}
