package metrics

import (
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// merger builds one exposition from sources added in order of
// precedence. It never fails: what collides with something already there
// is dropped and counted.
type merger struct {
	fams   map[string]*mergedFamily
	suffix map[string]bool // names histograms and summaries already produce
}

type mergedFamily struct {
	mf   *dto.MetricFamily
	sigs map[string]bool
}

func newMerger() *merger {
	return &merger{fams: make(map[string]*mergedFamily), suffix: make(map[string]bool)}
}

// producedSuffixes are the extra sample names of a family type.
func producedSuffixes(t dto.MetricType) []string {
	switch t {
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return []string{"_bucket", "_sum", "_count"}
	case dto.MetricType_SUMMARY:
		return []string{"_sum", "_count"}
	}
	return nil
}

// add merges one source's families and returns how many series it
// dropped because they collided with earlier ones.
func (m *merger) add(mfs []*dto.MetricFamily) (dropped int) {
	for _, mf := range mfs {
		if mf == nil || len(mf.Metric) == 0 {
			continue
		}
		name := mf.GetName()
		cur, ok := m.fams[name]
		if !ok {
			if m.collides(name, mf.GetType()) {
				dropped += len(mf.Metric)
				continue
			}
			cur = &mergedFamily{
				mf:   &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit},
				sigs: make(map[string]bool, len(mf.Metric)),
			}
			m.fams[name] = cur
			for _, s := range producedSuffixes(mf.GetType()) {
				m.suffix[name+s] = true
			}
		} else if cur.mf.GetType() != mf.GetType() {
			dropped += len(mf.Metric)
			continue
		}
		for _, met := range mf.Metric {
			if met == nil {
				continue
			}
			sig := signature(met)
			if cur.sigs[sig] {
				dropped++
				continue
			}
			cur.sigs[sig] = true
			cur.mf.Metric = append(cur.mf.Metric, met)
		}
	}
	return dropped
}

// collides reports whether a new family's sample names clash with
// families already merged: a gauge x_count beside a summary x, or a
// histogram x beside a gauge x_bucket.
func (m *merger) collides(name string, t dto.MetricType) bool {
	if m.suffix[name] {
		return true
	}
	for _, s := range producedSuffixes(t) {
		if _, ok := m.fams[name+s]; ok {
			return true
		}
	}
	return false
}

// families returns the merged exposition sorted by name.
func (m *merger) families() []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(m.fams))
	for _, f := range m.fams {
		out = append(out, f.mf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// signature identifies a series by its label set, whatever the order.
func signature(m *dto.Metric) string {
	ls := m.GetLabel()
	if len(ls) == 0 {
		return ""
	}
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		parts = append(parts, l.GetName()+"\xfe"+l.GetValue())
	}
	sort.Strings(parts)
	return strings.Join(parts, "\xff")
}
