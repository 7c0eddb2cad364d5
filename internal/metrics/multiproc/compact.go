package multiproc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// compactedPID stands for the pid in compacted files' names:
// counter_compacted.db, gauge_sum_compacted.db. prometheus_client never
// writes it (its pids are numbers) and MultiProcessCollector reads these
// files like any other: the type and mode come from the name, and the pid
// part only labels "all" gauges, which are never compacted.
const compactedPID = "compacted"

// tmpSuffix marks a compacted file being written; it does not end in .db
// so no reader globs it.
const tmpSuffix = ".db.pysup-tmp"

// compactable says whether files of a type and mode can be merged across
// workers without changing the aggregated output: everything summed, and
// the gauges whose pid label is dropped. "all" gauges keep one series per
// pid; live gauges of dead workers are removed instead.
func compactable(n fileName) bool {
	switch n.typ {
	case "counter", "histogram", "summary":
		return true
	case "gauge":
		switch n.mode {
		case "sum", "min", "max", "mostrecent":
			return true
		}
	}
	return false
}

// group is the compacted file name of a type and mode.
func (n fileName) group() string {
	if n.typ == "gauge" {
		return "gauge_" + n.mode + "_" + compactedPID + ".db"
	}
	return n.typ + "_" + compactedPID + ".db"
}

// Compact merges the counter, histogram, summary and non-live sum, min,
// max and mostrecent gauge files of dead workers into one compacted file
// per type and mode, then removes them. The aggregated output does not
// change (up to floating-point summation order), counters never go
// backwards, and the number of files stays bounded by the live workers.
// It returns the number of files merged.
//
// The compacted file is written beside, synced and renamed into place
// before the merged files are removed: a MultiProcessCollector running
// in the app at that very moment could count them twice for one scrape,
// never lose them. pysup's own collections are serialized with it.
func (r *Reader) Compact() (int, error) {
	if r.alive == nil {
		return 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	des, err := os.ReadDir(r.dir)
	if err != nil {
		return 0, fmt.Errorf("multiproc: reading %s: %w", r.dir, err)
	}
	groups := make(map[string][]string) // compacted name -> dead files
	for _, de := range des {
		n, ok := parseName(de.Name())
		if !ok || !de.Type().IsRegular() || !compactable(n) {
			continue
		}
		pid, err := strconv.Atoi(n.pid)
		if err != nil || pid <= 0 || r.alive(pid) {
			continue
		}
		groups[n.group()] = append(groups[n.group()], de.Name())
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	merged := 0
	var errs []error
	for _, g := range names {
		if err := r.compactGroup(g, groups[g]); err != nil {
			r.stats.compactErrors.Inc()
			errs = append(errs, err)
			continue
		}
		merged += len(groups[g])
		r.stats.compactions.Inc()
		r.stats.compacted.Add(float64(len(groups[g])))
	}
	return merged, errors.Join(errs...)
}

// mergedEntry is one key of a compacted file.
type mergedEntry struct {
	raw   string
	value float64
	ts    float64
}

func (r *Reader) compactGroup(target string, dead []string) error {
	n, _ := parseName(target)
	inputs := append([]string{target}, dead...)
	byID := make(map[string]*mergedEntry)
	var order []string
	layout := LayoutUnknown
	for i, base := range inputs {
		var cf *cachedFile
		var data []byte
		err := guard(func() error {
			var err error
			if cf, data, err = r.load(base); err != nil {
				return err
			}
			// Copy what is needed while the fault guard is on.
			data = append([]byte(nil), data[:min(len(data), cf.used)]...)
			return nil
		})
		if err != nil {
			r.forget(base)
			if i == 0 && errors.Is(err, fs.ErrNotExist) {
				continue // no compacted file yet
			}
			if i == 0 {
				return fmt.Errorf("multiproc: compacting into %s: %w", base, err)
			}
			// A dead worker's unreadable file adds nothing to any
			// collection (and breaks MultiProcessCollector): drop it.
			continue
		}
		if layout == LayoutUnknown {
			layout = cf.layout
		}
		for j, e := range cf.entries {
			k := cf.keys[j]
			if k == nil {
				continue
			}
			v, ts := valueAt(data, e), timestampAt(data, e, cf.layout)
			id := k.metric + "\x00" + k.sample + "\x00" + k.labelsKey
			m, ok := byID[id]
			if !ok {
				raw := string(data[e.keyOff : e.keyOff+e.keyLen])
				byID[id] = &mergedEntry{raw: raw, value: v, ts: ts}
				order = append(order, id)
				continue
			}
			combine(n, m, v, ts)
		}
	}
	if layout == LayoutUnknown {
		layout = r.hint
		if layout == LayoutUnknown {
			layout = LayoutValue
		}
	}
	buf := make([]byte, headerSize, 1<<16)
	for _, id := range order {
		m := byID[id]
		buf = appendEntry(buf, m.raw, m.value, m.ts, layout)
	}
	if len(buf) > 1<<31-1 {
		return fmt.Errorf("multiproc: compacted %s would exceed 2 GiB", target)
	}
	putUsed(buf, len(buf))
	if err := writeAtomic(filepath.Join(r.dir, target), buf); err != nil {
		return err
	}
	r.forget(target)
	for _, base := range dead {
		r.forget(base)
		if err := os.Remove(filepath.Join(r.dir, base)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			// Its values are in the compacted file now: leaving it
			// would count them twice, so this is worth reporting.
			return fmt.Errorf("multiproc: removing compacted %s: %w", base, err)
		}
	}
	return nil
}

// combine merges a further value of one key the way the aggregation would.
func combine(n fileName, m *mergedEntry, v, ts float64) {
	switch {
	case n.typ == "gauge" && n.mode == "min":
		if v < m.value {
			m.value = v
		}
	case n.typ == "gauge" && n.mode == "max":
		if v > m.value {
			m.value = v
		}
	case n.typ == "gauge" && n.mode == "mostrecent":
		if m.ts < ts {
			m.value, m.ts = v, ts
		}
		return
	default:
		m.value += v
	}
	if ts > m.ts {
		m.ts = ts
	}
}

func putUsed(buf []byte, used int) {
	buf[0], buf[1], buf[2], buf[3] = byte(used), byte(used>>8), byte(used>>16), byte(used>>24)
}

// writeAtomic writes data to path through a synced temp file and rename.
func writeAtomic(path string, data []byte) error {
	tmp := path[:len(path)-len(".db")] + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("multiproc: %w", err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("multiproc: writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("multiproc: %w", err)
	}
	// The directory entry itself; best effort (tmpfs has nothing to sync).
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
