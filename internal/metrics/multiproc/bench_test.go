package multiproc

import (
	"bytes"
	"os"
	"os/exec"
	"testing"

	"github.com/prometheus/common/expfmt"

	"github.com/pysup/pysup/internal/testenv"
)

// benchDir is the directory to aggregate: PYSUP_BENCH_MULTIPROC_DIR (made
// by bench/metrics/run.sh), else one generated here with the real
// prometheus_client (testdata/metrics/mpgen.py: 32 workers, 96 files).
func benchDir(b *testing.B) string {
	if d := os.Getenv("PYSUP_BENCH_MULTIPROC_DIR"); d != "" {
		return d
	}
	py := testenv.RequirePython(b, "prometheus_client")
	dir := b.TempDir()
	if out, err := exec.Command(py, testenv.Testdata("metrics", "mpgen.py"), dir, "32").CombinedOutput(); err != nil {
		b.Fatalf("mpgen.py: %v\n%s", err, out)
	}
	return dir
}

// collect is one collection as a scrape does it: read, aggregate and
// encode as text (generate_latest's work on the Python side).
func collect(b *testing.B, r *Reader, buf *bytes.Buffer) {
	mfs, err := r.Gather()
	if err != nil {
		b.Fatal(err)
	}
	buf.Reset()
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(buf, mf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCollectCold: a new Reader every time, nothing cached.
func BenchmarkCollectCold(b *testing.B) {
	dir := benchDir(b)
	var buf bytes.Buffer
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := New(Options{Dir: dir})
		collect(b, r, &buf)
		// Unmapping happens when files go away, not on a scrape.
		b.StopTimer()
		r.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(buf.Len()), "bytes/exposition")
}

// BenchmarkCollectWarm: one Reader, unchanged files (values re-read).
func BenchmarkCollectWarm(b *testing.B) {
	dir := benchDir(b)
	r := New(Options{Dir: dir})
	var buf bytes.Buffer
	collect(b, r, &buf)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		collect(b, r, &buf)
	}
}
