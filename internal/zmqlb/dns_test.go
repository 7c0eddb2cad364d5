package zmqlb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/discovery"
	"github.com/pysup/pysup/internal/testenv"
)

// dnsmasq is a real DNS server answering from a hosts file that the test
// rewrites (dnsmasq re-reads it on SIGHUP).
type dnsmasq struct {
	cmd   *exec.Cmd
	hosts string
	addr  string
}

func startDNSMasq(t *testing.T) *dnsmasq {
	t.Helper()
	bin := testenv.RequireBinary(t, "dnsmasq")
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o755) // dnsmasq may drop to nobody
	d := &dnsmasq{hosts: filepath.Join(dir, "hosts")}
	if err := os.WriteFile(d.hosts, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t, "127.0.0.1")
	d.addr = fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--addn-hosts=" + d.hosts, "--listen-address=127.0.0.1", "--bind-interfaces",
		fmt.Sprintf("--port=%d", port), "--pid-file=", "--local-ttl=0", "--log-facility=-"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stderr = os.Stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.cmd.Process.Kill(); _ = d.cmd.Wait() })
	time.Sleep(200 * time.Millisecond)
	return d
}

// set publishes name with the given addresses.
func (d *dnsmasq) set(t *testing.T, name string, ips ...string) {
	t.Helper()
	var b strings.Builder
	for _, ip := range ips {
		fmt.Fprintf(&b, "%s %s\n", ip, name)
	}
	if err := os.WriteFile(d.hosts, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = d.cmd.Process.Signal(syscall.SIGHUP)
}

// dns://NAME:PORT against a real dnsmasq with several A records: requests
// spread over every address; records added and removed are followed.
func TestDNSMode(t *testing.T) {
	d := startDNSMasq(t)
	port := freePort(t, "127.0.0.1")
	hosts := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	var servers []*pyServer
	for i, h := range hosts {
		servers = append(servers, startServerAt(t, fmt.Sprintf("d%d", i+1), fmt.Sprintf("%s:%d", h, port), 1))
	}
	d.set(t, "zmq-backend.test", hosts[:2]...)
	src, err := discovery.FromSpec(fmt.Sprintf("dns://zmq-backend.test:%d", port),
		discovery.Options{DNSServer: d.addr, DNSInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	lb, reg := startLB(t, Options{}, src)
	waitUp(t, lb, 2)
	r := startClient(t, "--connect", lb.Endpoint(), "--clients", "8", "--count", "50").wait(t)
	if r.OK != 400 || r.ByServer["d1"] < 100 || r.ByServer["d2"] < 100 || r.ByServer["d3"] != 0 {
		t.Fatalf("two A records: %+v", r)
	}

	// A third record appears, the first disappears.
	d.set(t, "zmq-backend.test", hosts[1:]...)
	waitFor(t, "d3 added and d1 removed", func() bool {
		_, k1 := backendUsable(lb, servers[0].addr)
		u3, _ := backendUsable(lb, servers[2].addr)
		return !k1 && u3
	})
	waitUp(t, lb, 2)
	r = startClient(t, "--connect", lb.Endpoint(), "--clients", "8", "--count", "50").wait(t)
	if r.OK != 400 || r.ByServer["d1"] != 0 || r.ByServer["d2"] < 100 || r.ByServer["d3"] < 100 {
		t.Fatalf("after the change: %+v", r)
	}
	if got := metricValue(t, reg, "pysup_zmq_endpoints", nil); got != 2 {
		t.Errorf("endpoints gauge = %v, want 2", got)
	}
}
