package multiproc

import (
	"bytes"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

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

// cpuTime is the CPU time the process used so far (every thread: the
// garbage collector's work counts).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuClock adds up the CPU time of the timed parts of a benchmark: on a
// shared, loaded machine it says what a collection costs when wall time
// also counts the waits for a core. Reported as cpu-ns/op.
type cpuClock struct {
	b       *testing.B
	start   time.Duration
	total   time.Duration
	running bool
}

func newCPUClock(b *testing.B) *cpuClock {
	b.ResetTimer()
	return &cpuClock{b: b, start: cpuTime(), running: true}
}

func (c *cpuClock) stop() {
	c.b.StopTimer()
	c.total += cpuTime() - c.start
	c.running = false
}

func (c *cpuClock) resume() {
	c.start, c.running = cpuTime(), true
	c.b.StartTimer()
}

func (c *cpuClock) report() {
	if c.running {
		c.stop()
	}
	c.b.ReportMetric(float64(c.total.Nanoseconds())/float64(c.b.N), "cpu-ns/op")
}

// BenchmarkCollectCold: a new Reader every time, nothing cached.
func BenchmarkCollectCold(b *testing.B) {
	dir := benchDir(b)
	var buf bytes.Buffer
	clock := newCPUClock(b)
	for i := 0; i < b.N; i++ {
		r := New(Options{Dir: dir})
		collect(b, r, &buf)
		// Unmapping happens when files go away, not on a scrape.
		clock.stop()
		r.Close()
		clock.resume()
	}
	clock.report()
	b.ReportMetric(float64(buf.Len()), "bytes/exposition")
}

// BenchmarkCollectWarm: one Reader, unchanged files (values re-read).
func BenchmarkCollectWarm(b *testing.B) {
	dir := benchDir(b)
	r := New(Options{Dir: dir})
	var buf bytes.Buffer
	collect(b, r, &buf)
	clock := newCPUClock(b)
	for i := 0; i < b.N; i++ {
		collect(b, r, &buf)
	}
	clock.report()
}
