package main

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

func status(url string) int {
	resp, err := (&http.Client{Timeout: time.Second}).Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestDrainFailsReadinessAtOnce: on SIGTERM /readyz turns 503 at once,
// long before the stop signal, while /livez stays 200 and the app still
// runs; the stop signal follows the drain delay.
func TestDrainFailsReadinessAtOnce(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		out := newOut(t)
		port := testenv.FreePort(t)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		r := startPysup(t, m, []string{out.env(), "TERM_ACTION=exit:0", "PYSUP_DRAIN_DELAY=1500ms",
			fmt.Sprintf("PYSUP_HTTP_ADDR=127.0.0.1:%d", port)}, pythonArgs(t, "sigrecorder.py")...)
		out.waitLine(t, "ready", 30*time.Second)
		deadline := time.Now().Add(5 * time.Second)
		for status(base+"/readyz") != 200 {
			if time.Now().After(deadline) {
				t.Fatal("/readyz never 200 before the stop")
			}
			time.Sleep(10 * time.Millisecond)
		}
		sent := time.Now()
		r.signal(syscall.SIGTERM)
		for status(base+"/readyz") != 503 {
			if time.Since(sent) > time.Second {
				t.Fatal("/readyz still not 503 one second after SIGTERM")
			}
			time.Sleep(time.Millisecond)
		}
		t.Logf("/readyz 503 %s after SIGTERM", time.Since(sent).Round(time.Millisecond))
		if got := status(base + "/livez"); got != 200 {
			t.Errorf("/livez %d while draining, want 200", got)
		}
		if lines := out.lines(); len(lines) != 1 {
			t.Errorf("child got a signal during the drain: %q", lines)
		}
		if code := r.wait(10 * time.Second); code != 0 {
			t.Errorf("exit status %d, want 0", code)
		}
		if got := out.signalTime(t, "SIGTERM", 0).Sub(sent); got < 1500*time.Millisecond {
			t.Errorf("stop signal %s after SIGTERM, before the drain delay", got)
		}
	})
}
