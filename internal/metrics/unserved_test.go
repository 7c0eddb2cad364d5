package metrics

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestUnservedExporter: with no server, Pushgateway or remote write,
// nothing can read the metrics and none are kept, but the multiprocess
// directory is still wiped before the child starts; a Pushgateway alone
// keeps every metric, as it pushes them.
func TestUnservedExporter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mp")
	e, err := New(Options{Config: testConfig(t, "PROMETHEUS_MULTIPROC_DIR="+dir), RootPID: func() int { return 0 }, Unserved: true})
	if err != nil {
		t.Fatal(err)
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "pysup_test_total", Help: "Test."})
	if err := e.Registerer().Register(c); err != nil {
		t.Fatal(err)
	}
	s := e.Supervisor()
	s.ChildStarted()
	s.Restarted()
	s.ChildExited(3)
	if mfs, _ := e.Gather(context.Background()); len(mfs) != 0 {
		t.Errorf("unserved exporter gathered %d families, want none", len(mfs))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "counter_1.db")
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Prepare(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale multiprocess file after Prepare: %v", err)
	}

	e, err = New(Options{Config: testConfig(t, "PYSUP_PUSHGATEWAY_URL=http://127.0.0.1:1"), Unserved: true})
	if err != nil {
		t.Fatal(err)
	}
	e.Supervisor().ChildStarted()
	mfs, _ := e.Gather(context.Background())
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "pysup_child_starts_total" {
			found = mf.GetMetric()[0].GetCounter().GetValue() == 1
		}
	}
	if !found {
		t.Error("with a Pushgateway, pysup_child_starts_total 1 is not gathered")
	}
}
