package multiproc

import (
	"bytes"
	"fmt"
	"math"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pysup/pysup/internal/testenv"
)

// flat is an exposition as samples: "name{l="v",...}" -> value, with le
// and quantile normalized so that Go's and Python's spellings agree.
type flat map[string]float64

func flatten(t testing.TB, text string) (flat, map[string]string) {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parsing exposition: %v\n%s", err, text)
	}
	out := flat{}
	types := map[string]string{}
	for name, mf := range mfs {
		types[name] = mf.GetType().String() + " " + mf.GetHelp()
		for _, m := range mf.Metric {
			ls := labelsOf(m)
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[name+ls("", "")] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name+ls("", "")] = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				out[name+ls("", "")] = m.GetUntyped().GetValue()
			case dto.MetricType_SUMMARY:
				out[name+"_sum"+ls("", "")] = m.GetSummary().GetSampleSum()
				out[name+"_count"+ls("", "")] = float64(m.GetSummary().GetSampleCount())
				for _, q := range m.GetSummary().GetQuantile() {
					out[name+ls("quantile", fmt.Sprint(q.GetQuantile()))] = q.GetValue()
				}
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				out[name+"_sum"+ls("", "")] = h.GetSampleSum()
				out[name+"_count"+ls("", "")] = float64(h.GetSampleCount()) + h.GetSampleCountFloat()
				for _, b := range h.GetBucket() {
					out[name+"_bucket"+ls("le", fmt.Sprint(b.GetUpperBound()))] = float64(b.GetCumulativeCount()) + b.GetCumulativeCountFloat()
				}
			}
		}
	}
	return out, types
}

func labelsOf(m *dto.Metric) func(extra, v string) string {
	return func(extra, v string) string {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+strconv.Quote(l.GetValue()))
		}
		if extra != "" {
			ls = append(ls, extra+"="+strconv.Quote(v))
		}
		sort.Strings(ls)
		return "{" + strings.Join(ls, ",") + "}"
	}
}

// equalFlat reports differences, allowing for summation order.
func equalFlat(a, b flat) []string {
	var diffs []string
	for k, v := range a {
		w, ok := b[k]
		if !ok {
			diffs = append(diffs, "only in pysup: "+k)
			continue
		}
		if v != w && !(math.IsNaN(v) && math.IsNaN(w)) && math.Abs(v-w) > 1e-9*math.Max(math.Abs(v), math.Abs(w)) {
			diffs = append(diffs, fmt.Sprintf("%s: pysup %v, python %v", k, v, w))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			diffs = append(diffs, "only in python: "+k)
		}
	}
	sort.Strings(diffs)
	return diffs
}

// pythonExposition runs MultiProcessCollector + generate_latest on dir.
func pythonExposition(t testing.TB, dir string) string {
	t.Helper()
	py := testenv.RequirePython(t, "prometheus_client")
	out, err := exec.Command(py, testenv.Testdata("metrics", "mpc.py"), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mpc.py: %v\n%s", err, out)
	}
	return string(out)
}

// goExposition is the Reader's output in the text format.
func goExposition(t testing.TB, r *Reader) string {
	t.Helper()
	mfs, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatalf("encoding %s: %v", mf.GetName(), err)
		}
	}
	return b.String()
}

// assertSame compares the Reader with MultiProcessCollector on its dir,
// sample for sample, and family types and help.
func assertSame(t *testing.T, r *Reader, what string) flat {
	t.Helper()
	goText := goExposition(t, r) // first: it may remove dead live-gauge files
	if ref, _ := refGather(t, r.dir, r.maxSize); ref != goText {
		t.Fatalf("%s: exposition differs from the reference implementation\n--- pysup\n%s\n--- reference\n%s", what, goText, ref)
	}
	pyText := pythonExposition(t, r.dir)
	g, gt := flatten(t, goText)
	p, pt := flatten(t, pyText)
	if diffs := equalFlat(g, p); len(diffs) > 0 {
		t.Fatalf("%s: pysup and MultiProcessCollector differ (%d samples vs %d):\n%s", what, len(g), len(p), strings.Join(diffs, "\n"))
	}
	for n, ty := range pt {
		if gt[n] != ty {
			t.Errorf("%s: family %s: pysup %q, python %q", what, n, gt[n], ty)
		}
	}
	t.Logf("%s: %d samples identical", what, len(g))
	return g
}
