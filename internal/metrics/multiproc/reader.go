// Package multiproc reads the .db files prometheus_client writes in
// multiprocess mode (PROMETHEUS_MULTIPROC_DIR) and aggregates them exactly
// as its MultiProcessCollector does, without Python: it also removes the
// live-gauge files of dead workers, tolerates torn entries and compacts the
// files of dead workers so their number does not grow with worker churn.
package multiproc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// DefaultMaxFileSize bounds the bytes read from one file: prometheus_client
// files hold a few MB at most; a larger used counter is corruption.
const DefaultMaxFileSize = 256 << 20

// Options configure a Reader.
type Options struct {
	// Dir is PROMETHEUS_MULTIPROC_DIR.
	Dir string
	// Alive reports whether a worker pid still runs. Dead workers'
	// live-gauge files are removed and their other files compacted. Nil
	// treats every pid as alive (nothing is removed or compacted).
	Alive func(pid int) bool
	// MaxFileSize bounds the bytes read from one file (default
	// DefaultMaxFileSize).
	MaxFileSize int64
	// Registerer receives the reader's own metrics (pysup_multiproc_*);
	// nil registers nothing.
	Registerer prometheus.Registerer
}

// Reader aggregates a multiprocess directory. It is safe for concurrent
// use; collections and compactions are serialized.
type Reader struct {
	dir     string
	alive   func(int) bool
	maxSize int64

	mu    sync.Mutex
	files map[string]*cachedFile
	keys  map[string]*key   // key head -> parsed keys, shared by all files
	tails map[string]string // the tails of keys, shared by them
	// long holds, by the whole key, the keys of a head that has
	// maxSameHead keys chained already.
	long  map[string]*key
	nkeys int // keys in keys and long, malformed ones included
	hint  Layout
	stats *stats

	plan    *plan       // the aggregation of the last collection's files
	slots   slots       // its values, reused
	scanned []scanned   // reused
	gen     uint64      // counts walks: a cachedFile's gen changes with its entries
	seen    uint64      // counts scans, to find files gone from the directory
	builds  uint64      // counts plans built
	walkBuf []entry     // reused by the walks of finish
	cands   []candidate // reused
}

// cachedFile remembers a file's mapping and where its entries are, so
// that an unchanged file is not walked and its keys not parsed again.
// Values are read afresh on every collection (from the mapping, or by
// the walk of that very collection): workers write them through mmap,
// which does not reliably update mtime; entries are only ever appended,
// which changes used.
type cachedFile struct {
	ino, dev uint64
	size     int64
	mapped   []byte // read-only shared mapping of the file's first size bytes
	used     int
	layout   Layout
	entries  []entry
	keys     []*key // parsed key per entry; nil for a malformed key
	bad      int    // malformed keys
	torn     bool
	// vals and tss are the entries' values and timestamps as read by the
	// walk of scan valsScan.
	vals, tss []float64
	valsScan  uint64
	touched   byte // what prefetch read
	// pre is the walk open did of a new mapping, on whichever goroutine
	// opened it; finish takes it when used has not moved since.
	pre  *preWalk
	gen  uint64 // the Reader's walk count when entries were last walked
	seen uint64 // the Reader's scan count when last listed
}

// New returns a Reader of opts.Dir.
func New(opts Options) *Reader {
	r := &Reader{
		dir:     opts.Dir,
		alive:   opts.Alive,
		maxSize: opts.MaxFileSize,
		files:   make(map[string]*cachedFile),
		keys:    make(map[string]*key),
		tails:   make(map[string]string),
		long:    make(map[string]*key),
		stats:   newStats(opts.Registerer),
	}
	if r.maxSize <= 0 {
		r.maxSize = DefaultMaxFileSize
	}
	return r
}

// fileName is a parsed .db file name: TYPE_PID.db or gauge_MODE_PID.db,
// split on "_" as multiprocess.py does.
type fileName struct {
	typ, mode, pid string
}

func parseName(base string) (fileName, bool) {
	if !strings.HasSuffix(base, ".db") {
		return fileName{}, false
	}
	parts := strings.Split(base, "_")
	switch parts[0] {
	case "counter", "histogram", "summary":
		if len(parts) < 2 {
			return fileName{}, false
		}
		return fileName{typ: parts[0], pid: strings.TrimSuffix(parts[1], ".db")}, true
	case "gauge":
		if len(parts) < 3 {
			return fileName{}, false
		}
		return fileName{typ: "gauge", mode: parts[1], pid: strings.TrimSuffix(parts[2], ".db")}, true
	}
	return fileName{}, false
}

// livePid returns the pid of a live-gauge file whose worker is dead.
func (r *Reader) deadLiveGauge(n fileName) bool {
	if r.alive == nil || n.typ != "gauge" || !strings.HasPrefix(n.mode, "live") {
		return false
	}
	pid, err := strconv.Atoi(n.pid)
	return err == nil && pid > 0 && !r.alive(pid)
}

// Gather implements prometheus.Gatherer: the directory's metrics as
// MultiProcessCollector would expose them. Unreadable files and malformed
// entries are skipped and counted, never an error: the rest of the
// exposition stays intact. The error is only for an unreadable directory.
func (r *Reader) Gather() ([]*dto.MetricFamily, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	defer func() { r.stats.duration.Observe(time.Since(start).Seconds()) }()
	files, err := r.scan()
	if err != nil {
		return nil, err
	}
	if !r.plan.matches(files) {
		r.builds++
		r.plan = buildPlan(files, r.builds)
	}
	p := r.plan
	r.slots.reset(len(p.ops))
	for i := range p.files {
		f := &p.files[i]
		err := guard(func() error { r.slots.add(p, f, f.cf.valsScan == r.seen); return nil })
		f.cf.vals, f.cf.tss = nil, nil // read once
		if err != nil {
			// Truncated under the mapping after it was walked: what
			// was read of it stays, as with a torn file.
			r.stats.badFiles.Inc()
			r.forget(f.base)
		}
	}
	r.stats.invalidEntries.Add(float64(p.bad))
	return p.families(&r.slots), nil
}

// scan loads every readable file of the directory, in name order: those
// with entries are returned.
func (r *Reader) scan() ([]scanned, error) {
	des, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("multiproc: reading %s: %w", r.dir, err)
	}
	r.seen++
	cands := r.cands[:0]
	for _, de := range des {
		base := de.Name()
		n, ok := parseName(base)
		if !ok || !de.Type().IsRegular() {
			continue
		}
		if r.deadLiveGauge(n) {
			// mark_process_dead, done for the app.
			if err := os.Remove(filepath.Join(r.dir, base)); err == nil || errors.Is(err, fs.ErrNotExist) {
				r.stats.removedLive.Inc()
				r.forget(base)
				continue
			}
		}
		cands = append(cands, candidate{base: base, name: n, cached: r.files[base]})
	}
	r.cands = cands
	r.collectBeforeCold(cands)
	files := r.scanned[:0]
	nfiles := 0
	r.openAll(cands, func(c *candidate, o opened) {
		var cf *cachedFile
		err := guard(func() error {
			var err error
			cf, _, err = r.finish(c.base, o)
			return err
		})
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r.stats.badFiles.Inc()
			}
			r.forget(c.base)
			return
		}
		if c := r.files[c.base]; c != nil {
			c.seen = r.seen
		}
		nfiles++
		if len(cf.entries) > 0 {
			files = append(files, scanned{base: c.base, name: c.name, cf: cf})
		}
	})
	clear(r.cands) // the cached files may go
	r.scanned = files
	for base, cf := range r.files {
		if cf.seen != r.seen {
			r.forget(base)
		}
	}
	r.stats.files.Set(float64(nfiles))
	r.trimKeys()
	return files, nil
}

// collectBeforeCold runs a garbage collection before a cold scan: no
// plan to reuse and most files new. Such a scan allocates its cache at
// once, about a sixth of the bytes it reads, and pysup's heap is small,
// so that allocation alone would run several collections while the scan
// runs, each marking the growing cache and taking a core from it
// (collections were 40% of the time of a cold scan of the benchmark
// directory). Collected before, while little is live, the allocation
// fits in the heap's next goal.
func (r *Reader) collectBeforeCold(cands []candidate) {
	if r.plan != nil {
		return
	}
	fresh := 0
	for _, c := range cands {
		if c.cached == nil {
			fresh++
		}
	}
	if fresh > 0 && fresh >= len(cands)/2 {
		runtime.GC()
	}
}

// maxWalkBuf bounds the entries of the buffer kept for walks: a huge
// file's walk does not stay in memory once the file is gone.
const maxWalkBuf = 1 << 16

// opened is a file looked at by open: the cached entry, still valid, or
// a new mapping (fresh) to install in place of the cached one, or an
// empty file (cf nil, no error).
type opened struct {
	cf    *cachedFile
	fresh bool
	err   error
}

// preWalk is the walk of a new mapping done by open: its entries and
// values as of used, walked with hint.
type preWalk struct {
	used      int
	hint      Layout
	w         walkResult
	vals, tss []float64
}

// walkedAs reports whether the walk is the one walk would do with hint.
// The layout tried first decides only for a file that it reads to its
// end or that neither layout does (a torn one): there the layout of the
// files before it, known only in collection order, has to be the one.
func (p *preWalk) walkedAs(hint Layout) bool {
	return p.hint.first() == hint.first() || !p.w.torn && p.w.layout != p.hint.first()
}

// open stats a file and, when it is new or changed (another inode or
// size than cached), maps it, reads its used bytes once in order (which
// the hardware prefetches; walking them alone jumps from entry to entry)
// and walks them with hint, into buf. It changes nothing in the Reader,
// so that several goroutines can open the files of one scan.
func (r *Reader) open(base string, cached *cachedFile, hint Layout, buf *[]entry) opened {
	path := filepath.Join(r.dir, base)
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		if err == syscall.ENOENT {
			return opened{err: fs.ErrNotExist}
		}
		return opened{err: fmt.Errorf("%s: %w", base, err)}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return opened{err: fmt.Errorf("%s: not a regular file", base)}
	}
	ino, dev, size := st.Ino, uint64(st.Dev), st.Size
	if cf := cached; cf != nil && cf.ino == ino && cf.dev == dev && cf.size == size {
		return opened{cf: cf}
	}
	if size < headerSize {
		// Empty: prometheus_client is creating it right now.
		return opened{fresh: true}
	}
	m, err := mapFile(path, min(size, r.maxSize))
	if err != nil {
		return opened{err: err}
	}
	cf := &cachedFile{ino: ino, dev: dev, size: size, mapped: m}
	if err := guard(func() error {
		used, ok := usedOf(m)
		if !ok || used < headerSize || int64(used) > r.maxSize {
			return nil // finish says what is wrong
		}
		data := m[:min(used, len(m))]
		cf.touched = prefetch(data)
		pre := &preWalk{used: used, hint: hint, w: walkInto(data, used, hint, buf, nil)}
		pre.vals, pre.tss = readValues(data, pre.w.entries, pre.w.layout, nil, nil)
		cf.pre = pre
		return nil
	}); err != nil {
		cf.unmap()
		return opened{err: err}
	}
	return opened{cf: cf, fresh: true}
}

// walkInto walks data in the reused buffer *buf, which it keeps unless a
// huge file grew it, and returns the walk with its entries copied into dst
// (reused when big enough), at their size.
func walkInto(data []byte, used int, hint Layout, buf *[]entry, dst []entry) walkResult {
	w := walk(data, used, hint, (*buf)[:0])
	if cap(w.entries) > cap(*buf) && cap(w.entries) <= maxWalkBuf {
		*buf = w.entries[:0]
	}
	if cap(dst) < len(w.entries) {
		dst = make([]entry, 0, len(w.entries))
	}
	w.entries = append(dst[:0], w.entries...)
	return w
}

// readValues appends the values of entries to vals, and their timestamps
// to tss in LayoutTimestamped.
func readValues(data []byte, entries []entry, l Layout, vals, tss []float64) ([]float64, []float64) {
	vals = slices.Grow(vals[:0], len(entries))
	if l == LayoutTimestamped {
		tss = slices.Grow(tss[:0], len(entries))
	}
	for _, e := range entries {
		vals = append(vals, valueAt(data, e))
		if l == LayoutTimestamped {
			tss = append(tss, timestampAt(data, e, l))
		}
	}
	return vals, tss
}

// candidate is a file a scan loads, with what the cache held for it when
// the scan began.
type candidate struct {
	base   string
	name   fileName
	cached *cachedFile
}

// openAll opens cands on up to GOMAXPROCS goroutines and calls finish
// with each, in order, on the calling goroutine. Mapping new files and
// reading their pages is most of a cold scan's time and needs nothing
// of the Reader; the caller, rather than waiting for the next file in
// order, opens a file itself.
func (r *Reader) openAll(cands []candidate, finish func(*candidate, opened)) {
	n := len(cands)
	if n == 0 {
		return
	}
	hint := r.hint
	res := make([]opened, n)
	done := make([]chan struct{}, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	var next atomic.Int64
	// openNext opens the next unclaimed file, if any is left.
	openNext := func(buf *[]entry) bool {
		i := int(next.Add(1) - 1)
		if i >= n {
			return false
		}
		res[i] = recovered(cands[i].base, func() opened { return r.open(cands[i].base, cands[i].cached, hint, buf) })
		close(done[i])
		return true
	}
	var wg sync.WaitGroup
	defer func() {
		// Reached early only when finish panics: no goroutine may read
		// cands (which the next scan reuses) once the panic goes on, and
		// the files opened ahead are not the cache's to unmap.
		next.Store(int64(n))
		wg.Wait()
		for i := range res {
			if res[i].cf != nil && res[i].fresh {
				res[i].cf.unmap()
			}
		}
	}()
	for range min(runtime.GOMAXPROCS(0), n) - 1 {
		wg.Go(func() {
			var buf []entry
			for openNext(&buf) {
			}
		})
	}
	for i := range cands {
		for !closed(done[i]) && openNext(&r.walkBuf) {
		}
		<-done[i]
		o := res[i]
		res[i] = opened{}
		finish(&cands[i], o)
	}
}

// recovered is open(), on whichever goroutine opens the file: a panic
// (which would be a bug: bad input is an error) becomes the file's error,
// as it would have been recovered on the collection's goroutine, instead
// of ending pysup, PID 1, from a goroutine of the Reader's.
func recovered(base string, open func() opened) (o opened) {
	defer func() {
		if p := recover(); p != nil {
			o = opened{err: fmt.Errorf("%s: %v", base, p)}
		}
	}()
	return open()
}

// closed reports whether c is closed, without waiting.
func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// load returns a file's entries and its content, mapped read-only.
// Mappings stay open between collections while the file keeps its inode
// and size: an unchanged file then costs one stat, and its values are read
// straight from the page cache the workers write through. A file that
// grew (prometheus_client doubles it) or was replaced is mapped again.
// Entries are walked and keys parsed again only when used changed.
func (r *Reader) load(base string) (*cachedFile, []byte, error) {
	return r.finish(base, r.open(base, r.files[base], r.hint, &r.walkBuf))
}

// finish installs what open found and walks the file when its used
// counter changed.
func (r *Reader) finish(base string, o opened) (*cachedFile, []byte, error) {
	if o.err != nil {
		return nil, nil, o.err
	}
	cf := o.cf
	var pre *preWalk
	if cf != nil {
		// Only for this very install: taken on every path, so that a
		// file installed without its entries (used back at 0) is not
		// given that walk's values by a later collection.
		pre, cf.pre = cf.pre, nil
	}
	if o.fresh {
		if old := r.files[base]; old != nil {
			r.forget(base)
		}
		if cf == nil {
			return &cachedFile{}, nil, nil
		}
		r.files[base] = cf
	}
	data := cf.mapped
	used, _ := usedOf(data)
	if used < headerSize {
		// 0 is a file being initialized; MmapedDict then writes 8.
		if used == 0 {
			return &cachedFile{}, nil, nil
		}
		return nil, nil, fmt.Errorf("bad used %d", used)
	}
	if int64(used) > r.maxSize {
		return nil, nil, fmt.Errorf("used %d beyond the limit of %d bytes", used, r.maxSize)
	}
	if used == cf.used && !cf.torn {
		r.stats.cacheHits.Inc()
		return cf, data, nil
	}
	r.stats.cacheMisses.Inc()
	if len(data) > used {
		data = data[:used]
	}
	var w walkResult
	if pre != nil && pre.used == used && pre.walkedAs(r.hint) {
		w = pre.w
		cf.entries, cf.vals, cf.tss = w.entries, pre.vals, pre.tss
	} else {
		w = walkInto(data, used, r.hint, &r.walkBuf, cf.entries)
		cf.entries = w.entries
		// The values, while the lines holding them are at hand: this
		// collection reads them from here instead of from the mapping,
		// where they would be fetched from memory again.
		cf.vals, cf.tss = readValues(data, cf.entries, w.layout, cf.vals[:0], cf.tss[:0])
	}
	if w.layout != LayoutUnknown {
		r.hint = w.layout
	}
	r.gen++
	cf.gen = r.gen
	cf.used, cf.layout, cf.torn, cf.bad = used, w.layout, w.torn || len(data) < used, 0
	if cap(cf.keys) < len(cf.entries) {
		cf.keys = make([]*key, 0, len(cf.entries))
	}
	cf.keys = cf.keys[:0]
	// Workers mostly write the same keys in the same order: the key that
	// followed the previous one last time is tried first, which costs one
	// comparison instead of hashing the whole key (help texts make keys
	// long), and a comparison that fails early when it is not the one.
	var prev *key
	for _, e := range cf.entries {
		raw := data[e.keyOff : e.keyOff+e.keyLen]
		var k *key
		if prev != nil && prev.next != nil && prev.next.is(raw) {
			k = prev.next
		} else {
			k = r.intern(raw)
			if prev != nil && k != nil {
				prev.next = k
			}
		}
		if k == nil {
			cf.bad++
		}
		cf.keys = append(cf.keys, k)
		prev = k
	}
	cf.valsScan = r.seen
	r.stats.invalidEntries.Add(float64(cf.bad))
	if cf.torn {
		r.stats.tornFiles.Inc()
	}
	return cf, cf.mapped, nil
}

// intern returns the parsed key raw is, parsing it the first time; nil
// for a malformed key. The copy of raw it keeps shares its tail, the help
// text, with the other keys of the metric.
func (r *Reader) intern(raw []byte) *key {
	cut := cutHelpBytes(raw)
	head, tail := raw[:cut], raw[cut:]
	first := r.keys[string(head)]
	chained := 0
	for k := first; k != nil; k = k.sameHead {
		if k.tail == string(tail) {
			return k.parsed()
		}
		chained++
	}
	if len(r.long) > 0 {
		if k := r.long[string(raw)]; k != nil {
			return k.parsed()
		}
	}
	t, ok := r.tails[string(tail)]
	if !ok {
		t = string(tail)
		r.tails[t] = t
	}
	h := string(head)
	k, err := parseCut(h, t)
	if err != nil {
		k = &key{head: h, tail: t, bad: true}
	}
	if chained < maxSameHead {
		k.sameHead = first
		r.keys[h] = k
	} else {
		r.long[string(raw)] = k
	}
	r.nkeys++
	return k.parsed()
}

// maxSameHead bounds the keys chained for one head, so that finding a
// key costs at most that many comparisons. prometheus_client writes one
// help per metric, so its keys hardly ever share heads; a file that
// has thousands of keys differing only in help would otherwise cost a
// comparison with each of them per key (quadratic).
const maxSameHead = 8

// parsed is k, or nil for a malformed key.
func (k *key) parsed() *key {
	if k.bad {
		return nil
	}
	return k
}

// forget drops a file's cache entry and mapping, and the plan, which may
// refer to it.
func (r *Reader) forget(base string) {
	if cf := r.files[base]; cf != nil {
		cf.unmap()
		delete(r.files, base)
		r.plan = nil
	}
}

// Close releases every mapping. The Reader stays usable.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for base := range r.files {
		r.forget(base)
	}
	return nil
}

// trimKeys drops parsed keys no cached file uses once the cache holds
// many more keys than the files do, so key churn cannot grow memory.
func (r *Reader) trimKeys() {
	total := 0
	for _, cf := range r.files {
		total += len(cf.keys)
	}
	if r.nkeys <= 2*total+1024 {
		return
	}
	used := make(map[*key]bool, total)
	for _, cf := range r.files {
		for _, k := range cf.keys {
			used[k] = true
		}
	}
	r.nkeys = 0
	clear(r.tails)
	for head, first := range r.keys {
		var kept *key
		for k := first; k != nil; {
			next := k.sameHead
			if used[k] {
				k.sameHead, kept = kept, k
				r.tails[k.tail] = k.tail
				r.nkeys++
			}
			k = next
		}
		if kept == nil {
			delete(r.keys, head)
		} else {
			r.keys[head] = kept
		}
	}
	for raw, k := range r.long {
		if used[k] {
			r.tails[k.tail] = k.tail
			r.nkeys++
		} else {
			delete(r.long, raw)
		}
	}
	for _, first := range r.keys {
		for k := first; k != nil; k = k.sameHead {
			k.next = nil // may be a dropped key
		}
	}
	for _, k := range r.long {
		k.next = nil
	}
}

// prefetch reads data in order, one byte per cache line, and returns
// their sum, which the caller keeps so that the reads are not optimized
// away.
func prefetch(data []byte) byte {
	var x byte
	for i := 0; i < len(data); i += 64 {
		x += data[i]
	}
	return x
}
