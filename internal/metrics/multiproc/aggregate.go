package multiproc

import (
	"math"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// sample is one entry of one file, ready to aggregate.
type sample struct {
	k     *key
	v, ts float64
	pid   string // the writer's pid, for gauges
	gauge bool   // read from a gauge file: gets a pid label
}

// family gathers the samples of one metric name across files, as
// MultiProcessCollector._read_metrics does.
type family struct {
	typ     string // from the first file holding the metric
	mode    string // multiprocess_mode of the last gauge file holding it
	help    string // from the first key
	samples []sample
}

// aggregator merges the files of one collection.
type aggregator struct {
	fams map[string]*family
}

func newAggregator() *aggregator { return &aggregator{fams: make(map[string]*family)} }

func (a *aggregator) add(typ, mode, pid string, k *key, v, ts float64) {
	f := a.fams[k.metric]
	if f == nil {
		f = &family{typ: typ, help: k.help}
		a.fams[k.metric] = f
	}
	if typ == "gauge" {
		f.mode = mode
	}
	f.samples = append(f.samples, sample{k: k, v: v, ts: ts, pid: pid, gauge: typ == "gauge"})
}

// series is one output series under construction.
type series struct {
	labels []label
	value  float64
	ts     float64
	set    bool // mostrecent: a timestamp won
	// histogram parts
	buckets map[float64]float64
	sum     float64
	// summary parts
	count float64
}

// families returns the aggregated metric families, sorted by name, and
// the number of samples that cannot be exposed (names that do not fit
// their family's type, bad le labels).
func (a *aggregator) families() ([]*dto.MetricFamily, int) {
	names := make([]string, 0, len(a.fams))
	for n := range a.fams {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*dto.MetricFamily, 0, len(names))
	invalid := 0
	for _, n := range names {
		mf, bad := a.fams[n].build(n)
		invalid += bad
		if mf != nil && len(mf.Metric) > 0 {
			out = append(out, mf)
		}
	}
	return out, invalid
}

// build aggregates one family exactly as _accumulate_metrics with
// accumulate=True.
func (f *family) build(name string) (*dto.MetricFamily, int) {
	bad := 0
	ser := make(map[string]*series)
	get := func(key string, labels []label) (*series, bool) {
		s, ok := ser[key]
		if !ok {
			s = &series{labels: labels}
			ser[key] = s
		}
		return s, ok
	}
	switch f.typ {
	case "gauge":
		for _, s := range f.samples {
			if s.k.sample != name {
				bad++
				continue
			}
			switch f.mode {
			case "min", "livemin":
				labels, key := withoutPid(s.k)
				if cur, ok := get(key, labels); !ok || s.v < cur.value {
					cur.value = s.v
				}
			case "max", "livemax":
				labels, key := withoutPid(s.k)
				if cur, ok := get(key, labels); !ok || s.v > cur.value {
					cur.value = s.v
				}
			case "sum", "livesum":
				labels, key := withoutPid(s.k)
				cur, _ := get(key, labels)
				cur.value += s.v
			case "mostrecent", "livemostrecent":
				labels, key := withoutPid(s.k)
				cur, _ := get(key, labels)
				if cur.ts < s.ts {
					cur.value, cur.ts, cur.set = s.v, s.ts, true
				}
			default: // all, liveall
				labels := s.k.labels
				if s.gauge {
					labels = withPid(s.k.labels, s.pid)
				}
				cur, _ := get(labelsKey(labels), labels)
				cur.value = s.v
			}
		}
	case "histogram":
		for _, s := range f.samples {
			switch {
			case s.k.leState == leOK && s.k.sample == name+"_bucket":
				cur, _ := get(s.k.noLeKey, s.k.noLe)
				if cur.buckets == nil {
					cur.buckets = make(map[float64]float64)
				}
				cur.buckets[s.k.le] += s.v
			case s.k.leState == leNone && s.k.sample == name+"_sum":
				cur, _ := get(s.k.labelsKey, s.k.labels)
				cur.sum += s.v
			default:
				bad++
			}
		}
	case "summary":
		for _, s := range f.samples {
			cur, _ := get(s.k.labelsKey, s.k.labels)
			switch s.k.sample {
			case name + "_sum":
				cur.sum += s.v
			case name + "_count":
				cur.count += s.v
			default:
				bad++
			}
		}
	default: // counter
		for _, s := range f.samples {
			if s.k.sample != name+"_total" {
				bad++
				continue
			}
			cur, _ := get(s.k.labelsKey, s.k.labels)
			cur.value += s.v
		}
	}
	return f.emit(name, ser), bad
}

func (f *family) emit(name string, ser map[string]*series) *dto.MetricFamily {
	keys := make([]string, 0, len(ser))
	for k := range ser {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mf := &dto.MetricFamily{Help: proto.String(f.help)}
	switch f.typ {
	case "gauge":
		mf.Name, mf.Type = proto.String(name), dto.MetricType_GAUGE.Enum()
	case "histogram":
		mf.Name, mf.Type = proto.String(name), dto.MetricType_HISTOGRAM.Enum()
	case "summary":
		mf.Name, mf.Type = proto.String(name), dto.MetricType_SUMMARY.Enum()
	default:
		mf.Name, mf.Type = proto.String(name+"_total"), dto.MetricType_COUNTER.Enum()
	}
	mf.Metric = make([]*dto.Metric, 0, len(keys))
	for _, k := range keys {
		s := ser[k]
		m := &dto.Metric{Label: labelPairs(s.labels)}
		switch f.typ {
		case "gauge":
			if (f.mode == "mostrecent" || f.mode == "livemostrecent") && !s.set {
				continue
			}
			m.Gauge = &dto.Gauge{Value: proto.Float64(s.value)}
		case "histogram":
			m.Histogram = histogram(s)
		case "summary":
			m.Summary = &dto.Summary{SampleSum: proto.Float64(s.sum)}
			// Summaries have no float count: a count that is not a whole
			// number (only ever written by hand) is rounded towards zero.
			m.Summary.SampleCount = proto.Uint64(clampCount(s.count))
		default:
			m.Counter = &dto.Counter{Value: proto.Float64(s.value)}
		}
		mf.Metric = append(mf.Metric, m)
	}
	return mf
}

// histogram accumulates the buckets in order of their bound; the count is
// the last accumulated value, as in multiprocess.py.
func histogram(s *series) *dto.Histogram {
	bounds := make([]float64, 0, len(s.buckets))
	for b := range s.buckets {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	h := &dto.Histogram{SampleSum: proto.Float64(s.sum)}
	acc := 0.0
	integral := true
	for _, b := range bounds {
		acc += s.buckets[b]
		if _, ok := asCount(acc); !ok {
			integral = false
		}
	}
	acc = 0
	h.Bucket = make([]*dto.Bucket, 0, len(bounds))
	for _, b := range bounds {
		acc += s.buckets[b]
		bk := &dto.Bucket{UpperBound: proto.Float64(b)}
		if integral {
			c, _ := asCount(acc)
			bk.CumulativeCount = proto.Uint64(c)
		} else {
			bk.CumulativeCountFloat = proto.Float64(acc)
		}
		h.Bucket = append(h.Bucket, bk)
	}
	if integral {
		c, _ := asCount(acc)
		h.SampleCount = proto.Uint64(c)
	} else {
		h.SampleCountFloat = proto.Float64(acc)
	}
	return h
}

func clampCount(f float64) uint64 {
	if !(f > 0) {
		return 0
	}
	if f >= 1<<63 {
		return 1 << 63
	}
	return uint64(f)
}

// asCount converts a float count to uint64 when it is one exactly.
func asCount(f float64) (uint64, bool) {
	if f < 0 || f >= 1<<63 || f != math.Trunc(f) {
		return 0, false
	}
	return uint64(f), true
}

func withoutPid(k *key) ([]label, string) {
	for _, l := range k.labels {
		if l.name == "pid" {
			ls := make([]label, 0, len(k.labels))
			for _, l := range k.labels {
				if l.name != "pid" {
					ls = append(ls, l)
				}
			}
			return ls, labelsKey(ls)
		}
	}
	return k.labels, k.labelsKey
}

// withPid adds the writer's pid label; it replaces a pid label of the
// app's own, as dict(labels_key + (('pid', pid),)) does.
func withPid(ls []label, pid string) []label {
	out := make([]label, 0, len(ls)+1)
	added := false
	for _, l := range ls {
		if l.name == "pid" {
			continue
		}
		if !added && l.name > "pid" {
			out = append(out, label{"pid", pid})
			added = true
		}
		out = append(out, l)
	}
	if !added {
		out = append(out, label{"pid", pid})
	}
	return out
}

func labelPairs(ls []label) []*dto.LabelPair {
	if len(ls) == 0 {
		return nil
	}
	out := make([]*dto.LabelPair, len(ls))
	for i, l := range ls {
		out[i] = &dto.LabelPair{Name: proto.String(l.name), Value: proto.String(l.value)}
	}
	return out
}
