// Package multiproc reads the .db files prometheus_client writes in
// multiprocess mode (PROMETHEUS_MULTIPROC_DIR) and aggregates them exactly
// as its MultiProcessCollector does, without Python: it also removes the
// live-gauge files of dead workers, tolerates torn entries and compacts the
// files of dead workers so their number does not grow with worker churn.
package multiproc

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	keys  map[string]*key // raw key -> parsed, shared by all files
	buf   []byte
	hint  Layout
	stats *stats
}

// cachedFile remembers where a file's entries are, so that an unchanged
// file is not walked and its keys not parsed again. Values are always read
// afresh: workers write them through mmap, which does not reliably update
// mtime, so mtime and size only say whether the entry layout is the same
// (entries are only ever appended, which changes used).
type cachedFile struct {
	ino, dev uint64
	size     int64
	mtime    int64
	used     int
	layout   Layout
	entries  []entry
	keys     []*key // parsed key per entry; nil for a malformed key
	bad      int    // malformed keys
	torn     bool
}

// New returns a Reader of opts.Dir.
func New(opts Options) *Reader {
	r := &Reader{
		dir:     opts.Dir,
		alive:   opts.Alive,
		maxSize: opts.MaxFileSize,
		files:   make(map[string]*cachedFile),
		keys:    make(map[string]*key),
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
	agg := newAggregator()
	if err := r.read(agg, nil); err != nil {
		return nil, err
	}
	mfs, bad := agg.families()
	r.stats.invalidEntries.Add(float64(bad))
	return mfs, nil
}

// read adds every readable file of the directory to agg; when only is not
// nil, just the files it accepts.
func (r *Reader) read(agg *aggregator, only func(string, fileName) bool) error {
	des, err := os.ReadDir(r.dir)
	if err != nil {
		return fmt.Errorf("multiproc: reading %s: %w", r.dir, err)
	}
	seen := make(map[string]bool, len(des))
	nfiles := 0
	for _, de := range des {
		base := de.Name()
		n, ok := parseName(base)
		if !ok || !de.Type().IsRegular() {
			continue
		}
		if only != nil && !only(base, n) {
			continue
		}
		if r.deadLiveGauge(n) {
			// mark_process_dead, done for the app.
			if err := os.Remove(filepath.Join(r.dir, base)); err == nil || errors.Is(err, fs.ErrNotExist) {
				r.stats.removedLive.Inc()
				delete(r.files, base)
				continue
			}
		}
		seen[base] = true
		cf, data, err := r.load(base)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				r.stats.badFiles.Inc()
			}
			continue
		}
		nfiles++
		for i, e := range cf.entries {
			k := cf.keys[i]
			if k == nil {
				continue
			}
			agg.add(n.typ, n.mode, n.pid, k, valueAt(data, e), timestampAt(data, e, cf.layout))
		}
	}
	if only == nil {
		for base := range r.files {
			if !seen[base] {
				delete(r.files, base)
			}
		}
		r.stats.files.Set(float64(nfiles))
		r.trimKeys()
	}
	return nil
}

// load reads a file's used bytes into r.buf and returns its entries,
// walking and parsing them again only when the file changed.
func (r *Reader) load(base string) (*cachedFile, []byte, error) {
	f, err := os.Open(filepath.Join(r.dir, base))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	var ino, dev uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino, dev = st.Ino, uint64(st.Dev)
	}
	var hdr [headerSize]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		// An empty file is one prometheus_client is creating right now.
		if fi.Size() == 0 {
			return &cachedFile{}, nil, nil
		}
		return nil, nil, fmt.Errorf("reading header: %w", err)
	}
	used, _ := usedOf(hdr[:])
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
	size := used
	if int64(size) > fi.Size() {
		size = int(fi.Size()) // truncated: read what is there
	}
	if cap(r.buf) < size {
		r.buf = make([]byte, size)
	}
	data := r.buf[:size]
	copy(data, hdr[:])
	n, err := f.ReadAt(data[headerSize:], headerSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("reading: %w", err)
	}
	data = data[:headerSize+n]

	cf := r.files[base]
	if cf != nil && cf.ino == ino && cf.dev == dev && cf.size == fi.Size() &&
		cf.mtime == fi.ModTime().UnixNano() && cf.used == used && len(data) == used {
		r.stats.cacheHits.Inc()
		return cf, data, nil
	}
	r.stats.cacheMisses.Inc()
	w := walk(data, used, r.hint, nil)
	if w.layout != LayoutUnknown {
		r.hint = w.layout
	}
	cf = &cachedFile{
		ino: ino, dev: dev, size: fi.Size(), mtime: fi.ModTime().UnixNano(), used: used,
		layout: w.layout, entries: w.entries, keys: make([]*key, len(w.entries)), torn: w.torn,
	}
	for i, e := range w.entries {
		raw := data[e.keyOff : e.keyOff+e.keyLen]
		k, ok := r.keys[string(raw)]
		if !ok {
			k, _ = parseKey(raw)
			r.keys[string(raw)] = k // nil remembers a malformed key
		}
		if k == nil {
			cf.bad++
		}
		cf.keys[i] = k
	}
	r.stats.invalidEntries.Add(float64(cf.bad))
	if cf.torn || len(data) < used {
		r.stats.tornFiles.Inc()
		// A torn read is not cached: the next collection retries it.
		return cf, data, nil
	}
	r.files[base] = cf
	return cf, data, nil
}

// trimKeys drops parsed keys no cached file uses once the cache holds
// many more keys than the files do, so key churn cannot grow memory.
func (r *Reader) trimKeys() {
	total := 0
	for _, cf := range r.files {
		total += len(cf.keys)
	}
	if len(r.keys) <= 2*total+1024 {
		return
	}
	used := make(map[*key]bool, total)
	for _, cf := range r.files {
		for _, k := range cf.keys {
			used[k] = true
		}
	}
	for raw, k := range r.keys {
		if !used[k] {
			delete(r.keys, raw)
		}
	}
}
