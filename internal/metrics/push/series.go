package push

import (
	"math"
	"sort"
	"strconv"

	dto "github.com/prometheus/client_model/go"
)

// series is one remote-write time series with one sample.
type series struct {
	labels []labelPair // sorted by name, __name__ included
	value  float64
	tsMs   int64
}

type labelPair struct{ name, value string }

// toSeries flattens an exposition into the samples Prometheus would store
// from a scrape of it at nowMs: histograms and summaries become their
// _bucket/_sum/_count and quantile series. External labels are added
// where the series has no label of that name, as Prometheus does.
func toSeries(mfs []*dto.MetricFamily, external map[string]string, nowMs int64) []series {
	var out []series
	ext := make([]labelPair, 0, len(external))
	for k, v := range external {
		ext = append(ext, labelPair{k, v})
	}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.Metric {
			ts := nowMs
			if m.TimestampMs != nil {
				ts = m.GetTimestampMs()
			}
			add := func(n string, v float64, extra ...labelPair) {
				out = append(out, series{labels: buildLabels(n, m.Label, extra, ext), value: v, tsMs: ts})
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				add(name, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add(name, m.GetUntyped().GetValue())
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.Quantile {
					add(name, q.GetValue(), labelPair{"quantile", formatFloat(q.GetQuantile())})
				}
				add(name+"_sum", s.GetSampleSum())
				add(name+"_count", float64(s.GetSampleCount()))
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				count := float64(h.GetSampleCount())
				if h.SampleCountFloat != nil {
					count = h.GetSampleCountFloat()
				}
				inf := false
				for _, b := range h.Bucket {
					c := float64(b.GetCumulativeCount())
					if b.CumulativeCountFloat != nil {
						c = b.GetCumulativeCountFloat()
					}
					if math.IsInf(b.GetUpperBound(), 1) {
						inf = true
					}
					add(name+"_bucket", c, labelPair{"le", formatFloat(b.GetUpperBound())})
				}
				if !inf {
					add(name+"_bucket", count, labelPair{"le", "+Inf"})
				}
				add(name+"_sum", h.GetSampleSum())
				add(name+"_count", count)
			}
		}
	}
	return out
}

func buildLabels(name string, ls []*dto.LabelPair, extra, ext []labelPair) []labelPair {
	out := make([]labelPair, 0, 1+len(ls)+len(extra)+len(ext))
	out = append(out, labelPair{"__name__", name})
	have := make(map[string]bool, len(ls)+len(extra))
	for _, l := range ls {
		out = append(out, labelPair{l.GetName(), l.GetValue()})
		have[l.GetName()] = true
	}
	for _, l := range extra {
		if !have[l.name] {
			out = append(out, l)
			have[l.name] = true
		}
	}
	for _, l := range ext {
		if !have[l.name] {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// formatFloat spells le and quantile as client_golang's text format does.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
