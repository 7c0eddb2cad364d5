package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestPrometheusScrapesPysup: Debian's Prometheus scrapes pysup's handler
// and stores pysup's and the app's series.
func TestPrometheusScrapesPysup(t *testing.T) {
	app := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, appText) }))
	e, err := New(Options{Config: testConfig(t, "PYSUP_METRICS_SCRAPE=http://"+app+"/metrics")})
	if err != nil {
		t.Fatal(err)
	}
	e.Supervisor().ChildStarted()
	mux := http.NewServeMux()
	mux.Handle("/metrics", e.Handler())
	addr := serve(t, mux)
	prom := startPrometheus(t, fmt.Sprintf("  - job_name: pysup\n    static_configs:\n      - targets: ['%s']\n", addr))
	eventually(t, 20*time.Second, "pysup's and the app's series in Prometheus", func() bool {
		return promQuery(t, prom, `pysup_child_up{job="pysup"}`)[fmt.Sprintf("map[__name__:pysup_child_up instance:%s job:pysup]", addr)] == "1" &&
			len(promQuery(t, prom, `app_requests_total{path="/"}`)) == 1 &&
			len(promQuery(t, prom, `pysup_go_goroutines`)) == 1
	})
	if up := promQuery(t, prom, `up{job="pysup"}`); fmt.Sprint(up) != fmt.Sprintf("map[map[__name__:up instance:%s job:pysup]:1]", addr) {
		t.Errorf("up: %v", up)
	}
}

// TestPushgatewayPeriodicAndFinal: periodic pushes then a final one with
// the last values, grouped by job, namespace and pod; then delete-on-exit.
func TestPushgatewayPeriodicAndFinal(t *testing.T) {
	pg := startPushgateway(t)
	app := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A job label in the app's metrics must not break the push.
		io.WriteString(w, "batch_items_total{job=\"inner\"} 3\n")
	}))
	labels := map[string]string{"namespace": "ns1", "pod": "job-abc", "container": "worker"}
	e, err := New(Options{Config: testConfig(t, "PYSUP_PUSHGATEWAY_URL="+pg, "PYSUP_PUSH_INTERVAL=200ms",
		"PYSUP_METRICS_SCRAPE=http://"+app+"/"), Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "pysup_test_events_total", Help: "Test."})
	e.Registerer().MustRegister(c)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { e.Run(ctx); close(done) }()
	pgMetrics := func() string {
		resp, err := http.Get(pg + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	const grp = `instance="",job="worker",namespace="ns1",pod="job-abc"`
	eventually(t, 10*time.Second, "a periodic push", func() bool {
		return strings.Contains(pgMetrics(), `pysup_test_events_total{`+grp+`} 0`)
	})
	c.Add(5)
	e.Supervisor().ChildExited(0)
	cancel()
	<-done
	if err := e.Final(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := pgMetrics()
	for _, want := range []string{
		`pysup_test_events_total{` + grp + `} 5`,
		`pysup_child_last_exit_code{` + grp + `} 0`,
		`batch_items_total{exported_job="inner",` + grp + `} 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("final push: missing %s", want)
		}
	}

	// Delete on exit removes the group.
	e2, err := New(Options{Config: testConfig(t, "PYSUP_PUSHGATEWAY_URL="+pg, "PYSUP_PUSH_DELETE_ON_EXIT=true"), Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.Final(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(pgMetrics(), `pysup_test_events_total{`+grp) {
		t.Error("group still there after delete-on-exit")
	}
}

// TestRemoteWriteToPrometheus: Prometheus with the remote-write receiver
// stores pysup's samples, with the pod's external labels.
func TestRemoteWriteToPrometheus(t *testing.T) {
	prom := startPrometheus(t, "")
	app := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# TYPE rq_seconds histogram\nrq_seconds_bucket{le=\"0.5\"} 2\nrq_seconds_bucket{le=\"+Inf\"} 3\nrq_seconds_sum 1.2\nrq_seconds_count 3\n")
	}))
	e, err := New(Options{Config: testConfig(t, "PYSUP_REMOTE_WRITE_URL="+prom+"/api/v1/write",
		"PYSUP_REMOTE_WRITE_INTERVAL=300ms", "PYSUP_REMOTE_WRITE_BATCH=50", "PYSUP_METRICS_SCRAPE=http://"+app+"/"),
		Labels: map[string]string{"namespace": "ns1", "pod": "web-1"}})
	if err != nil {
		t.Fatal(err)
	}
	e.Supervisor().ChildStarted()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	eventually(t, 20*time.Second, "remote-written samples in Prometheus", func() bool {
		return promQuery(t, prom, `pysup_child_up{namespace="ns1",pod="web-1",job="pysup"}`)["map[__name__:pysup_child_up job:pysup namespace:ns1 pod:web-1]"] == "1" &&
			promQuery(t, prom, `rq_seconds_bucket{le="0.5",pod="web-1"}`)["map[__name__:rq_seconds_bucket job:pysup le:0.5 namespace:ns1 pod:web-1]"] == "2"
	})
	cancel()
	if err := e.Final(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, e.Handler())
	if !strings.Contains(body, `pysup_remote_write_samples_total{result="dropped"} 0`) {
		t.Errorf("samples dropped:\n%s", grep(body, "remote_write"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
