package metrics

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pysup/pysup/internal/config"
	"github.com/pysup/pysup/internal/testenv"
)

// testConfig is config.Metrics with its defaults.
func testConfig(t testing.TB, env ...string) config.Metrics {
	t.Helper()
	cfg, err := config.Load([]string{"--", "true"}, env)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Metrics
}

func get(t testing.TB, h http.Handler) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Code, rec.Body.String()
}

const appText = `# HELP app_requests_total Requests.
# TYPE app_requests_total counter
app_requests_total{path="/"} 7
# HELP process_cpu_seconds_total The app's own.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
# HELP pysup_child_up Not pysup's.
# TYPE pysup_child_up gauge
pysup_child_up 42
`

// TestHandlerSurvivesBadApps: a good endpoint merges, garbage, errors,
// slowness and oversize show as pysup_scrape_* and never fail /metrics;
// a duplicate family keeps pysup's.
func TestHandlerSurvivesBadApps(t *testing.T) {
	good := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept"), "version=0.0.4") {
			t.Errorf("Accept %q", r.Header.Get("Accept"))
		}
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		io.WriteString(gz, appText)
		gz.Close()
	}))
	garbage := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "this is { not metrics\n")
	}))
	failing := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", 500)
	}))
	slow := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	huge := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 20000; i++ {
			fmt.Fprintf(w, "big_metric{i=\"%d\"} 1\n", i)
		}
	}))
	urls := []string{"http://" + good + "/metrics", "http://" + garbage + "/", "http://" + failing + "/",
		"http://" + slow + "/", "http://" + huge + "/"}
	e, err := New(Options{Config: testConfig(t, "PYSUP_METRICS_SCRAPE="+strings.Join(urls, ","),
		"PYSUP_METRICS_SCRAPE_TIMEOUT=1500ms", "PYSUP_METRICS_SCRAPE_MAX_BYTES=100000")})
	if err != nil {
		t.Fatal(err)
	}
	e.Supervisor().ChildStarted()
	code, body := get(t, e.Handler())
	code, body = get(t, e.Handler()) // the second shows the first's conflicts
	if code != 200 {
		t.Fatalf("status %d:\n%s", code, body)
	}
	for _, want := range []string{
		`app_requests_total{path="/"} 7`,
		"process_cpu_seconds_total 1.5",
		"pysup_child_up 1",
		fmt.Sprintf(`pysup_scrape_up{target="%s"} 1`, urls[0]),
		fmt.Sprintf(`pysup_scrape_up{target="%s"} 0`, urls[1]),
		fmt.Sprintf(`pysup_scrape_errors_total{reason="parse",target="%s"} 2`, urls[1]),
		fmt.Sprintf(`pysup_scrape_errors_total{reason="status",target="%s"} 2`, urls[2]),
		fmt.Sprintf(`pysup_scrape_errors_total{reason="request",target="%s"} 2`, urls[3]),
		fmt.Sprintf(`pysup_scrape_errors_total{reason="size",target="%s"} 2`, urls[4]),
		fmt.Sprintf(`pysup_scrape_conflicts_total{target="%s"} 1`, urls[0]),
		"pysup_go_goroutines", "pysup_process_cpu_seconds_total",
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want+" ") {
			t.Errorf("missing %q", want)
		}
	}
	if strings.Contains(body, "big_metric") || strings.Contains(body, "pysup_child_up 42") {
		t.Error("oversized or colliding series served")
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := p.TextToMetricFamilies(strings.NewReader(body)); err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
}

// TestPromtoolCheckMetrics lints pysup's own exposition, every part of
// the metrics package included.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testenv.RequireBinary(t, "promtool")
	app := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "x", 500) }))
	rw := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	e, err := New(Options{
		Config: testConfig(t, "PYSUP_METRICS_SCRAPE=http://"+app+"/", "PROMETHEUS_MULTIPROC_DIR="+t.TempDir(),
			"PYSUP_PUSHGATEWAY_URL=http://"+rw, "PYSUP_REMOTE_WRITE_URL=http://"+rw+"/w"),
		RootPID: os.Getpid,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Prepare(); err != nil {
		t.Fatal(err)
	}
	e.Supervisor().ChildStarted()
	e.Supervisor().ChildExited(143)
	e.Supervisor().DrainObserved(time.Second)
	e.Supervisor().StopObserved(time.Second)
	_, body := get(t, e.Handler())
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s\n---\n%s", err, out, body)
	}
	for _, want := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "pysup_app_processes", "pysup_multiproc_files"} {
		if !strings.Contains(body, "\n"+want) {
			t.Errorf("missing %s", want)
		}
	}
}
