package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics answered %d", resp.StatusCode)
	}
	return string(b)
}

// TestMetricsEndpoint: /metrics shows the child up, the lines it logged,
// the probe state and a failing check, and passes promtool's lint.
func TestMetricsEndpoint(t *testing.T) {
	port := testenv.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	r := startPysup(t, mode{}, []string{fmt.Sprintf("PYSUP_HTTP_ADDR=127.0.0.1:%d", port),
		"PYSUP_LIVE_CHECK=tcp://127.0.0.1:1?period=100ms&failures=100"},
		"--", "sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; sleep 30")
	want := []string{
		"pysup_child_up 1",
		"pysup_log_records_total 5",
		`pysup_probe_healthy{probe="ready"} 1`,
		`pysup_check_up{check="tcp://127.0.0.1:1?period=100ms&failures=100",kind="tcp",role="live"} 1`,
		"pysup_go_goroutines",
	}
	var body string
	deadline := time.Now().Add(15 * time.Second)
	for {
		body = scrape(t, url)
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q:\n%s", missing, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(body, "\nprocess_cpu_seconds_total") || strings.Contains(body, "\ngo_goroutines") {
		t.Errorf("pysup's own collectors are not namespaced: they would collide with the app's")
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else {
		testenv.Missing(t, "promtool")
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(10 * time.Second); code != 143 {
		t.Errorf("exit status %d, want 143 (sh dies of TERM)", code)
	}
}
