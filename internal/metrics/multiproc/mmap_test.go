package multiproc

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestTruncatedWhileRead: files truncated and written again in place
// while collections open, walk and read them, on every goroutine of a
// cold collection and in warm ones: a read past the end of the file is
// a fault, which must end in a skipped file, never in a crash.
func TestTruncatedWhileRead(t *testing.T) {
	dir := t.TempDir()
	var es []any
	for i := 0; i < 2000; i++ {
		es = append(es, fmt.Sprintf(`["c", "c_total", {"a": "%d"}, "h"]`, i), 1.0, 0.0)
	}
	data := dbFile(LayoutValue, es...)
	var paths []string
	for i := 0; i < 8; i++ {
		p := filepath.Join(dir, fmt.Sprintf("counter_%d.db", i))
		writeFile(t, dir, filepath.Base(p), data)
		paths = append(paths, p)
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			p := paths[i%len(paths)]
			os.Truncate(p, 0)
			runtime.Gosched()
			os.WriteFile(p, data, 0o644)
		}
	}()
	r := New(Options{Dir: dir})
	for i := 0; i < 300; i++ {
		if i%3 == 0 {
			r.Close() // cold again
		}
		if _, err := r.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	<-done
}

// TestOpenAllPanic: when finish panics (a bug, which net/http recovers
// from, so that the Reader is used again), the files opened ahead of it
// are unmapped and no goroutine of the collection reads its candidates
// any more.
func TestOpenAllPanic(t *testing.T) {
	dir := t.TempDir()
	var cands []candidate
	for i := 0; i < 32; i++ {
		base := fmt.Sprintf("counter_%d.db", i)
		writeFile(t, dir, base, dbFile(LayoutValue, `["c", "c_total", {}, "h"]`, 1.0, 0.0))
		n, _ := parseName(base)
		cands = append(cands, candidate{base: base, name: n})
	}
	r := New(Options{Dir: dir})
	func() {
		defer func() { recover() }()
		r.openAll(cands, func(c *candidate, o opened) {
			if o.cf != nil {
				o.cf.unmap() // what it was given is its own
			}
			time.Sleep(50 * time.Millisecond) // the others open theirs
			panic("finish")
		})
	}()
	clear(cands)
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	if n := strings.Count(string(maps), dir); n > 0 {
		t.Errorf("%d files left mapped", n)
	}
}
