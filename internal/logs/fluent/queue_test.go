package fluent

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func seqEntries(from, to int) []Entry {
	var es []Entry
	for i := from; i < to; i++ {
		es = append(es, Entry{Time: time.Unix(0, int64(i)), Record: fmt.Appendf(nil, "rec-%06d", i)})
	}
	return es
}

func seqOf(e Entry) int {
	var n int
	fmt.Sscanf(string(e.Record), "rec-%06d", &n)
	return n
}

// drain takes batches until the queue is empty and checks the order.
func drain(t *testing.T, q *queue, next, end, maxN int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for next < end {
		b, ok := q.take(ctx, maxN, 1<<20, 0)
		if !ok {
			t.Fatalf("queue empty at %d, want up to %d", next, end)
		}
		if len(b) > maxN {
			t.Fatalf("batch of %d, bound %d", len(b), maxN)
		}
		for _, e := range b {
			if got := seqOf(e); got != next {
				t.Fatalf("got %d, want %d", got, next)
			}
			next++
		}
		q.done(true)
	}
	return next
}

func TestQueueBatchesMemory(t *testing.T) {
	q := newQueue(1<<20, nil, nil)
	q.push(seqEntries(0, 250))
	ctx := context.Background()
	b, _ := q.take(ctx, 100, 1<<20, 0)
	if len(b) != 100 {
		t.Fatalf("batch of %d, want 100", len(b))
	}
	q.done(false) // failed: the same batch comes back
	b2, _ := q.take(ctx, 100, 1<<20, 0)
	if len(b2) != 100 || seqOf(b2[0]) != 0 || seqOf(b2[99]) != 99 {
		t.Fatalf("retry batch %d..%d", seqOf(b2[0]), seqOf(b2[len(b2)-1]))
	}
	if mem, _, _, _ := q.counts(); mem != 250 {
		t.Errorf("counts %d, want 250 (batch in flight included)", mem)
	}
	q.done(true)
	// A byte bound: each record is 10 bytes.
	b3, _ := q.take(ctx, 100, 35, 0)
	if len(b3) != 3 || seqOf(b3[0]) != 100 {
		t.Fatalf("byte-bounded batch of %d from %d", len(b3), seqOf(b3[0]))
	}
	q.done(true)
	drain(t, q, 103, 250, 100)
}

func TestQueueLingerFillsBatch(t *testing.T) {
	q := newQueue(1<<20, nil, nil)
	q.push(seqEntries(0, 1))
	go func() {
		time.Sleep(5 * time.Millisecond)
		q.push(seqEntries(1, 10))
	}()
	b, _ := q.take(context.Background(), 10, 1<<20, time.Second)
	if len(b) != 10 {
		t.Fatalf("lingering batch of %d, want 10 (full before the linger ended)", len(b))
	}
}

// TestQueueSpoolBatchesInOrder: memory shed to disk while a memory batch
// is in flight (and lingering) keeps the order: batch, disk, memory.
func TestQueueSpoolBatchesInOrder(t *testing.T) {
	sp, err := openSpool(t.TempDir(), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	sp.segMax = 2000 // small segments: batches stop at their ends
	q := newQueue(4000, sp, nil)
	q.push(seqEntries(0, 50))
	ctx := context.Background()
	b, _ := q.take(ctx, 30, 1<<20, 0)
	if len(b) != 30 {
		t.Fatalf("batch %d", len(b))
	}
	q.push(seqEntries(50, 400)) // over the bound: memory to disk
	if _, disk, _, _ := q.counts(); disk == 0 {
		t.Fatal("nothing spooled")
	}
	q.done(true)
	next, pushed := 30, false
	ctx2, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for next < 400 {
		b, ok := q.take(ctx2, 25, 1<<20, time.Millisecond)
		if !ok {
			t.Fatalf("empty at %d", next)
		}
		for _, e := range b {
			if seqOf(e) != next {
				t.Fatalf("got %d, want %d", seqOf(e), next)
			}
			next++
		}
		q.done(true)
		if next >= 200 && !pushed {
			q.push(seqEntries(400, 450))
			pushed = true
		}
	}
	drain(t, q, 400, 450, 25)
}

// TestQueuePersistBatchInFlight: at shutdown a memory batch in flight goes
// to the spool first; a disk batch in flight is not written twice.
func TestQueuePersistBatchInFlight(t *testing.T) {
	dir := t.TempDir()
	sp, err := openSpool(dir, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	q := newQueue(1<<20, sp, nil)
	q.push(seqEntries(0, 100))
	if b, _ := q.take(context.Background(), 40, 1<<20, 0); len(b) != 40 {
		t.Fatalf("batch %d", len(b))
	}
	n, err := q.persist()
	if err != nil || n != 100 {
		t.Fatalf("persist %d %v", n, err)
	}
	sp2, err := openSpool(dir, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	q2 := newQueue(1<<20, sp2, nil)
	if b, _ := q2.take(context.Background(), 40, 1<<20, 0); len(b) != 40 || seqOf(b[0]) != 0 {
		t.Fatalf("after restart: batch of %d", len(b))
	}
	// Undelivered disk batch: persisting writes nothing again.
	if n, err := q2.persist(); err != nil || n != 0 {
		t.Fatalf("persist with a disk batch in flight: %d %v", n, err)
	}
	sp3, _ := openSpool(dir, 64<<20)
	q3 := newQueue(1<<20, sp3, nil)
	drain(t, q3, 0, 100, 40)
}
