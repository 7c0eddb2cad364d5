// Package fluent ships log records over the Fluent Forward protocol,
// behind pysup's own bounded buffer: memory, spilling to a disk spool,
// oldest dropped and counted when both are full.
//
// The client is our own (forward.go, conn.go): records go out in batches,
// one PackedForward message per batch with a chunk id, and the next batch
// is written only once the receiver acknowledged this one. A batch that is
// not acknowledged in time (write error, timeout, closed connection, wrong
// or garbled ack) is sent again, whole, on a new connection, before any
// later record: delivery is in order and at-least-once (a lost ack means
// duplicates, never a loss). Failures are reported through pysup's
// diagnostics logger, rate-limited; nothing is written to stderr.
package fluent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Shipper.
type Config struct {
	Network   string        // "tcp" or "unix"
	Address   string        // HOST:PORT or socket path
	Tag       string        // Fluent tag of every record
	Timeout   time.Duration // dial, write and ack timeout
	Buffer    int64         // memory bound in bytes; the batch in flight (<= BatchBytes) is on top
	SpoolDir  string        // "" for memory only
	SpoolSize int64         // disk bound in bytes
	Diag      *slog.Logger  // pysup's diagnostics; nil discards
	TLS       *tls.Config   // nil: plain TCP or unix socket

	// Batching; zero values take the defaults below.
	BatchRecords int           // records per message (DefaultBatchRecords)
	BatchBytes   int           // bytes of records per message (DefaultBatchBytes)
	BatchLinger  time.Duration // wait for a batch to fill (DefaultBatchLinger); <0: none
}

// Batching defaults: a full batch is ~1,000 records of a few hundred bytes;
// a partial one leaves after a few milliseconds.
const (
	DefaultBatchRecords = 1000
	DefaultBatchBytes   = 1 << 20
	DefaultBatchLinger  = 5 * time.Millisecond
)

// Stats counts what the shipper did since it started.
type Stats struct {
	Sent       uint64 // records acknowledged by the receiver
	SendErrors uint64 // failed attempts to send a batch (each is retried)
	Dropped    uint64 // records lost to the buffer and spool bounds
	Spooled    uint64 // records written to the disk spool
	Buffered   int    // records waiting in memory, the batch in flight included
	OnDisk     int    // records waiting in the spool
}

// Result is what Close reports.
type Result struct {
	Undelivered int // records not acknowledged by the deadline (kept in the spool if any)
	Dropped     uint64
	Persisted   int // of Undelivered, moved from memory to the spool
}

// Shipper sends records, in order, to a Forward receiver.
type Shipper struct {
	cfg  Config
	diag *slog.Logger
	q    *queue
	ids  *chunkIDs

	sent, sendErrors atomic.Uint64

	// Outage reporting; used by Run's goroutine only.
	failing     uint64
	outageStart time.Time
	lastReport  time.Time

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	started bool
}

// New prepares a Shipper, recovering records a previous run left in the
// spool; Run sends them first.
func New(cfg Config) (*Shipper, error) {
	if cfg.Network != "tcp" && cfg.Network != "unix" {
		return nil, fmt.Errorf("fluent: unknown network %q", cfg.Network)
	}
	if cfg.Address == "" {
		return nil, errors.New("fluent: empty address")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 8 << 20
	}
	if cfg.BatchRecords <= 0 {
		cfg.BatchRecords = DefaultBatchRecords
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = DefaultBatchBytes
	}
	switch {
	case cfg.BatchLinger == 0:
		cfg.BatchLinger = DefaultBatchLinger
	case cfg.BatchLinger < 0:
		cfg.BatchLinger = 0
	}
	s := &Shipper{cfg: cfg, diag: cfg.Diag, ids: newChunkIDs(), done: make(chan struct{})}
	if s.diag == nil {
		s.diag = slog.New(slog.DiscardHandler)
	}
	var sp *spool
	if cfg.SpoolDir != "" {
		var err error
		if sp, err = openSpool(cfg.SpoolDir, max(cfg.SpoolSize, 1<<20)); err != nil {
			return nil, err
		}
		if n := sp.pending(); n > 0 {
			s.diag.Info("fluent: records left in the spool by an earlier run will be sent first", "records", n, "dir", cfg.SpoolDir)
		}
	}
	var lastSpoolErr atomic.Int64
	s.q = newQueue(cfg.Buffer, sp, func(err error) {
		// Rate-limit: a full disk would otherwise log at the record rate.
		if now := time.Now().Unix(); lastSpoolErr.Swap(now) != now {
			s.diag.Warn("fluent: spool write failed, dropping oldest records in memory", "error", err)
		}
	})
	return s, nil
}

// Push hands records to the shipper without blocking on the network; it
// takes ownership of each Entry's Record.
func (s *Shipper) Push(entries ...Entry) { s.q.push(entries) }

// Stats returns the counters of now.
func (s *Shipper) Stats() Stats {
	mem, disk, dropped, spooled := s.q.counts()
	return Stats{
		Sent: s.sent.Load(), SendErrors: s.sendErrors.Load(),
		Dropped: dropped, Spooled: spooled, Buffered: mem, OnDisk: disk,
	}
}

// Run sends records until ctx is done or Close has drained the queue.
func (s *Shipper) Run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		cancel()
		return
	}
	s.started, s.cancel = true, cancel
	s.mu.Unlock()
	defer close(s.done)
	defer cancel()

	var c *conn
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	bo := newBackoff(50*time.Millisecond, 5*time.Second)
	var msg []byte
	for {
		batch, ok := s.q.take(ctx, s.cfg.BatchRecords, s.cfg.BatchBytes, s.cfg.BatchLinger)
		if !ok {
			return
		}
		if c == nil {
			var err error
			if c, err = dial(ctx, s.cfg.Network, s.cfg.Address, s.cfg.Timeout, s.cfg.TLS); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.failed(fmt.Errorf("fluent: connect: %w", err), len(batch))
				if !sleep(ctx, bo.next()) {
					return
				}
				continue
			}
		}
		// A fresh chunk id for every attempt: an ack can only be for the
		// message just written on this connection.
		chunk := s.ids.next()
		msg = appendForward(msg[:0], s.cfg.Tag, chunk, batch)
		if err := c.send(ctx, msg, chunk); err != nil {
			c.close()
			c = nil
			if ctx.Err() != nil {
				return
			}
			s.q.done(false)
			s.failed(err, len(batch))
			if !sleep(ctx, bo.next()) {
				return
			}
			continue
		}
		s.q.done(true)
		s.sent.Add(uint64(len(batch)))
		bo.reset()
		s.recovered()
		if cap(msg) > 4*s.cfg.BatchBytes {
			msg = nil // one huge record: don't keep its buffer
		}
	}
}

// failed counts a failed attempt and reports it through the diagnostics
// logger: the first of an outage at once, then at most one every
// reportEvery with the count since.
func (s *Shipper) failed(err error, records int) {
	n := s.sendErrors.Add(1)
	now := time.Now()
	s.failing++
	if s.failing == 1 {
		s.outageStart = now
	}
	if s.failing == 1 || now.Sub(s.lastReport) >= reportEvery {
		s.lastReport = now
		s.diag.Warn("fluent: send failed, will resend in order",
			"error", err.Error(), "records_in_batch", records, "failures", s.failing, "failures_total", n)
	}
}

// recovered reports the end of an outage.
func (s *Shipper) recovered() {
	if s.failing == 0 {
		return
	}
	s.diag.Info("fluent: receiver reachable again, sending",
		"failures", s.failing, "outage", time.Since(s.outageStart).Round(time.Millisecond).String())
	s.failing = 0
}

const reportEvery = 10 * time.Second

// Close waits until every record is acknowledged or ctx is done, then stops
// sending. Records not delivered are counted and, with a spool, kept there
// for the next run in this pod.
func (s *Shipper) Close(ctx context.Context) (Result, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	for started {
		mem, disk, _, _ := s.q.counts()
		if mem+disk == 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-s.done:
		case <-tick.C:
			continue
		}
		break
	}
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	if started {
		<-s.done
	}
	var errs []error
	persisted, err := s.q.persist()
	if err != nil {
		errs = append(errs, fmt.Errorf("fluent: saving undelivered records to the spool: %w", err))
	}
	mem, disk, dropped, _ := s.q.counts()
	if s.q.spool != nil {
		// After persist, memory is empty unless the spool failed.
		mem, disk = 0, disk+mem
	}
	return Result{Undelivered: mem + disk, Dropped: dropped, Persisted: persisted}, errors.Join(errs...)
}
