package multiproc

import (
	"encoding/binary"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// dbFile encodes entries (key, value, timestamp) in a layout.
func dbFile(l Layout, entries ...any) []byte {
	buf := make([]byte, headerSize)
	for i := 0; i+2 < len(entries); i += 3 {
		buf = appendEntry(buf, entries[i].(string), entries[i+1].(float64), entries[i+2].(float64), l)
	}
	putUsed(buf, len(buf))
	return buf
}

func writeFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func gatherText(t *testing.T, r *Reader) string {
	t.Helper()
	return goExposition(t, r)
}

// TestMostRecentTimestampedLayout covers prometheus_client >= 0.17 files
// (value and timestamp) and the mostrecent modes, absent from the 0.16
// installed here: the latest timestamp wins, the pid label is dropped.
func TestMostRecentTimestampedLayout(t *testing.T) {
	dir := t.TempDir()
	k := `["g", "g", {"x": "1"}, "help"]`
	writeFile(t, dir, "gauge_mostrecent_10.db", dbFile(LayoutTimestamped, k, 5.0, 100.0))
	writeFile(t, dir, "gauge_mostrecent_11.db", dbFile(LayoutTimestamped, k, 7.0, 50.0))
	writeFile(t, dir, "counter_10.db", dbFile(LayoutTimestamped, `["c", "c_total", {}, "h"]`, 2.0, 1.0))
	writeFile(t, dir, "counter_11.db", dbFile(LayoutTimestamped, `["c", "c_total", {}, "h"]`, 3.0, 1.0))
	got := gatherText(t, New(Options{Dir: dir}))
	for _, want := range []string{"g{x=\"1\"} 5\n", "c_total 5\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

// TestTornEntries: a truncated file and a malformed key are skipped and
// counted; the readable rest is served.
func TestTornEntries(t *testing.T) {
	dir := t.TempDir()
	good := dbFile(LayoutValue, `["c", "c_total", {}, "h"]`, 2.0, 0.0, `["d", "d_total", {}, "h"]`, 4.0, 0.0)
	writeFile(t, dir, "counter_1.db", good[:len(good)-5]) // torn last entry
	writeFile(t, dir, "counter_2.db", dbFile(LayoutValue, `["c", "c_total", {}, "h"]`, 1.0, 0.0, `[not json]`, 1.0, 0.0))
	bad := dbFile(LayoutValue, `["c", "c_total", {}, "h"]`, 1.0, 0.0)
	binary.LittleEndian.PutUint32(bad, 1<<30) // used far beyond the file
	writeFile(t, dir, "counter_3.db", bad)
	writeFile(t, dir, "counter_4.db", nil) // being created
	r := New(Options{Dir: dir})
	got := gatherText(t, r)
	if !strings.Contains(got, "c_total 3\n") || strings.Contains(got, "d_total") {
		t.Errorf("want c_total 3 (2 from the torn file + 1; the oversized one skipped) and no d_total, got\n%s", got)
	}
}

func TestCompactKeepsOutput(t *testing.T) {
	dir := t.TempDir()
	for _, pid := range []string{"100", "101", "102"} {
		writeFile(t, dir, "counter_"+pid+".db", dbFile(LayoutValue, `["c", "c_total", {"a": "x"}, "h"]`, 1.5, 0.0))
		writeFile(t, dir, "gauge_max_"+pid+".db", dbFile(LayoutValue, `["g", "g", {}, "h"]`, float64(len(pid)+int(pid[2]-'0')), 0.0))
		writeFile(t, dir, "gauge_all_"+pid+".db", dbFile(LayoutValue, `["a", "a", {}, "h"]`, 1.0, 0.0))
	}
	alive := func(pid int) bool { return pid == 102 }
	r := New(Options{Dir: dir, Alive: alive})
	before := gatherText(t, r)
	n, err := r.Compact()
	if err != nil || n != 4 {
		t.Fatalf("Compact = %d, %v; want 4 files (2 counter, 2 gauge_max)", n, err)
	}
	after := gatherText(t, r)
	if before != after {
		t.Fatalf("output changed:\n%s\n---\n%s", before, after)
	}
	if _, err := os.Stat(filepath.Join(dir, "gauge_all_100.db")); err != nil {
		t.Errorf("all-mode gauge of a dead pid must stay (it keeps its pid label): %v", err)
	}
	// Compacting again with nothing dead changes nothing.
	if n, err := r.Compact(); err != nil || n != 0 {
		t.Fatalf("second Compact = %d, %v", n, err)
	}
}

func TestPrepare(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "counter_1.db", []byte("x"))
	writeFile(t, dir, "counter_compacted"+tmpSuffix, []byte("x"))
	writeFile(t, dir, "keep.txt", []byte("x"))
	if err := Prepare(dir); err != nil {
		t.Fatal(err)
	}
	des, _ := os.ReadDir(dir)
	if len(des) != 1 || des[0].Name() != "keep.txt" {
		t.Fatalf("left %v, want only keep.txt", des)
	}
}

// FuzzReader feeds hostile .db contents to the reader: it must never
// panic, and what it serves must encode.
func FuzzReader(f *testing.F) {
	f.Add(dbFile(LayoutValue, `["c", "c_total", {"a": "b"}, "h"]`, 1.0, 0.0), uint8(0))
	f.Add(dbFile(LayoutTimestamped, `["g", "g", {}, "h"]`, 1.0, 2.0), uint8(3))
	f.Add(dbFile(LayoutValue, `["h", "h_bucket", {"le": "0.5"}, "h"]`, 1.0, 0.0, `["h", "h_sum", {}, "h"]`, 0.2, 0.0), uint8(1))
	f.Add(dbFile(LayoutValue, `["s", "s_count", {}, "h"]`, 1.0, 0.0, `["s", "s_sum", {}, "h"]`, 0.2, 0.0), uint8(2))
	names := []string{"counter_1.db", "histogram_1.db", "summary_1.db", "gauge_all_1.db", "gauge_livesum_1.db", "gauge_mostrecent_1.db", "gauge_min_1.db"}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		dir := t.TempDir()
		writeFile(t, dir, names[int(which)%len(names)], data)
		writeFile(t, dir, names[int(which+1)%len(names)], data)
		r := New(Options{Dir: dir, MaxFileSize: 1 << 20, Alive: func(int) bool { return false }})
		got := goExposition(t, r)
		// NaN bounds have no order: their buckets come out in any.
		if want, _ := refGather(t, dir, r.maxSize); got != want && !strings.Contains(want, `le="NaN"`) {
			t.Fatalf("exposition differs from the reference\n--- pysup\n%s\n--- reference\n%s", got, want)
		}
		if again := goExposition(t, r); again != got {
			t.Fatalf("a second (cached) read differs\n--- first\n%s\n--- second\n%s", got, again)
		}
		if _, err := r.Compact(); err != nil {
			t.Fatal(err)
		}
		goExposition(t, r)
	})
}

// TestCollectBeforeCold: a cold scan runs one garbage collection before
// it, a warm one none. Automatic collections are off, so that only the
// Reader's own count.
func TestCollectBeforeCold(t *testing.T) {
	dir := t.TempDir()
	genDir(t, rand.New(rand.NewSource(3)), dir, LayoutValue)
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	numGC := func() uint32 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.NumGC
	}
	r := New(Options{Dir: dir})
	before := numGC()
	if _, err := r.Gather(); err != nil {
		t.Fatal(err)
	}
	if got := numGC() - before; got != 1 {
		t.Errorf("cold scan: %d collections, want 1", got)
	}
	before = numGC()
	if _, err := r.Gather(); err != nil {
		t.Fatal(err)
	}
	if got := numGC() - before; got != 0 {
		t.Errorf("warm scan: %d collections, want 0", got)
	}
}

// TestWalkAheadNotKept: the walk open does of a new file is for the
// collection that opened it only. When its used counter is back at 0 by
// the time the file is installed (a file set up again in place), a
// later collection reads the values written since, not those of that
// walk.
func TestWalkAheadNotKept(t *testing.T) {
	dir := t.TempDir()
	const base = "counter_1.db"
	writeFile(t, dir, base, dbFile(LayoutValue, `["c", "c_total", {}, "h"]`, 1.0, 0.0))
	f, err := os.OpenFile(filepath.Join(dir, base), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := New(Options{Dir: dir})
	o := r.open(base, nil, r.hint, &r.walkBuf)
	if _, err := f.WriteAt(make([]byte, headerSize), 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.finish(base, o); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(dbFile(LayoutValue, `["c", "c_total", {}, "h"]`, 2.0, 0.0), 0); err != nil {
		t.Fatal(err)
	}
	if got := goExposition(t, r); !strings.Contains(got, "c_total 2\n") {
		t.Errorf("want c_total 2, got\n%s", got)
	}
}

// TestRecoveredOpen: a panic while a file is opened, on any goroutine,
// is that file's error.
func TestRecoveredOpen(t *testing.T) {
	o := recovered("counter_1.db", func() opened { panic("boom") })
	if o.err == nil || !strings.Contains(o.err.Error(), "counter_1.db: boom") {
		t.Fatalf("got %+v", o)
	}
	o = recovered("counter_1.db", func() opened { return opened{fresh: true} })
	if o.err != nil || !o.fresh {
		t.Fatalf("got %+v", o)
	}
}
