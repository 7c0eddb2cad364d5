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
	inflight *Entry
	fromDisk bool

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

// take returns the oldest undelivered entry, waiting for one until ctx is
// done. The entry stays in flight (and is returned again) until done(true).
func (q *queue) take(ctx context.Context) (Entry, bool) {
	for {
		q.mu.Lock()
		if q.inflight == nil {
			if q.spool != nil {
				if e, ok := q.spool.take(); ok {
					q.inflight, q.fromDisk = &e, true
				}
			}
			if q.inflight == nil && q.memHead < len(q.mem) {
				e := q.mem[q.memHead]
				q.mem[q.memHead] = Entry{}
				q.memHead++
				q.memBytes -= int64(len(e.Record)) + entryOverhead
				if q.memHead == len(q.mem) {
					q.resetMem()
				} else {
					q.compact()
				}
				q.inflight, q.fromDisk = &e, false
			}
		}
		if q.inflight != nil {
			e := *q.inflight
			q.mu.Unlock()
			return e, true
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-ctx.Done():
			return Entry{}, false
		}
	}
}

// done settles the entry in flight: delivered, or to be sent again.
func (q *queue) done(delivered bool) {
	q.mu.Lock()
	if delivered {
		q.inflight = nil
	}
	q.mu.Unlock()
}

// counts reports what waits: in memory (including the entry in flight) and
// on disk, and what was dropped.
func (q *queue) counts() (mem, disk int, dropped, spooled uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	mem = len(q.mem) - q.memHead
	if q.inflight != nil {
		mem++
	}
	dropped = q.dropped
	if q.spool != nil {
		disk = q.spool.pending()
		dropped += q.spool.dropped
	}
	return mem, disk, dropped, q.spooled
}

// persist moves what is left in memory (the entry in flight first) to the
// spool so the next pysup in this pod sends it; used at shutdown.
func (q *queue) persist() (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.spool == nil {
		return 0, nil
	}
	var rest []Entry
	if q.inflight != nil && !q.fromDisk {
		rest = append(rest, *q.inflight)
	}
	rest = append(rest, q.mem[q.memHead:]...)
	if len(rest) == 0 {
		return 0, q.spool.close()
	}
	// The in-flight disk entry is still in its segment file (see take), so
	// it is not written again; a memory one goes first, being the oldest.
	if err := q.spool.append(rest); err != nil {
		return 0, err
	}
	q.resetMem()
	if !q.fromDisk {
		q.inflight = nil
	}
	return len(rest), q.spool.close()
}
