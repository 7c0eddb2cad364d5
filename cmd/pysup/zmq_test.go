package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// repServer starts a pyzmq REP server named name on port and waits until
// it is bound.
func repServer(t *testing.T, py, name string, port int) {
	t.Helper()
	cmd := exec.Command(py, testenv.Testdata("zmq", "rep_server.py"), "--bind", fmt.Sprintf("tcp://127.0.0.1:%d", port), "--name", name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "READY") {
				ready <- true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatalf("server %s not ready", name)
	}
}

// TestZMQBalancesAcrossBackends: the app's REQ sockets connect to pysup's
// frontend only; its requests are all answered, spread over both servers.
func TestZMQBalancesAcrossBackends(t *testing.T) {
	py := testenv.RequirePython(t, "zmq")
	a, b, front := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	repServer(t, py, "s1", a)
	repServer(t, py, "s2", b)
	r := startPysup(t, mode{}, []string{
		fmt.Sprintf("PYSUP_ZMQ_FRONTEND=tcp://127.0.0.1:%d", front),
		fmt.Sprintf("PYSUP_ZMQ_BACKENDS=tcp://127.0.0.1:%d,tcp://127.0.0.1:%d", a, b),
	}, "--", py, testenv.Testdata("zmq", "req_client.py"), "--connect", fmt.Sprintf("tcp://127.0.0.1:%d", front),
		"--clients", "4", "--count", "50")
	if code := r.wait(60 * time.Second); code != 0 {
		t.Fatalf("client exited %d", code)
	}
	// The client prints one JSON object; pysup's log pipeline merges it
	// into its record.
	var res struct {
		OK       int            `json:"ok"`
		Lost     int            `json:"lost"`
		ByServer map[string]int `json:"by_server"`
	}
	found := false
	for _, line := range strings.Split(r.stdout.String(), "\n") {
		if strings.Contains(line, `"by_server"`) {
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("record %q: %v", line, err)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("no client result in pysup's output:\n%s", r.stdout.String())
	}
	if res.OK != 200 || res.Lost != 0 {
		t.Errorf("answered %d, lost %d; want 200, 0", res.OK, res.Lost)
	}
	if res.ByServer["s1"] < 40 || res.ByServer["s2"] < 40 {
		t.Errorf("shares %v: want both servers used evenly", res.ByServer)
	}
}
