package zmqlb

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pysup/pysup/internal/discovery"
	"github.com/pysup/pysup/internal/testenv"
)

// pyServer is a pyzmq REP server (testdata/zmq/rep_server.py).
type pyServer struct {
	name string
	addr string // host:port
	cmd  *exec.Cmd
	out  chan string // lines after READY
}

// freePort returns a TCP port free on host at the time of the call.
func freePort(t testing.TB, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer runs a REP server named name on host, with prefix before
// the interpreter (for example ip netns exec NS).
func startServer(t testing.TB, name, host string, sleepMS float64, prefix ...string) *pyServer {
	t.Helper()
	return startServerAt(t, name, net.JoinHostPort(host, fmt.Sprint(freePort(t, "127.0.0.1"))), sleepMS, prefix...)
}

// startServerAt runs a REP server bound to addr (host:port).
func startServerAt(t testing.TB, name, addr string, sleepMS float64, prefix ...string) *pyServer {
	t.Helper()
	py := testenv.RequirePython(t, "zmq")
	argv := append(append([]string{}, prefix...), py, testenv.Testdata("zmq", "rep_server.py"),
		"--bind", "tcp://"+addr, "--name", name, "--sleep", fmt.Sprint(sleepMS))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &pyServer{name: name, addr: addr, cmd: cmd, out: make(chan string, 16)}
	t.Cleanup(func() { s.kill() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "READY" {
				close(ready)
				continue
			}
			s.out <- sc.Text()
		}
		close(s.out)
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("server %s did not start", name)
	}
	return s
}

func (s *pyServer) endpoint() discovery.Endpoint {
	return discovery.Endpoint{Addr: s.addr, Ready: true, Serving: true}
}

// stop asks the server to finish and waits; it returns what it printed.
func (s *pyServer) stop(t testing.TB) string {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	var lines []string
	for l := range s.out {
		lines = append(lines, l)
	}
	_ = s.cmd.Wait()
	return strings.Join(lines, "\n")
}

func (s *pyServer) kill() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// clientResult is req_client.py's report.
type clientResult struct {
	OK       int            `json:"ok"`
	Lost     int            `json:"lost"`
	Bad      int            `json:"bad"`
	ByServer map[string]int `json:"by_server"`
	Seconds  float64        `json:"seconds"`
	RPS      float64        `json:"rps"`
}

// client starts req_client.py with args; wait returns its report.
type client struct {
	cmd *exec.Cmd
	out strings.Builder
}

func startClient(t testing.TB, args ...string) *client {
	t.Helper()
	py := testenv.RequirePython(t, "zmq")
	c := &client{}
	c.cmd = exec.Command(py, append([]string{testenv.Testdata("zmq", "req_client.py")}, args...)...)
	c.cmd.Stdout = &c.out
	c.cmd.Stderr = os.Stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	return c
}

func (c *client) wait(t testing.TB) clientResult {
	t.Helper()
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("client: %v: %s", err, c.out.String())
	}
	var r clientResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(c.out.String())), &r); err != nil {
		t.Fatalf("client output %q: %v", c.out.String(), err)
	}
	return r
}

// startLB runs a balancer on a free loopback port until the test ends.
func startLB(t testing.TB, opts Options, src discovery.Source) (*Balancer, *prometheus.Registry) {
	t.Helper()
	if opts.Frontend == "" {
		opts.Frontend = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t, "127.0.0.1"))
	}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	lb, err := New(opts, src, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- lb.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	return lb, reg
}

// waitUp waits until n endpoints are connected and usable.
func waitUp(t testing.TB, lb *Balancer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		lb.mu.Lock()
		up := 0
		for _, b := range lb.backends {
			if b.eligible() {
				up++
			}
		}
		lb.mu.Unlock()
		if up == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d endpoints never came up", n)
}

// counter reads one sample of a counter or gauge from reg.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}
