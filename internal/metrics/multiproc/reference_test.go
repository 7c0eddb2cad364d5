package multiproc

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
)

// pyKey spells a key as json.dumps([metric, sample, labels, help],
// sort_keys=True) does, or, with odd set, in spellings prometheus_client
// does not write but JSON allows (escapes, other spacing, unsorted or
// duplicate label names), which must take the slow path to the same
// result.
func pyKey(rnd *rand.Rand, metric, sample string, labels [][2]string, help string, odd bool) string {
	str := func(s string) string {
		if odd && rnd.Intn(3) == 0 {
			b, _ := json.Marshal(s) // escapes <, >, & as \u00XX
			return string(b)
		}
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range s {
			switch {
			case r == '"' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r == '\n':
				b.WriteString(`\n`)
			case r < 0x20 || r > 0x7e:
				if r > 0xffff {
					r1, r2 := 0xd800+((r-0x10000)>>10), 0xdc00+((r-0x10000)&0x3ff)
					fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
				} else {
					fmt.Fprintf(&b, `\u%04x`, r)
				}
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
		return b.String()
	}
	ls := append([][2]string(nil), labels...)
	if !odd || rnd.Intn(2) == 0 {
		sort.Slice(ls, func(i, j int) bool { return ls[i][0] < ls[j][0] })
	}
	sep, colon := ", ", ": "
	if odd && rnd.Intn(4) == 0 {
		sep, colon = ",", ":"
	}
	var b strings.Builder
	b.WriteString("[" + str(metric) + sep + str(sample) + sep + "{")
	for i, l := range ls {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(str(l[0]) + colon + str(l[1]))
	}
	b.WriteString("}" + sep + str(help) + "]")
	return b.String()
}

// genDir fills dir with random .db files of every type and mode; the
// same metric names recur across files and types, as do hostile keys.
func genDir(t testing.TB, rnd *rand.Rand, dir string, layout Layout) {
	t.Helper()
	names := []string{"counter_%d.db", "histogram_%d.db", "summary_%d.db", "gauge_all_%d.db",
		"gauge_liveall_%d.db", "gauge_sum_%d.db", "gauge_livesum_%d.db", "gauge_min_%d.db",
		"gauge_livemin_%d.db", "gauge_max_%d.db", "gauge_livemax_%d.db", "gauge_mostrecent_%d.db",
		"gauge_livemostrecent_%d.db"}
	metrics := []string{"a", "b", "lat"}
	values := []string{"x", "y", "", `q"uote`, `back\slash`, "new\nline", "é", "日本", "😀", "<&>"}
	les := []string{"0.1", "0.5", "1", "1.0", "+Inf", "5e-1", " 2 ", "bad", "-0", "0"}
	helps := []string{"h", "help text", `with "quotes" \ and` + "\nnewline", "ünïcode"}
	for f := 0; f < 2+rnd.Intn(10); f++ {
		name := fmt.Sprintf(names[rnd.Intn(len(names))], 100+rnd.Intn(6))
		buf := make([]byte, headerSize)
		for e := 0; e < rnd.Intn(30); e++ {
			m := metrics[rnd.Intn(len(metrics))]
			suffixes := []string{"", "_total", "_bucket", "_sum", "_count"}
			sample := m + suffixes[rnd.Intn(len(suffixes))]
			if rnd.Intn(5) != 0 { // mostly what the file's type writes
				switch {
				case strings.HasPrefix(name, "counter"):
					sample = m + "_total"
				case strings.HasPrefix(name, "histogram"):
					sample = m + []string{"_bucket", "_bucket", "_bucket", "_sum"}[rnd.Intn(4)]
				case strings.HasPrefix(name, "summary"):
					sample = m + []string{"_sum", "_count"}[rnd.Intn(2)]
				default:
					sample = m
				}
			}
			var ls [][2]string
			for _, ln := range []string{"code", "le", "pid", "route"} {
				p := 3
				if ln == "le" && strings.HasSuffix(sample, "_bucket") {
					p = 1
				}
				if ln == "pid" {
					p = 6
				}
				if rnd.Intn(p) == 0 {
					v := values[rnd.Intn(4)]
					if rnd.Intn(4) == 0 {
						v = values[rnd.Intn(len(values))]
					}
					if ln == "le" {
						v = les[rnd.Intn(len(les))]
					}
					ls = append(ls, [2]string{ln, v})
				}
			}
			odd := rnd.Intn(6) == 0
			if odd && len(ls) > 0 && rnd.Intn(3) == 0 {
				ls = append(ls, ls[0]) // duplicate label name
			}
			k := pyKey(rnd, m, sample, ls, helps[rnd.Intn(len(helps))], odd)
			switch rnd.Intn(60) {
			case 0:
				k = `["not", "four"]`
			case 1:
				k = `["a", "a", {"__x": "1"}, "h"]`
			case 2:
				k = `["a", "a", {"1x": "1"}, "h"]`
			case 3:
				k = `["a b", "a b", {}, "h"]`
			case 4:
				k = `["a", "a", {"x": 1}, "h"]`
			case 5:
				k = "[\"a\", \"a\", {\"x\": \"\xff\"}, \"h\"]"
			case 6:
				k = " [\"a\", \"a\", {}, \"h\"] "[1:] + "]" // trailing garbage
			}
			v := float64(rnd.Intn(100)) / 4
			if rnd.Intn(10) == 0 {
				v = -v
			}
			buf = appendEntry(buf, k, v, float64(rnd.Intn(5)), layout)
		}
		putUsed(buf, len(buf))
		if rnd.Intn(8) == 0 {
			buf = buf[:rnd.Intn(len(buf)+1)] // torn
		}
		writeFile(t, dir, name, buf)
	}
}

// assertReference checks the Reader's exposition against the reference
// implementation on the same directory, byte for byte.
func assertReference(t *testing.T, r *Reader, what string) {
	t.Helper()
	got := goExposition(t, r)
	want, _ := refGather(t, r.dir, r.maxSize)
	if got != want {
		t.Fatalf("%s: exposition differs from the reference\n--- pysup\n%s\n--- reference\n%s", what, got, want)
	}
}

// TestMatchesReference: random directories, read cold and then warm
// while values change in place, entries are appended, files grow, are
// replaced, removed and added.
func TestMatchesReference(t *testing.T) {
	for seed := int64(0); seed < 300; seed++ {
		rnd := rand.New(rand.NewSource(seed))
		dir := t.TempDir()
		layout := LayoutValue
		if seed%3 == 0 {
			layout = LayoutTimestamped
		}
		genDir(t, rnd, dir, layout)
		r := New(Options{Dir: dir, MaxFileSize: 1 << 20})
		what := fmt.Sprintf("seed %d", seed)
		assertReference(t, r, what+" cold")
		assertReference(t, r, what+" warm")
		des, _ := os.ReadDir(dir)
		for _, de := range des {
			path := filepath.Join(dir, de.Name())
			data, _ := os.ReadFile(path)
			switch rnd.Intn(5) {
			case 0: // new values in place, as workers write them
				if used, ok := usedOf(data); ok && used <= len(data) {
					w := walk(data, used, layout, nil)
					for _, e := range w.entries {
						binary.LittleEndian.PutUint64(data[e.valOff():], uint64(rnd.Int63()>>12)<<20)
					}
				}
				f, _ := os.OpenFile(path, os.O_WRONLY, 0)
				f.WriteAt(data, 0)
				f.Close()
			case 1: // replaced by another file
				os.Remove(path)
			}
		}
		assertReference(t, r, what+" after changes")
		genDir(t, rnd, dir, layout) // more files, some overwritten
		assertReference(t, r, what+" after new files")
		assertReference(t, r, what+" warm again")
		r.Close()
	}
}

// TestMatchesReferenceGrowth: a file whose entries are appended in place
// (used grows, size stays), then one that grows (prometheus_client
// doubles it), read by one Reader throughout.
func TestMatchesReferenceGrowth(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "counter_1.db")
	buf := make([]byte, headerSize)
	buf = appendEntry(buf, `["c", "c_total", {"a": "1"}, "h"]`, 1, 0, LayoutValue)
	putUsed(buf, len(buf))
	file := make([]byte, 4096)
	copy(file, buf)
	writeFile(t, dir, "counter_1.db", file)
	writeFile(t, dir, "gauge_all_2.db", dbFile(LayoutValue, `["g", "g", {}, "h"]`, 3.0, 0.0))
	r := New(Options{Dir: dir})
	assertReference(t, r, "one entry")
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 2; i < 200; i++ {
		buf = appendEntry(buf, fmt.Sprintf(`["c", "c_total", {"a": "%d"}, "h"]`, i), float64(i), 0, LayoutValue)
		putUsed(buf, len(buf))
		if len(buf) > len(file) {
			file = make([]byte, 2*len(file))
		}
		copy(file, buf)
		if _, err := f.WriteAt(file, 0); err != nil {
			t.Fatal(err)
		}
		if i%17 == 0 || i < 5 {
			assertReference(t, r, fmt.Sprintf("%d entries", i))
		}
	}
	assertReference(t, r, "all entries")
}

// TestMatchesReferenceEdges: the corners random directories rarely hit.
func TestMatchesReferenceEdges(t *testing.T) {
	dir := t.TempDir()
	h := func(le string) string { return `["h", "h_bucket", {"a": "1", "le": "` + le + `"}, "h"]` }
	// 0 and -0 are one bound; a bucket series without a sum.
	writeFile(t, dir, "histogram_1.db", dbFile(LayoutValue, h("0"), 1.0, 0.0, h("+Inf"), 3.0, 0.0,
		`["h", "h_sum", {"a": "1"}, "h"]`, 0.5, 0.0, `["h", "h_bucket", {"le": "1"}, "h"]`, 0.5, 0.0))
	writeFile(t, dir, "histogram_2.db", dbFile(LayoutValue, h("-0"), 1.0, 0.0, h("bad"), 1.0, 0.0))
	// A metric first seen in a counter file, then in gauge files: the
	// type is the counter's, the gauge entries do not fit it.
	writeFile(t, dir, "counter_1.db", dbFile(LayoutValue, `["m", "m_total", {}, "h"]`, 1.0, 0.0))
	writeFile(t, dir, "gauge_all_2.db", dbFile(LayoutValue, `["m", "m", {}, "h"]`, 1.0, 0.0,
		`["g", "g", {"pid": "77", "z": "1"}, "h"]`, 5.0, 0.0, `["g", "g", {"a": "1"}, "h"]`, 6.0, 0.0))
	// A gauge family whose mode is the last gauge file's; an own pid
	// label is dropped with the writer's.
	writeFile(t, dir, "gauge_sum_3.db", dbFile(LayoutValue, `["x", "x", {"pid": "9"}, "h"]`, 1.0, 0.0, `["x", "x", {}, "h"]`, 2.0, 0.0))
	writeFile(t, dir, "gauge_max_4.db", dbFile(LayoutValue, `["x", "x", {}, "h"]`, -1.0, 0.0))
	// Summary: a sample of another name still makes its series.
	writeFile(t, dir, "summary_1.db", dbFile(LayoutValue, `["s", "s_sum", {}, "h"]`, 2.5, 0.0, `["s", "s_bucket", {"q": "1"}, "h"]`, 1.0, 0.0,
		`["s", "s_count", {}, "h"]`, 2.7, 0.0))
	// Keys cut alike before their help, with other helps (the first
	// file's is the family's); a label value that ends like the labels
	// do; a malformed key met twice.
	writeFile(t, dir, "counter_5.db", dbFile(LayoutValue, `["k", "k_total", {"a": "1"}, "first"]`, 1.0, 0.0,
		`["k", "k_total", {"a": "x}, "}, "first"]`, 4.0, 0.0, `["k", "k_total", {"a": 1}, "first"]`, 1.0, 0.0))
	writeFile(t, dir, "counter_6.db", dbFile(LayoutValue, `["k", "k_total", {"a": "1"}, "second"]`, 2.0, 0.0,
		`["k", "k_total", {"a": "x}, "}, "second"]`, 8.0, 0.0, `["k", "k_total", {"a": 1}, "first"]`, 1.0, 0.0))
	r := New(Options{Dir: dir})
	assertReference(t, r, "edges")
	got := goExposition(t, r)
	for _, want := range []string{"# HELP k_total first\n", `k_total{a="1"} 3`, `k_total{a="x}, "} 12`, `h_bucket{a="1",le="0"} 2`, `h_count{a="1"} 5`, "x 2\n", `g{a="1",pid="2"} 6`, `g{pid="2",z="1"} 5`, "s_count 2\n", "s_sum{q=\"1\"} 0"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

// TestColdTornLayout: a torn file that both layouts read equally far is
// read in the layout of the files before it, on a cold collection as on
// a warm one (the walks of new files done ahead of their turn guessed
// the layout from the collection's start).
func TestColdTornLayout(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "gauge_mostrecent_1.db", dbFile(LayoutTimestamped, `["g", "g", {}, "h"]`, 5.0, 100.0))
	// Two timestamped entries, the second cut short: the value layout
	// reads the first one too, then stops at the timestamp's low bytes
	// (zero for 1.0), as the timestamped layout stops at the cut.
	torn := dbFile(LayoutTimestamped, `["t", "t", {}, "h"]`, 7.0, 1.0, `["u", "u", {}, "h"]`, 8.0, 1.0)
	writeFile(t, dir, "gauge_mostrecent_2.db", torn[:len(torn)-10])
	r := New(Options{Dir: dir})
	assertReference(t, r, "cold")
	assertReference(t, r, "warm")
}

// TestNaNBound: a NaN le (which prometheus_client does not write) is a
// bucket of its own, sorted first, and counts as in multiprocess.py
// (the aggregation before plans lost its value: a NaN map key is never
// found again).
func TestNaNBound(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "histogram_1.db", dbFile(LayoutValue,
		`["h", "h_bucket", {"le": "1"}, "h"]`, 1.0, 0.0, `["h", "h_bucket", {"le": "NaN"}, "h"]`, 2.0, 0.0))
	got := goExposition(t, New(Options{Dir: dir}))
	for _, want := range []string{`h_bucket{le="NaN"} 2` + "\n" + `h_bucket{le="1"} 3`, "h_count 3\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

// TestConcurrentGather: collections run one at a time, but what one
// returned is encoded while the next runs (a scrape and a push at once);
// nothing it shares with the next may change. Run with -race.
func TestConcurrentGather(t *testing.T) {
	dir := t.TempDir()
	genDir(t, rand.New(rand.NewSource(7)), dir, LayoutValue)
	r := New(Options{Dir: dir})
	want := goExposition(t, r)
	done := make(chan string, 4)
	for g := 0; g < 4; g++ {
		go func() {
			var last string
			for i := 0; i < 50; i++ {
				mfs, err := r.Gather()
				if err != nil {
					done <- err.Error()
					return
				}
				var b strings.Builder
				for _, mf := range mfs {
					expfmt.MetricFamilyToText(&b, mf)
				}
				last = b.String()
			}
			done <- last
		}()
	}
	for g := 0; g < 4; g++ {
		if got := <-done; got != want {
			t.Fatalf("concurrent collection differs:\n%s\n---\n%s", got, want)
		}
	}
}
