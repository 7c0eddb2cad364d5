package fluent

import (
	"context"
	"sync"
	"time"
)

// Entry is one record waiting to be shipped: its event time and its
// msgpack-encoded map.
type Entry struct {
	Time   time.Time
	Record []byte
}

// queue is the bounded FIFO between the stream readers and the sender:
// memory first; when the memory bound is passed, everything in memory moves
// to the tail of the disk spool (so disk always holds the older records and
// sending disk-then-memory keeps the order). Without a spool, the oldest
// records in memory are dropped instead. Push never blocks on the network.
type queue struct {
	mu       sync.Mutex
	mem      []Entry
	memHead  int
	memBytes int64
	memMax   int64
	spool    *spool // nil without a spool directory

	// The batch in flight, taken from the spool (fromDisk) or memory. A
	// disk batch is also still in its segment file until delivered.
	inflight      []Entry
	inflightBytes int
	fromDisk      bool

	wake chan struct{}

	dropped     uint64 // memory-only drops; the spool counts its own
	spooled     uint64
	spoolErrors uint64
	onSpoolErr  func(error)
}

func newQueue(memMax int64, sp *spool, onSpoolErr func(error)) *queue {
	return &queue{memMax: memMax, spool: sp, wake: make(chan struct{}, 1), onSpoolErr: onSpoolErr}
}

const entryOverhead = 48 // slice header, time, bookkeeping: keeps tiny records honest

// push appends entries (taking ownership of their Record slices).
func (q *queue) push(entries []Entry) {
	q.mu.Lock()
	for _, e := range entries {
		q.mem = append(q.mem, e)
		q.memBytes += int64(len(e.Record)) + entryOverhead
	}
	if q.memBytes > q.memMax {
		q.shed()
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// shed brings memory back under its bound: to disk, or by dropping the
// oldest records. Called with mu held.
func (q *queue) shed() {
	live := q.mem[q.memHead:]
	if q.spool != nil {
		if err := q.spool.append(live); err == nil {
			q.spooled += uint64(len(live))
			q.resetMem()
			return
		} else {
			q.spoolErrors++
			if q.onSpoolErr != nil {
				q.onSpoolErr(err)
			}
		}
	}
	for q.memBytes > q.memMax && q.memHead < len(q.mem) {
		q.memBytes -= int64(len(q.mem[q.memHead].Record)) + entryOverhead
		q.mem[q.memHead] = Entry{}
		q.memHead++
		q.dropped++
	}
	q.compact()
}

func (q *queue) resetMem() {
	clear(q.mem)
	q.mem, q.memHead, q.memBytes = q.mem[:0], 0, 0
}

// compact reclaims the consumed front of mem once it dominates.
func (q *queue) compact() {
	if q.memHead > 1024 && q.memHead*2 > len(q.mem) {
		n := copy(q.mem, q.mem[q.memHead:])
		clear(q.mem[n:])
		q.mem, q.memHead = q.mem[:n], 0
	}
}

// take returns the oldest undelivered records as one batch of at most
// maxN records and about maxBytes (at least one record), waiting for the
// first until ctx is done. A batch is wholly from disk or wholly from
// memory; from memory, a batch that is not full waits up to linger for
// more records. The batch stays in flight, and is returned again, until
// done(true). The returned slice is only valid until then.
func (q *queue) take(ctx context.Context, maxN, maxBytes int, linger time.Duration) ([]Entry, bool) {
	for {
		q.mu.Lock()
		if len(q.inflight) == 0 {
			q.fill(maxN, maxBytes)
		}
		if len(q.inflight) > 0 {
			if !q.fromDisk && linger > 0 && !q.full(maxN, maxBytes) {
				q.mu.Unlock()
				q.linger(ctx, maxN, maxBytes, linger)
				q.mu.Lock()
			}
			b := q.inflight
			q.mu.Unlock()
			return b, true
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// fill starts a batch in flight: from the spool when it holds records
// (they are the oldest), else from memory. Called with mu held.
func (q *queue) fill(maxN, maxBytes int) {
	q.inflight, q.inflightBytes = q.inflight[:0], 0
	if q.spool != nil {
		q.inflight = q.spool.takeSome(q.inflight, maxN, maxBytes)
		if len(q.inflight) > 0 {
			q.fromDisk = true
			for _, e := range q.inflight {
				q.inflightBytes += len(e.Record)
			}
			return
		}
	}
	q.fromDisk = false
	q.more(maxN, maxBytes)
}

// more moves records from memory to the batch in flight until it is full.
// Called with mu held, and only while the spool is empty: records on disk
// are older than those in memory.
func (q *queue) more(maxN, maxBytes int) {
	for q.memHead < len(q.mem) && !q.full(maxN, maxBytes) {
		e := q.mem[q.memHead]
		if len(q.inflight) > 0 && q.inflightBytes+len(e.Record) > maxBytes {
			break
		}
		q.mem[q.memHead] = Entry{}
		q.memHead++
		q.memBytes -= int64(len(e.Record)) + entryOverhead
		q.inflight = append(q.inflight, e)
		q.inflightBytes += len(e.Record)
	}
	if q.memHead == len(q.mem) {
		q.resetMem()
	} else {
		q.compact()
	}
}

func (q *queue) full(maxN, maxBytes int) bool {
	return len(q.inflight) >= maxN || q.inflightBytes >= maxBytes
}

// linger lets a batch from memory grow for up to d, as records arrive.
func (q *queue) linger(ctx context.Context, maxN, maxBytes int, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-q.wake:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
		q.mu.Lock()
		if q.spool != nil && q.spool.pending() > 0 {
			// Memory was shed to disk meanwhile: what is left in memory
			// now is newer than the disk, so the batch ends here.
			q.mu.Unlock()
			return
		}
		q.more(maxN, maxBytes)
		full := q.full(maxN, maxBytes)
		q.mu.Unlock()
		if full {
			return
		}
	}
}

// done settles the batch in flight: delivered, or to be sent again.
func (q *queue) done(delivered bool) {
	q.mu.Lock()
	if delivered {
		clear(q.inflight)
		q.inflight, q.inflightBytes = q.inflight[:0], 0
	}
	q.mu.Unlock()
}

// counts reports what waits: in memory (including the entry in flight) and
// on disk, and what was dropped.
func (q *queue) counts() (mem, disk int, dropped, spooled uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	mem = len(q.mem) - q.memHead + len(q.inflight)
	dropped = q.dropped
	if q.spool != nil {
		disk = q.spool.pending()
		dropped += q.spool.dropped
	}
	return mem, disk, dropped, q.spooled
}

// persist moves what is left in memory (the batch in flight first) to the
// spool so the next pysup in this pod sends it; used at shutdown.
func (q *queue) persist() (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.spool == nil {
		return 0, nil
	}
	var rest []Entry
	if !q.fromDisk {
		rest = append(rest, q.inflight...)
	}
	rest = append(rest, q.mem[q.memHead:]...)
	if len(rest) == 0 {
		return 0, q.spool.close()
	}
	// An in-flight disk batch is still in its segment file (see
	// spool.takeSome), so it is not written again; a memory one goes
	// first, being the oldest.
	if err := q.spool.append(rest); err != nil {
		return 0, err
	}
	q.resetMem()
	if !q.fromDisk {
		clear(q.inflight)
		q.inflight, q.inflightBytes = q.inflight[:0], 0
	}
	return len(rest), q.spool.close()
}
