// Package kubetest runs a real kube-apiserver and etcd (built by
// tools/kube/build.sh) for tests, and gives them a network namespace with
// non-loopback addresses, since EndpointSlices reject loopback ones.
package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// Cluster is a running API server with an admin token.
type Cluster struct {
	URL        string // https://127.0.0.1:PORT
	CAFile     string
	AdminToken string
	hc         *http.Client
	t          testing.TB
}

// binaries returns the paths of etcd and kube-apiserver, building them
// under CI (about 7 minutes cold) and skipping locally when absent.
func binaries(t testing.TB) (etcd, apiserver string) {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(), "tools", "kube")
	etcd, apiserver = filepath.Join(dir, "bin", "etcd"), filepath.Join(dir, "bin", "kube-apiserver")
	_, e1 := os.Stat(etcd)
	_, e2 := os.Stat(apiserver)
	if e1 == nil && e2 == nil {
		return etcd, apiserver
	}
	if os.Getenv("CI") == "true" || os.Getenv("PYSUP_BUILD_KUBE") == "1" {
		cmd := exec.Command(filepath.Join(dir, "build.sh"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tools/kube/build.sh: %v\n%s", err, out)
		}
		return etcd, apiserver
	}
	testenv.Missing(t, "kube-apiserver and etcd (run tools/kube/build.sh, or set PYSUP_BUILD_KUBE=1)")
	return "", ""
}

func start(t testing.TB, log string, name string, args ...string) {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s log tail:\n%s", filepath.Base(name), b)
		}
	})
}

// Start runs etcd and kube-apiserver until the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	etcd, apiserver := binaries(t)
	dir := t.TempDir()
	cport, pport := testenv.FreePort(t), testenv.FreePort(t)
	curl := fmt.Sprintf("http://127.0.0.1:%d", cport)
	purl := fmt.Sprintf("http://127.0.0.1:%d", pport)
	start(t, filepath.Join(dir, "etcd.log"), etcd, "--name=default", "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+curl, "--advertise-client-urls="+curl,
		"--listen-peer-urls="+purl, "--initial-advertise-peer-urls="+purl,
		"--initial-cluster=default="+purl, "--log-level=warn",
		// A test cluster's data need not survive a crash, and an fsync
		// stalled for seconds on a loaded CI disk (seen: 3.8 s) would cost
		// a test's leader its lease.
		"--unsafe-no-fsync")

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	saKey := write("sa.key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	saPub := write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	admin := fmt.Sprintf("admin-%d", time.Now().UnixNano())
	tokens := write("tokens.csv", []byte(admin+",admin,uid-admin,system:masters\n"))
	certDir := filepath.Join(dir, "certs")
	port := testenv.FreePort(t)
	start(t, filepath.Join(dir, "apiserver.log"), apiserver,
		"--etcd-servers="+curl, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port), "--cert-dir="+certDir,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+saPub, "--service-account-signing-key-file="+saKey,
		"--token-auth-file="+tokens, "--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/24", "--endpoint-reconciler-type=none")

	c := &Cluster{URL: fmt.Sprintf("https://127.0.0.1:%d", port), CAFile: filepath.Join(certDir, "apiserver.crt"), AdminToken: admin, t: t}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if pemCA, err := os.ReadFile(c.CAFile); err == nil && c.hc == nil {
			pool := x509.NewCertPool()
			if pool.AppendCertsFromPEM(pemCA) {
				c.hc = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			}
		}
		if c.hc != nil {
			if code, _, err := c.Do(admin, "GET", "/readyz", nil); err == nil && code == 200 {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("kube-apiserver not ready after 90s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Do sends a request with token; body (if not nil) is JSON-encoded.
func (c *Cluster) Do(token, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if method == "PATCH" {
		req.Header.Set("Content-Type", "application/merge-patch+json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Must sends an admin request and fails the test unless it succeeds.
func (c *Cluster) Must(method, path string, body any) []byte {
	c.t.Helper()
	code, b, err := c.Do(c.AdminToken, method, path, body)
	if err != nil || code/100 != 2 {
		c.t.Fatalf("%s %s: %d %v: %s", method, path, code, err, b)
	}
	return b
}

// ServiceAccountToken creates namespace ns, a ServiceAccount, a Role that
// may only get/list/watch endpointslices and its RoleBinding, and returns
// a token for the account from the TokenRequest API, as a pod would have.
func (c *Cluster) ServiceAccountToken(ns, sa string) string {
	c.t.Helper()
	return c.Token(ns, sa, "pysup-endpointslices", Rule{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}})
}

// Rule is one rule of an RBAC Role.
type Rule struct {
	APIGroups []string `json:"apiGroups"`
	Resources []string `json:"resources"`
	Verbs     []string `json:"verbs"`
}

// Token creates namespace ns and ServiceAccount sa unless they exist, a
// Role named role with rules bound to the account, and returns a token
// for the account from the TokenRequest API, as a pod would have.
func (c *Cluster) Token(ns, sa, role string, rules ...Rule) string {
	c.t.Helper()
	c.ensure("/api/v1/namespaces", obj("v1", "Namespace", "", ns))
	c.ensure("/api/v1/namespaces/"+ns+"/serviceaccounts", obj("v1", "ServiceAccount", ns, sa))
	r := obj("rbac.authorization.k8s.io/v1", "Role", ns, role)
	r["rules"] = rules
	c.Must("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/"+ns+"/roles", r)
	rb := obj("rbac.authorization.k8s.io/v1", "RoleBinding", ns, role+"-"+sa)
	rb["roleRef"] = map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}
	rb["subjects"] = []any{map[string]any{"kind": "ServiceAccount", "name": sa, "namespace": ns}}
	c.Must("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/"+ns+"/rolebindings", rb)
	tr := obj("authentication.k8s.io/v1", "TokenRequest", ns, "")
	tr["spec"] = map[string]any{"expirationSeconds": 3600}
	b := c.Must("POST", "/api/v1/namespaces/"+ns+"/serviceaccounts/"+sa+"/token", tr)
	var out struct {
		Status struct {
			Token string `json:"token"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Status.Token == "" {
		c.t.Fatalf("token request: %v: %s", err, b)
	}
	return out.Status.Token
}

// ensure creates an object, accepting one that exists already.
func (c *Cluster) ensure(path string, o map[string]any) {
	c.t.Helper()
	code, b, err := c.Do(c.AdminToken, "POST", path, o)
	if err != nil || (code/100 != 2 && code != 409) {
		c.t.Fatalf("POST %s: %d %v: %s", path, code, err, b)
	}
}

// ServiceAccountDir writes token, ca.crt and namespace into a new
// directory, as the kubelet mounts them at
// /var/run/secrets/kubernetes.io/serviceaccount.
func (c *Cluster) ServiceAccountDir(ns, token string) string {
	c.t.Helper()
	dir := c.t.TempDir()
	ca, err := os.ReadFile(c.CAFile)
	if err != nil {
		c.t.Fatal(err)
	}
	for name, data := range map[string][]byte{"token": []byte(token), "ca.crt": ca, "namespace": []byte(ns)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	return dir
}

// InClusterEnv is the environment pointing a pysup at this API server
// with the service account files of dir, as in a pod.
func (c *Cluster) InClusterEnv(dir string) []string {
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(c.URL, "https://"))
	return []string{"KUBERNETES_SERVICE_HOST=" + host, "KUBERNETES_SERVICE_PORT=" + port, "PYSUP_KUBE_SERVICEACCOUNT_DIR=" + dir}
}

func obj(apiVersion, kind, ns, name string) map[string]any {
	md := map[string]any{}
	if name != "" {
		md["name"] = name
	}
	if ns != "" {
		md["namespace"] = ns
	}
	return map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": md}
}

// Service creates a headless Service with one named TCP port.
func (c *Cluster) Service(ns, name, portName string, port int) {
	c.t.Helper()
	s := obj("v1", "Service", ns, name)
	s["spec"] = map[string]any{"clusterIP": "None", "ports": []any{map[string]any{"name": portName, "port": port, "protocol": "TCP"}}}
	c.Must("POST", "/api/v1/namespaces/"+ns+"/services", s)
}

// Endpoint is one entry of an EndpointSlice.
type Endpoint struct {
	IP                          string
	Ready, Serving, Terminating bool
}

// Slice creates or replaces EndpointSlice name of service svc with the
// given endpoints on the named port.
func (c *Cluster) Slice(ns, svc, name, portName string, port int, eps ...Endpoint) {
	c.t.Helper()
	s := obj("discovery.k8s.io/v1", "EndpointSlice", ns, name)
	s["metadata"].(map[string]any)["labels"] = map[string]string{"kubernetes.io/service-name": svc}
	s["addressType"] = "IPv4"
	s["ports"] = []any{map[string]any{"name": portName, "port": port, "protocol": "TCP"}}
	list := []any{}
	for _, e := range eps {
		list = append(list, map[string]any{"addresses": []string{e.IP},
			"conditions": map[string]bool{"ready": e.Ready, "serving": e.Serving, "terminating": e.Terminating}})
	}
	s["endpoints"] = list
	path := "/apis/discovery.k8s.io/v1/namespaces/" + ns + "/endpointslices"
	code, _, err := c.Do(c.AdminToken, "GET", path+"/"+name, nil)
	if err == nil && code == 200 {
		c.Must("PUT", path+"/"+name, s)
		return
	}
	c.Must("POST", path, s)
}

// DeleteSlice deletes EndpointSlice name.
func (c *Cluster) DeleteSlice(ns, name string) {
	c.t.Helper()
	c.Must("DELETE", "/apis/discovery.k8s.io/v1/namespaces/"+ns+"/endpointslices/"+name, nil)
}

// Netns is a network namespace joined to the host by a veth pair:
// HostIP on the host side, Addrs inside.
type Netns struct {
	Name   string
	HostIP string
	Addrs  []string
}

// NewNetns makes a namespace with 10.201.N.1/24 on the host side and
// 10.201.N.2-9 inside, removed when the test ends. It needs root and ip.
// N is the first subnet no other test process holds, so that the test
// binaries go test runs in parallel never route to each other's servers.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	testenv.RequireRoot(t)
	ip := testenv.RequireBinary(t, "ip")
	subnet := lockSubnet(t)
	id := os.Getpid() % 100000
	n := &Netns{Name: fmt.Sprintf("pysupzmq%d", id), HostIP: fmt.Sprintf("10.201.%d.1", subnet)}
	host, peer := fmt.Sprintf("pzh%d", id), fmt.Sprintf("pzn%d", id)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	_ = exec.Command(ip, "netns", "del", n.Name).Run() // left over from a killed run
	_ = exec.Command(ip, "link", "del", host).Run()
	run("netns", "add", n.Name)
	t.Cleanup(func() {
		_ = exec.Command(ip, "netns", "del", n.Name).Run()
		_ = exec.Command(ip, "link", "del", host).Run()
	})
	run("link", "add", host, "type", "veth", "peer", "name", peer)
	run("link", "set", peer, "netns", n.Name)
	run("addr", "add", n.HostIP+"/24", "dev", host)
	run("link", "set", host, "up")
	for i := 2; i <= 9; i++ {
		a := fmt.Sprintf("10.201.%d.%d", subnet, i)
		n.Addrs = append(n.Addrs, a)
		run("-n", n.Name, "addr", "add", a+"/24", "dev", peer)
	}
	run("-n", n.Name, "link", "set", peer, "up")
	run("-n", n.Name, "link", "set", "lo", "up")
	return n
}

// Exec is the argv prefix that runs a command inside the namespace.
func (n *Netns) Exec() []string { return []string{"ip", "netns", "exec", n.Name} }

// lockSubnet takes the first free one of 64 subnets by an exclusive lock
// on a file named for it, held until the test ends.
func lockSubnet(t testing.TB) int {
	t.Helper()
	for n := 0; n < 64; n++ {
		f, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("pysup-netns-10.201.%d.lock", n)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		t.Cleanup(func() { f.Close() })
		return n
	}
	t.Fatal("no free test subnet in 10.201.0-63.0/24")
	return 0
}
