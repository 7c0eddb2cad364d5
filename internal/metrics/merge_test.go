package metrics

import (
	"bytes"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func parseText(s string) ([]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	m, err := p.TextToMetricFamilies(strings.NewReader(s))
	if err != nil {
		return nil, err
	}
	out := make([]*dto.MetricFamily, 0, len(m))
	for _, mf := range m {
		out = append(out, mf)
	}
	return out, nil
}

// FuzzMerge merges two hostile texts after pysup's own families: the
// result must encode and parse back, with no duplicate series and no
// sample-name clashes.
func FuzzMerge(f *testing.F) {
	f.Add(appText, "# TYPE x summary\nx_sum 1\nx_count 2\n# TYPE x_count gauge\nx_count 3\n")
	f.Add("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n", "# TYPE h_bucket gauge\nh_bucket 1\n# TYPE h counter\nh 1\n")
	f.Add("a{x=\"1\",y=\"2\"} 1\n", "a{y=\"2\",x=\"1\"} 2\n")
	own, _ := parseText("# TYPE pysup_child_up gauge\npysup_child_up 1\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		ma, err := parseText(a)
		if err != nil {
			return
		}
		mb, err := parseText(b)
		if err != nil {
			return
		}
		m := newMerger()
		m.add(own)
		m.add(ma)
		m.add(mb)
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range m.families() {
			if err := enc.Encode(mf); err != nil {
				return // the encoder refuses what the parser let through: not ours
			}
		}
		back, err := parseText(buf.String())
		if err != nil {
			t.Fatalf("merged exposition does not parse: %v\n%s", err, buf.String())
		}
		seen := map[string]bool{}
		for _, mf := range back {
			for _, met := range mf.Metric {
				k := mf.GetName() + "|" + signature(met)
				if seen[k] {
					t.Fatalf("duplicate series %s", k)
				}
				seen[k] = true
			}
		}
	})
}
