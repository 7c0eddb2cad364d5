package multiproc

// The aggregation as it was before the scrape-plan rewrite (encoding/json
// keys, maps of series built on every collection), kept verbatim as the
// reference the fast path must match byte for byte.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"
)

// refKey is a parsed entry refKey: json.dumps([metric_name, sample_name, labels,
// help], sort_keys=True).
type refKey struct {
	metric string // metric (refFamily) name as prometheus_client registered it
	sample string // refSample name: metric, metric_total, metric_sum, metric_bucket...
	help   string
	labels []refLabel // sorted by name, as labels_key in multiprocess.py
	// refLabelsKey identifies labels inside a refFamily.
	labelsKey string
	// le is the parsed le refLabel, which makes a refHistogram refSample a bucket;
	// refLeState says whether there is one and whether it parsed.
	le      float64
	leState refLeState
	// noLe and noLeKey are labels without le: a bucket's refSeries.
	noLe    []refLabel
	noLeKey string
}

type refLeState uint8

const (
	refLeNone refLeState = iota
	refLeOK
	refLeBad
)

type refLabel struct{ name, value string }

var refErrKey = errors.New("malformed refKey")

// refParseKey parses a raw refKey. Keys are written by prometheus_client from
// validated names, so anything else is a torn or hostile entry.
func refParseKey(raw []byte) (*refKey, error) {
	if !utf8.Valid(raw) {
		return nil, refErrKey
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) != 4 {
		return nil, refErrKey
	}
	k := &refKey{}
	var labels map[string]string
	if json.Unmarshal(parts[0], &k.metric) != nil ||
		json.Unmarshal(parts[1], &k.sample) != nil ||
		json.Unmarshal(parts[2], &labels) != nil ||
		json.Unmarshal(parts[3], &k.help) != nil {
		return nil, refErrKey
	}
	if !model.LegacyValidation.IsValidMetricName(k.metric) || !model.LegacyValidation.IsValidMetricName(k.sample) {
		return nil, refErrKey
	}
	k.labels = make([]refLabel, 0, len(labels))
	for n, v := range labels {
		if !model.LegacyValidation.IsValidLabelName(n) || strings.HasPrefix(n, "__") {
			return nil, refErrKey
		}
		k.labels = append(k.labels, refLabel{n, v})
	}
	sort.Slice(k.labels, func(i, j int) bool { return k.labels[i].name < k.labels[j].name })
	k.labelsKey = refLabelsKey(k.labels)
	k.noLe, k.noLeKey = k.labels, k.labelsKey
	if v, ok := labels["le"]; ok {
		// float() in Python accepts what ParseFloat does, give or take
		// spellings prometheus_client never writes.
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			k.leState = refLeBad
		} else {
			k.le, k.leState = f, refLeOK
		}
		k.noLe = make([]refLabel, 0, len(k.labels)-1)
		for _, l := range k.labels {
			if l.name != "le" {
				k.noLe = append(k.noLe, l)
			}
		}
		k.noLeKey = refLabelsKey(k.noLe)
	}
	return k, nil
}

// refLabelsKey encodes labels unambiguously: names are [a-zA-Z0-9_] and
// values are valid UTF-8, which never contains 0xff.
func refLabelsKey(ls []refLabel) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.name)
		b.WriteByte(0xfe)
		b.WriteString(l.value)
		b.WriteByte(0xff)
	}
	return b.String()
}

// refSample is one entry of one file, ready to aggregate.
type refSample struct {
	k     *refKey
	v, ts float64
	pid   string // the writer's pid, for gauges
	gauge bool   // read from a gauge file: gets a pid refLabel
}

// refFamily gathers the samples of one metric name across files, as
// MultiProcessCollector._read_metrics does.
type refFamily struct {
	typ     string // from the first file holding the metric
	mode    string // multiprocess_mode of the last gauge file holding it
	help    string // from the first refKey
	samples []refSample
}

// refAggregator merges the files of one collection.
type refAggregator struct {
	fams map[string]*refFamily
}

func refNewAggregator() *refAggregator { return &refAggregator{fams: make(map[string]*refFamily)} }

func (a *refAggregator) add(typ, mode, pid string, k *refKey, v, ts float64) {
	f := a.fams[k.metric]
	if f == nil {
		f = &refFamily{typ: typ, help: k.help}
		a.fams[k.metric] = f
	}
	if typ == "gauge" {
		f.mode = mode
	}
	f.samples = append(f.samples, refSample{k: k, v: v, ts: ts, pid: pid, gauge: typ == "gauge"})
}

// refSeries is one output refSeries under construction.
type refSeries struct {
	labels []refLabel
	value  float64
	ts     float64
	set    bool // mostrecent: a timestamp won
	// refHistogram parts
	buckets map[float64]float64
	sum     float64
	// summary parts
	count float64
}

// families returns the aggregated metric families, sorted by name, and
// the number of samples that cannot be exposed (names that do not fit
// their refFamily's type, bad le labels).
func (a *refAggregator) families() ([]*dto.MetricFamily, int) {
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

// build aggregates one refFamily exactly as _accumulate_metrics with
// accumulate=True.
func (f *refFamily) build(name string) (*dto.MetricFamily, int) {
	bad := 0
	ser := make(map[string]*refSeries)
	get := func(refKey string, labels []refLabel) (*refSeries, bool) {
		s, ok := ser[refKey]
		if !ok {
			s = &refSeries{labels: labels}
			ser[refKey] = s
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
				labels, refKey := refWithoutPid(s.k)
				if cur, ok := get(refKey, labels); !ok || s.v < cur.value {
					cur.value = s.v
				}
			case "max", "livemax":
				labels, refKey := refWithoutPid(s.k)
				if cur, ok := get(refKey, labels); !ok || s.v > cur.value {
					cur.value = s.v
				}
			case "sum", "livesum":
				labels, refKey := refWithoutPid(s.k)
				cur, _ := get(refKey, labels)
				cur.value += s.v
			case "mostrecent", "livemostrecent":
				labels, refKey := refWithoutPid(s.k)
				cur, _ := get(refKey, labels)
				if cur.ts < s.ts {
					cur.value, cur.ts, cur.set = s.v, s.ts, true
				}
			default: // all, liveall
				labels := s.k.labels
				if s.gauge {
					labels = refWithPid(s.k.labels, s.pid)
				}
				cur, _ := get(refLabelsKey(labels), labels)
				cur.value = s.v
			}
		}
	case "histogram":
		for _, s := range f.samples {
			switch {
			case s.k.leState == refLeOK && s.k.sample == name+"_bucket":
				cur, _ := get(s.k.noLeKey, s.k.noLe)
				if cur.buckets == nil {
					cur.buckets = make(map[float64]float64)
				}
				cur.buckets[s.k.le] += s.v
			case s.k.leState == refLeNone && s.k.sample == name+"_sum":
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

func (f *refFamily) emit(name string, ser map[string]*refSeries) *dto.MetricFamily {
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
		m := &dto.Metric{Label: refLabelPairs(s.labels)}
		switch f.typ {
		case "gauge":
			if (f.mode == "mostrecent" || f.mode == "livemostrecent") && !s.set {
				continue
			}
			m.Gauge = &dto.Gauge{Value: proto.Float64(s.value)}
		case "histogram":
			m.Histogram = refHistogram(s)
		case "summary":
			m.Summary = &dto.Summary{SampleSum: proto.Float64(s.sum)}
			// Summaries have no float count: a count that is not a whole
			// number (only ever written by hand) is rounded towards zero.
			m.Summary.SampleCount = proto.Uint64(refClampCount(s.count))
		default:
			m.Counter = &dto.Counter{Value: proto.Float64(s.value)}
		}
		mf.Metric = append(mf.Metric, m)
	}
	return mf
}

// refHistogram accumulates the buckets in order of their bound; the count is
// the last accumulated value, as in multiprocess.py.
func refHistogram(s *refSeries) *dto.Histogram {
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
		if _, ok := refAsCount(acc); !ok {
			integral = false
		}
	}
	acc = 0
	h.Bucket = make([]*dto.Bucket, 0, len(bounds))
	for _, b := range bounds {
		acc += s.buckets[b]
		bk := &dto.Bucket{UpperBound: proto.Float64(b)}
		if integral {
			c, _ := refAsCount(acc)
			bk.CumulativeCount = proto.Uint64(c)
		} else {
			bk.CumulativeCountFloat = proto.Float64(acc)
		}
		h.Bucket = append(h.Bucket, bk)
	}
	if integral {
		c, _ := refAsCount(acc)
		h.SampleCount = proto.Uint64(c)
	} else {
		h.SampleCountFloat = proto.Float64(acc)
	}
	return h
}

func refClampCount(f float64) uint64 {
	if !(f > 0) {
		return 0
	}
	if f >= 1<<63 {
		return 1 << 63
	}
	return uint64(f)
}

// refAsCount converts a float count to uint64 when it is one exactly.
func refAsCount(f float64) (uint64, bool) {
	if f < 0 || f >= 1<<63 || f != math.Trunc(f) {
		return 0, false
	}
	return uint64(f), true
}

func refWithoutPid(k *refKey) ([]refLabel, string) {
	for _, l := range k.labels {
		if l.name == "pid" {
			ls := make([]refLabel, 0, len(k.labels))
			for _, l := range k.labels {
				if l.name != "pid" {
					ls = append(ls, l)
				}
			}
			return ls, refLabelsKey(ls)
		}
	}
	return k.labels, k.labelsKey
}

// refWithPid adds the writer's pid refLabel; it replaces a pid refLabel of the
// app's own, as dict(labels_key + (('pid', pid),)) does.
func refWithPid(ls []refLabel, pid string) []refLabel {
	out := make([]refLabel, 0, len(ls)+1)
	added := false
	for _, l := range ls {
		if l.name == "pid" {
			continue
		}
		if !added && l.name > "pid" {
			out = append(out, refLabel{"pid", pid})
			added = true
		}
		out = append(out, l)
	}
	if !added {
		out = append(out, refLabel{"pid", pid})
	}
	return out
}

func refLabelPairs(ls []refLabel) []*dto.LabelPair {
	if len(ls) == 0 {
		return nil
	}
	out := make([]*dto.LabelPair, len(ls))
	for i, l := range ls {
		out[i] = &dto.LabelPair{Name: proto.String(l.name), Value: proto.String(l.value)}
	}
	return out
}

// refWalk is the file walk as it was (file.go's walk, kept here so that
// changes there are checked too).
func refWalkLayout(data []byte, used int, l Layout) ([]entry, bool) {
	tail := 8
	if l == LayoutTimestamped {
		tail = 16
	}
	end := min(used, len(data))
	pos := headerSize
	var dst []entry
	for pos < end {
		if pos+4 > end {
			return dst, false
		}
		n := int(int32(uint32(data[pos]) | uint32(data[pos+1])<<8 | uint32(data[pos+2])<<16 | uint32(data[pos+3])<<24))
		if n < 2 || n > end {
			return dst, false
		}
		keyOff := pos + 4
		valOff := keyOff + n + (8 - (n+4)%8)
		next := valOff + tail
		if next > end || next < pos {
			return dst, false
		}
		if data[keyOff] != '[' || data[keyOff+n-1] != ']' {
			return dst, false
		}
		dst = append(dst, entry{keyOff: int32(keyOff), keyLen: int32(n)}) // valOff() is keyOff + paddedLen(keyLen): valOff above
		pos = next
	}
	return dst, pos == used
}

func refWalk(data []byte, used int, hint Layout) (Layout, []entry) {
	if hint != LayoutTimestamped {
		hint = LayoutValue
	}
	other := LayoutTimestamped
	if hint == LayoutTimestamped {
		other = LayoutValue
	}
	a, aok := refWalkLayout(data, used, hint)
	if aok {
		return hint, a
	}
	b, bok := refWalkLayout(data, used, other)
	if bok {
		return other, b
	}
	if len(b) > len(a) {
		return other, b
	}
	if len(a) == 0 {
		return LayoutUnknown, nil
	}
	return hint, a
}

// refGather is the whole collection of dir as it was, in the text
// format, and the count of entries it found invalid. It reads files
// whole (no mapping, no cache) and removes nothing.
func refGather(t testing.TB, dir string, maxSize int64) (string, int) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	agg := refNewAggregator()
	hint := LayoutUnknown
	bad := 0
	for _, de := range des {
		n, ok := parseName(de.Name())
		if !ok || !de.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil || len(data) < headerSize {
			continue
		}
		data = data[:min(int64(len(data)), maxSize)]
		used, _ := usedOf(data)
		if used < headerSize || int64(used) > maxSize {
			continue
		}
		if len(data) > used {
			data = data[:used]
		}
		l, es := refWalk(data, used, hint)
		if l != LayoutUnknown {
			hint = l
		}
		for _, e := range es {
			k, err := refParseKey(data[e.keyOff : e.keyOff+e.keyLen])
			if err != nil {
				bad++
				continue
			}
			v := math.Float64frombits(binary.LittleEndian.Uint64(data[e.valOff():]))
			ts := 0.0
			if l == LayoutTimestamped {
				ts = math.Float64frombits(binary.LittleEndian.Uint64(data[e.valOff()+8:]))
			}
			agg.add(n.typ, n.mode, n.pid, k, v, ts)
		}
	}
	mfs, b := agg.families()
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatalf("reference: encoding %s: %v", mf.GetName(), err)
		}
	}
	return buf.String(), bad + b
}
