package multiproc

import (
	"math"
	"slices"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// A plan is the aggregation of one set of files worked out once, as
// MultiProcessCollector._accumulate_metrics (accumulate=True) does it:
// which output series each entry of each file adds to, and how. While no
// file changes its entries (the usual scrape: workers only write new
// values in place), a collection only reads each entry's value into its
// slot and builds the exposition from the slots; keys, label sets,
// sorting and series identity are not looked at again.
type plan struct {
	files []planFile
	fams  []planFamily
	ops   []slotOp // per slot
	// counts for allocating one collection's families in bulk
	series, buckets int
	// bad is the number of entries whose names do not fit their
	// family's type, or with a bad le label, counted on every collection
	// as before.
	bad int
}

// planFile is one file of a plan, with the slot of each of its entries.
type planFile struct {
	base  string
	cf    *cachedFile
	gen   uint64
	slots []int32 // per entry of cf.entries; -1: not exposed
}

// slotBad marks an entry that is not exposed; slotUnknown a key whose
// slot is not known yet.
const (
	slotBad     int32 = -1
	slotUnknown int32 = -2
)

// slotOp is how a slot combines the values written to it, in file order.
type slotOp uint8

const (
	opSum    slotOp = iota
	opMin           // the first value, then any lower
	opMax           // the first value, then any higher
	opLast          // the last value (gauges in mode all)
	opRecent        // the value of the latest timestamp (mostrecent)
)

type planFamily struct {
	name, help *string // shared by every collection: never modified
	typ        *dto.MetricType
	mostrecent bool // series without a timestamped value are left out
	series     []planSeries
}

type planSeries struct {
	labels []*dto.LabelPair // shared by every collection: never modified
	// value is the slot of a counter's or gauge's value, or of a
	// histogram's or summary's sum; count is a summary's count.
	value, count int32
	buckets      []planBucket // sorted by bound
}

type planBucket struct {
	bound float64
	slot  int32
}

// scanned is one readable file of a collection.
type scanned struct {
	base string
	name fileName
	cf   *cachedFile
}

// matches reports whether p was built from exactly these files, each
// with the entries it has now.
func (p *plan) matches(files []scanned) bool {
	if p == nil || len(p.files) != len(files) {
		return false
	}
	for i, f := range files {
		if p.files[i].cf != f.cf || p.files[i].gen != f.cf.gen || p.files[i].base != f.base {
			return false
		}
	}
	return true
}

// buildFamily is a family while a plan is built.
type buildFamily struct {
	name, typ, mode, help     string
	total, bucket, sum, count string // sample names its type accepts
	series                    map[string]*buildSeries
	// sizes for the series map: distinct keys, and entries of gauge
	// files (a gauge in mode all has a series per writer)
	keys, gaugeEntries int
}

type buildSeries struct {
	key     string
	pairs   []*dto.LabelPair
	value   int32
	count   int32
	buckets map[float64]int32
	nan     []int32 // NaN bounds never equal each other: one bucket each
}

// labelSet says which label set of a key a series has.
type labelSet uint8

const (
	setAll     labelSet = iota // every label
	setNoPid                   // without pid
	setNoLe                    // without le
	setWithPid                 // without pid, then the writer's pid
)

// pairs are the label pairs of one of k's label sets, made once per key
// and shared by every plan and collection: never modified.
func (k *key) pairs(set labelSet) []*dto.LabelPair {
	if k.labelPairs == nil {
		k.labelPairs = makePairs(k.labels)
		k.noPidPairs, k.noLePairs = k.labelPairs, k.labelPairs
		if len(k.noPid) != len(k.labels) {
			k.noPidPairs = makePairs(k.noPid)
		}
		if len(k.noLe) != len(k.labels) {
			k.noLePairs = makePairs(k.noLe)
		}
	}
	switch set {
	case setNoPid:
		return k.noPidPairs
	case setNoLe:
		return k.noLePairs
	}
	return k.labelPairs
}

// makePairs returns the label pairs of ls in one allocation per kind;
// never nil, so that pairs knows it was made.
func makePairs(ls []label) []*dto.LabelPair {
	if len(ls) == 0 {
		return []*dto.LabelPair{}
	}
	strs := make([]string, 2*len(ls))
	pairs := make([]dto.LabelPair, len(ls))
	out := make([]*dto.LabelPair, len(ls))
	for i, l := range ls {
		strs[2*i], strs[2*i+1] = l.name, l.value
		pairs[i].Name, pairs[i].Value = &strs[2*i], &strs[2*i+1]
		out[i] = &pairs[i]
	}
	return out
}

// withPidPairs inserts the writer's pid pair into a key's pairs without
// pid, where withPid puts the label.
func withPidPairs(noPid []*dto.LabelPair, pid *dto.LabelPair) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, len(noPid)+1)
	added := false
	for _, lp := range noPid {
		if !added && *lp.Name > "pid" {
			out = append(out, pid)
			added = true
		}
		out = append(out, lp)
	}
	if !added {
		out = append(out, pid)
	}
	return out
}

// buildPlan works out the aggregation of files (in collection order;
// entries of files with a nil key are not exposed). id identifies the
// build: keys remember their family and slot for the build that last
// saw them, so that the entries of the many files repeating a key cost
// no lookup.
func buildPlan(files []scanned, id uint64) *plan {
	b := newPlanBuilder(id, len(files))
	for i := range files {
		b.learn(&files[i])
	}
	b.size()
	for i := range files {
		b.add(&files[i])
	}
	return b.plan()
}

// A planBuilder works out a plan: first the families of every file's
// keys (learn), then the slot of every entry (add), in collection order.
type planBuilder struct {
	id    uint64
	p     *plan
	fams  map[string]*buildFamily
	order []*buildFamily
	pl    planner
}

func newPlanBuilder(id uint64, files int) *planBuilder {
	return &planBuilder{
		id:   id,
		p:    &plan{files: make([]planFile, 0, files)},
		fams: make(map[string]*buildFamily),
	}
}

// learn gives the keys of f their family. The type and help of a family
// come from the first file and key holding it, the gauge mode from the
// last gauge file.
func (b *planBuilder) learn(f *scanned) {
	gauge := f.name.typ == "gauge"
	for _, k := range f.cf.keys {
		if k == nil {
			continue
		}
		if k.build != b.id {
			bf := b.fams[k.metric]
			if bf == nil {
				bf = &buildFamily{name: k.metric, typ: f.name.typ, help: k.help,
					total: k.metric + "_total", bucket: k.metric + "_bucket",
					sum: k.metric + "_sum", count: k.metric + "_count"}
				b.fams[k.metric] = bf
				b.order = append(b.order, bf)
			}
			k.build, k.fam, k.slot = b.id, bf, slotUnknown
			bf.keys++
		}
		if gauge {
			k.fam.mode = f.name.mode
			k.fam.gaugeEntries++
		}
	}
}

// size makes the series maps and slots of the families learnt, at the
// size they will have.
func (b *planBuilder) size() {
	nseries := 0
	for _, bf := range b.order {
		n := bf.keys
		if bf.typ == "gauge" && !aggregatedMode(bf.mode) {
			n = max(n, bf.gaugeEntries) // a series per writer
		}
		bf.series = make(map[string]*buildSeries, n)
		nseries += n
	}
	b.pl.ops = make([]slotOp, 0, nseries)
	b.pl.chunk = make([]buildSeries, 0, min(nseries, 1024))
}

// add plans f, the next file in collection order: the slot of each of
// its entries.
func (b *planBuilder) add(f *scanned) {
	pl := &b.pl
	pl.cur, pl.pidPair = f, nil
	slots := make([]int32, len(f.cf.keys))
	for j, k := range f.cf.keys {
		slot := slotBad
		switch {
		case k == nil:
		case k.slot != slotUnknown:
			slot = k.slot
		default:
			var perFile bool
			slot, perFile = pl.slotOf(k)
			if !perFile {
				k.slot = slot
			}
		}
		if slot == slotBad && k != nil {
			b.p.bad++
		}
		slots[j] = slot
	}
	b.p.files = append(b.p.files, planFile{base: f.base, cf: f.cf, gen: f.cf.gen, slots: slots})
}

// plan finishes the families and returns the plan.
func (b *planBuilder) plan() *plan {
	p := b.p
	sort.Slice(b.order, func(i, j int) bool { return b.order[i].name < b.order[j].name })
	p.fams = make([]planFamily, 0, len(b.order))
	for _, bf := range b.order {
		p.fams = append(p.fams, bf.finish(p))
	}
	p.ops = b.pl.ops
	return p
}

// A planner works out series and slots: the slot of each entry.
type planner struct {
	ops     []slotOp
	chunk   []buildSeries
	cur     *scanned
	curKey  *key
	pidPair *dto.LabelPair
}

func (pl *planner) newSlot(op slotOp) int32 {
	pl.ops = append(pl.ops, op)
	return int32(len(pl.ops) - 1)
}

// get returns the series of key in bf, made with the label set set of
// the current key when new.
func (pl *planner) get(bf *buildFamily, key string, set labelSet, op slotOp) *buildSeries {
	s := bf.series[key]
	if s == nil {
		if len(pl.chunk) == cap(pl.chunk) {
			pl.chunk = make([]buildSeries, 0, 256)
		}
		var pairs []*dto.LabelPair
		if set == setWithPid {
			if pl.pidPair == nil {
				name, value := "pid", pl.cur.name.pid
				pl.pidPair = &dto.LabelPair{Name: &name, Value: &value}
			}
			pairs = withPidPairs(pl.curKey.pairs(setNoPid), pl.pidPair)
		} else {
			pairs = pl.curKey.pairs(set)
		}
		pl.chunk = append(pl.chunk, buildSeries{key: key, pairs: pairs, value: pl.newSlot(op), count: -1})
		s = &pl.chunk[len(pl.chunk)-1]
		bf.series[key] = s
	}
	return s
}

// slotOf is the slot of an entry of key k in the current file, or
// slotBad; perFile says it depends on the file, not only on the key.
func (pl *planner) slotOf(k *key) (slot int32, perFile bool) {
	pl.curKey = k
	bf := k.fam
	switch bf.typ {
	case "gauge":
		if k.sample != bf.name {
			return slotBad, false
		}
		switch bf.mode {
		case "min", "livemin":
			return pl.get(bf, k.noPidKey, setNoPid, opMin).value, false
		case "max", "livemax":
			return pl.get(bf, k.noPidKey, setNoPid, opMax).value, false
		case "sum", "livesum":
			return pl.get(bf, k.noPidKey, setNoPid, opSum).value, false
		case "mostrecent", "livemostrecent":
			return pl.get(bf, k.noPidKey, setNoPid, opRecent).value, false
		default: // all, liveall
			if pl.cur.name.typ != "gauge" {
				return pl.get(bf, k.labelsKey, setAll, opLast).value, false
			}
			return pl.get(bf, pidKey(k, pl.cur.name.pid), setWithPid, opLast).value, true
		}
	case "histogram":
		switch {
		case k.leState == leOK && k.sample == bf.bucket:
			s := pl.get(bf, k.noLeKey, setNoLe, opSum)
			if math.IsNaN(k.le) {
				slot := pl.newSlot(opSum)
				s.nan = append(s.nan, slot)
				return slot, true // a bucket of its own every time
			}
			if s.buckets == nil {
				s.buckets = make(map[float64]int32)
			}
			b, ok := s.buckets[k.le]
			if !ok {
				b = pl.newSlot(opSum)
			}
			// Assigned even when present: as for the map of the
			// aggregation before plans, the bound kept is the last
			// spelling of an equal one. Only 0 and -0 are equal
			// with different bits: those are looked at every time.
			s.buckets[k.le] = b
			return b, k.le == 0
		case k.leState == leNone && k.sample == bf.sum:
			return pl.get(bf, k.labelsKey, setAll, opSum).value, false
		}
		return slotBad, false
	case "summary":
		s := pl.get(bf, k.labelsKey, setAll, opSum)
		switch k.sample {
		case bf.sum:
			return s.value, false
		case bf.count:
			if s.count < 0 {
				s.count = pl.newSlot(opSum)
			}
			return s.count, false
		}
		return slotBad, false
	}
	// counter
	if k.sample != bf.total {
		return slotBad, false
	}
	return pl.get(bf, k.labelsKey, setAll, opSum).value, false
}

// aggregatedMode says whether a gauge mode drops the pid label.
func aggregatedMode(mode string) bool {
	switch mode {
	case "min", "livemin", "max", "livemax", "sum", "livesum", "mostrecent", "livemostrecent":
		return true
	}
	return false
}

// pidKey is labelsKey(withPid(k.labels, pid)), in one allocation.
func pidKey(k *key, pid string) string {
	n := len(k.noPidKey) + len("pid") + len(pid) + 2
	var b strings.Builder
	b.Grow(n)
	added := false
	for _, l := range k.noPid {
		if !added && l.name > "pid" {
			b.WriteString("pid\xfe")
			b.WriteString(pid)
			b.WriteByte(0xff)
			added = true
		}
		b.WriteString(l.name)
		b.WriteByte(0xfe)
		b.WriteString(l.value)
		b.WriteByte(0xff)
	}
	if !added {
		b.WriteString("pid\xfe")
		b.WriteString(pid)
		b.WriteByte(0xff)
	}
	return b.String()
}

// finish sorts a family's series and prepares what its exposition
// shares between collections.
func (bf *buildFamily) finish(p *plan) planFamily {
	pf := planFamily{help: &bf.help, mostrecent: bf.mode == "mostrecent" || bf.mode == "livemostrecent"}
	name := bf.name
	t := dto.MetricType_COUNTER
	switch bf.typ {
	case "gauge":
		t = dto.MetricType_GAUGE
	case "histogram":
		t = dto.MetricType_HISTOGRAM
	case "summary":
		t = dto.MetricType_SUMMARY
	default:
		name = bf.total
	}
	pf.name, pf.typ = &name, &t
	series := make([]*buildSeries, 0, len(bf.series))
	for _, s := range bf.series {
		series = append(series, s)
	}
	slices.SortFunc(series, func(a, b *buildSeries) int { return strings.Compare(a.key, b.key) })
	pf.series = make([]planSeries, len(series))
	for i, s := range series {
		ps := planSeries{labels: s.pairs, value: s.value, count: s.count}
		if len(ps.labels) == 0 {
			ps.labels = nil
		} else {
			ps.labels = ps.labels[:len(ps.labels):len(ps.labels)] // an append by a consumer copies
		}
		if n := len(s.nan) + len(s.buckets); n > 0 {
			// sort.Float64s order: NaN first.
			ps.buckets = make([]planBucket, 0, n)
			for _, slot := range s.nan {
				ps.buckets = append(ps.buckets, planBucket{math.NaN(), slot})
			}
			for b, slot := range s.buckets {
				ps.buckets = append(ps.buckets, planBucket{b, slot})
			}
			sort.Slice(ps.buckets[len(s.nan):], func(i, j int) bool {
				return ps.buckets[len(s.nan)+i].bound < ps.buckets[len(s.nan)+j].bound
			})
			p.buckets += n
		}
		pf.series[i] = ps
	}
	p.series += len(series)
	return pf
}

// slots are one collection's accumulated values.
type slots struct {
	v, ts []float64
	set   []bool
}

func (s *slots) reset(n int) {
	if cap(s.v) < n {
		s.v, s.ts, s.set = make([]float64, n), make([]float64, n), make([]bool, n)
		return
	}
	s.v, s.ts, s.set = s.v[:n], s.ts[:n], s.set[:n]
	clear(s.v)
	clear(s.ts)
	clear(s.set)
}

// add reads the values of one file of the plan into the slots, in entry
// order.
// With walked, the values the walk of this collection read are used.
func (s *slots) add(p *plan, f *planFile, walked bool) {
	cf := f.cf
	data, ts := cf.mapped, cf.layout == LayoutTimestamped
	walked = walked && len(cf.vals) == len(cf.entries) && (!ts || len(cf.tss) == len(cf.entries))
	for j, e := range cf.entries {
		slot := f.slots[j]
		if slot < 0 {
			continue
		}
		var v float64
		if walked {
			v = cf.vals[j]
		} else {
			v = valueAt(data, e)
		}
		switch p.ops[slot] {
		case opSum:
			s.v[slot] += v
		case opMin:
			if !s.set[slot] || v < s.v[slot] {
				s.v[slot] = v
			}
			s.set[slot] = true
		case opMax:
			if !s.set[slot] || v > s.v[slot] {
				s.v[slot] = v
			}
			s.set[slot] = true
		case opLast:
			s.v[slot] = v
		case opRecent:
			var t float64
			switch {
			case walked && ts:
				t = cf.tss[j]
			case ts:
				t = timestampAt(data, e, LayoutTimestamped)
			}
			if s.ts[slot] < t {
				s.v[slot], s.ts[slot], s.set[slot] = v, t, true
			}
		}
	}
}

// families builds one collection's exposition from the slots. Each call
// returns new messages (callers may hold them while the next collection
// runs); only names, help and label pairs are shared.
func (p *plan) families(s *slots) []*dto.MetricFamily {
	mfs := make([]dto.MetricFamily, len(p.fams))
	out := make([]*dto.MetricFamily, 0, len(p.fams))
	metrics := make([]dto.Metric, p.series)
	ptrs := make([]*dto.Metric, p.series)
	floats := make([]float64, 0, 2*(p.series+p.buckets))
	uints := make([]uint64, 0, p.series+p.buckets)
	f64 := func(v float64) *float64 { floats = append(floats, v); return &floats[len(floats)-1] }
	u64 := func(v uint64) *uint64 { uints = append(uints, v); return &uints[len(uints)-1] }
	var (
		counters  []dto.Counter
		gauges    []dto.Gauge
		hists     []dto.Histogram
		summaries []dto.Summary
		buckets   []dto.Bucket
		bptrs     []*dto.Bucket
	)
	mi := 0
	for i := range p.fams {
		pf := &p.fams[i]
		mf := &mfs[i]
		mf.Name, mf.Help, mf.Type = pf.name, pf.help, pf.typ
		start := mi
		n := len(pf.series)
		switch *pf.typ {
		case dto.MetricType_COUNTER:
			counters = make([]dto.Counter, n)
		case dto.MetricType_GAUGE:
			gauges = make([]dto.Gauge, n)
		case dto.MetricType_HISTOGRAM:
			hists = make([]dto.Histogram, n)
		case dto.MetricType_SUMMARY:
			summaries = make([]dto.Summary, n)
		}
		for j := range pf.series {
			ps := &pf.series[j]
			m := &metrics[mi]
			switch *pf.typ {
			case dto.MetricType_COUNTER:
				counters[j].Value = f64(s.v[ps.value])
				m.Counter = &counters[j]
			case dto.MetricType_GAUGE:
				if pf.mostrecent && !s.set[ps.value] {
					continue
				}
				gauges[j].Value = f64(s.v[ps.value])
				m.Gauge = &gauges[j]
			case dto.MetricType_HISTOGRAM:
				h := &hists[j]
				h.SampleSum = f64(s.v[ps.value])
				if cap(buckets)-len(buckets) < len(ps.buckets) {
					buckets = make([]dto.Bucket, 0, max(len(ps.buckets), p.buckets))
					bptrs = make([]*dto.Bucket, 0, cap(buckets))
				}
				acc, integral := 0.0, true
				for _, b := range ps.buckets {
					acc += s.v[b.slot]
					if _, ok := asCount(acc); !ok {
						integral = false
					}
				}
				acc = 0
				first := len(bptrs)
				for _, b := range ps.buckets {
					acc += s.v[b.slot]
					buckets = buckets[:len(buckets)+1]
					bk := &buckets[len(buckets)-1]
					bk.UpperBound = f64(b.bound)
					if integral {
						c, _ := asCount(acc)
						bk.CumulativeCount = u64(c)
					} else {
						bk.CumulativeCountFloat = f64(acc)
					}
					bptrs = append(bptrs, bk)
				}
				h.Bucket = bptrs[first:len(bptrs):len(bptrs)]
				if integral {
					c, _ := asCount(acc)
					h.SampleCount = u64(c)
				} else {
					h.SampleCountFloat = f64(acc)
				}
				m.Histogram = h
			case dto.MetricType_SUMMARY:
				sm := &summaries[j]
				sm.SampleSum = f64(s.v[ps.value])
				count := 0.0
				if ps.count >= 0 {
					count = s.v[ps.count]
				}
				// Summaries have no float count: a count that is not a
				// whole number (only ever written by hand) is rounded
				// towards zero.
				sm.SampleCount = u64(clampCount(count))
				m.Summary = sm
			}
			m.Label = ps.labels
			ptrs[mi] = m
			mi++
		}
		if mi == start {
			continue
		}
		mf.Metric = ptrs[start:mi:mi]
		out = append(out, mf)
	}
	return out
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
