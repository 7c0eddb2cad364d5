package zmqlb

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/discovery"
	"github.com/pysup/pysup/internal/discovery/kubetest"
)

// The whole path against a real kube-apiserver: pyzmq REP servers on
// non-loopback addresses in a network namespace, EndpointSlices created,
// flipped, extended and deleted by the test while pyzmq REQ clients send
// through the balancer, which follows them with a ServiceAccount token
// bound to the minimal Role. Nothing is lost; traffic goes where the
// slices say.
func TestKubernetesModeFollowsEndpointSlices(t *testing.T) {
	netns := kubetest.NewNetns(t)
	c := kubetest.Start(t)
	const ns, svc = "apps", "backend"
	token := c.ServiceAccountToken(ns, "client")
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t, "127.0.0.1")
	servers := map[string]*pyServer{}
	for i, name := range []string{"p1", "p2", "p3"} {
		servers[name] = startServerAt(t, name, fmt.Sprintf("%s:%d", netns.Addrs[i], port), 2, netns.Exec()...)
	}
	ip := func(name string) string { return netns.Addrs[map[string]int{"p1": 0, "p2": 1, "p3": 2}[name]] }
	addr := func(name string) string { return fmt.Sprintf("%s:%d", ip(name), port) }
	ready := func(name string) kubetest.Endpoint {
		return kubetest.Endpoint{IP: ip(name), Ready: true, Serving: true}
	}
	c.Service(ns, svc, "zmq", port)
	c.Slice(ns, svc, "backend-1", "zmq", port, ready("p1"), ready("p2"))

	src, err := discovery.FromSpec(fmt.Sprintf("k8s://%s/%s:zmq", ns, svc), discovery.Options{
		Kube: discovery.KubeConfig{Server: c.URL, TokenFile: tokFile, CAFile: c.CAFile}})
	if err != nil {
		t.Fatal(err)
	}
	lb, reg := startLB(t, Options{Timeout: 10 * time.Second}, src)
	waitUp(t, lb, 2)
	requests := func(name string) float64 {
		return metricValue(t, reg, "pysup_zmq_requests_total", map[string]string{"endpoint": addr(name)})
	}

	stop := filepath.Join(dir, "stop")
	cl := startClient(t, "--connect", lb.Endpoint(), "--clients", "16", "--stop-file", stop, "--timeout", "15000")
	waitFor(t, "traffic on p1 and p2", func() bool { return requests("p1") > 0 && requests("p2") > 0 })
	if requests("p3") != 0 {
		t.Fatalf("before changes: p1 %v p2 %v p3 %v", requests("p1"), requests("p2"), requests("p3"))
	}

	// A new endpoint in a second slice gets traffic within a second.
	c.Slice(ns, svc, "backend-2", "zmq", port, ready("p3"))
	added := time.Now()
	waitFor(t, "p3 traffic", func() bool { return requests("p3") > 0 })
	// Within a second (the contract) on an idle machine; a loaded CI
	// machine gets room, and the time is logged.
	d := time.Since(added)
	t.Logf("p3 got its first request %v after its EndpointSlice", d)
	if d > 3*time.Second {
		t.Errorf("p3 got its first request %v after its EndpointSlice, want about a second", d)
	}

	// p1 turns not ready (its pod is terminating, still serving): no new
	// request from then on; then the server stops and the slice drops it.
	c.Slice(ns, svc, "backend-1", "zmq", port, kubetest.Endpoint{IP: ip("p1"), Serving: true, Terminating: true}, ready("p2"))
	waitFor(t, "p1 not usable", func() bool { u, _ := backendUsable(lb, addr("p1")); return !u })
	before := requests("p1")
	time.Sleep(500 * time.Millisecond)
	if after := requests("p1"); after != before {
		t.Errorf("p1 got %v requests after turning not ready", after-before)
	}
	servers["p1"].stop(t)
	c.Slice(ns, svc, "backend-1", "zmq", port, ready("p2"))
	waitFor(t, "p1 removed", func() bool { _, known := backendUsable(lb, addr("p1")); return !known })

	// When no endpoint is ready, serving ones are used (kube-proxy's rule).
	c.Slice(ns, svc, "backend-1", "zmq", port, kubetest.Endpoint{IP: ip("p2"), Serving: true, Terminating: true})
	c.DeleteSlice(ns, "backend-2")
	waitFor(t, "p3 removed", func() bool { _, known := backendUsable(lb, addr("p3")); return !known })
	waitFor(t, "p2 usable as a serving fallback", func() bool { u, _ := backendUsable(lb, addr("p2")); return u })
	mid := requests("p2")
	time.Sleep(500 * time.Millisecond)
	if requests("p2") <= mid {
		t.Errorf("p2 (serving, not ready, the only one) got no traffic")
	}

	if err := os.WriteFile(stop, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := cl.wait(t)
	t.Logf("client: %+v", r)
	if r.Lost != 0 || r.Bad != 0 || r.OK < 500 {
		t.Fatalf("want nothing lost: %+v", r)
	}
	for _, n := range []string{"p1", "p2", "p3"} {
		if r.ByServer[n] == 0 {
			t.Errorf("%s answered nothing: %v", n, r.ByServer)
		}
	}
}
