package kubetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pysup/pysup/internal/testenv"
)

// Kubectl returns the path of the kubectl that tools/kube/build.sh builds
// (the same version as the API server), building it under CI and skipping
// locally when absent. A kubectl found on PATH is not used: its version and
// plugins are unknown.
func Kubectl(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(), "tools", "kube")
	kubectl := filepath.Join(dir, "bin", "kubectl")
	if _, err := os.Stat(kubectl); err == nil {
		return kubectl
	}
	if os.Getenv("CI") == "true" || os.Getenv("PYSUP_BUILD_KUBE") == "1" {
		cmd := exec.Command(filepath.Join(dir, "build.sh"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tools/kube/build.sh: %v\n%s", err, out)
		}
		return kubectl
	}
	testenv.Missing(t, "kubectl (run tools/kube/build.sh, or set PYSUP_BUILD_KUBE=1)")
	return ""
}

// Kubeconfig writes a kubeconfig for the admin token into a temporary
// directory of the test and returns its path, for kubectl --kubeconfig.
func (c *Cluster) Kubeconfig() string {
	c.t.Helper()
	conf := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster: {server: %q, certificate-authority: %q}
users:
  - name: admin
    user: {token: %q}
contexts:
  - name: test
    context: {cluster: test, user: admin}
current-context: test
`, c.URL, c.CAFile, c.AdminToken)
	p := filepath.Join(c.t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// Namespace creates namespace name.
func (c *Cluster) Namespace(name string) {
	c.t.Helper()
	c.Must("POST", "/api/v1/namespaces", obj("v1", "Namespace", "", name))
}
