package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysup/pysup/internal/config"
	"github.com/pysup/pysup/internal/testenv"
)

const (
	refBegin = "<!-- config-reference:begin (make docs) -->\n"
	refEnd   = "<!-- config-reference:end -->"
)

// TestReadmeReferenceIsCurrent: the README's configuration reference is
// what `pysup help --markdown` prints; `make docs` rewrites it.
func TestReadmeReferenceIsCurrent(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, refBegin), strings.Index(readme, refEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", refBegin, refEnd)
	}
	var want bytes.Buffer
	config.WriteReference(&want)
	if got := readme[i+len(refBegin) : j]; got != want.String() {
		t.Errorf("README's configuration reference is stale: run make docs")
	}
}

// TestDemoRuns: `make demo`'s script runs the demo app under pysup, answers
// the curls and stops gracefully (DEMO_AUTO=1 stops it by itself).
func TestDemoRuns(t *testing.T) {
	testenv.RequirePython(t)
	testenv.RequireBinary(t, "curl")
	cmd := exec.Command("scripts/demo.sh")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "DEMO_AUTO=1", "PYSUP="+testenv.Pysup(t),
		fmt.Sprintf("APP_PORT=%d", testenv.FreePort(t)), fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", testenv.FreePort(t)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"hello from a Python app under pysup", "/readyz while draining: 503", "pysup exited with status 0"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
