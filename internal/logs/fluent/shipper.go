// Package fluent ships log records over the Fluent Forward protocol with
// fluent-logger-golang, behind pysup's own bounded buffer: memory, spilling
// to a disk spool, oldest dropped and counted when both are full. Records
// are sent one at a time, each acknowledged (RequestAck) before the next, so
// a receiver outage never reorders them: the record that failed is retried
// until it is acknowledged, then the ones after it. Delivery is
// at-least-once: a lost acknowledgement means a duplicate, never a loss.
package fluent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	fluentlogger "github.com/fluent/fluent-logger-golang/fluent"
)

// Config configures a Shipper.
type Config struct {
	Network   string        // "tcp" or "unix"
	Address   string        // HOST:PORT or socket path
	Tag       string        // Fluent tag of every record
	Timeout   time.Duration // dial, write and ack timeout
	Buffer    int64         // memory bound in bytes
	SpoolDir  string        // "" for memory only
	SpoolSize int64         // disk bound in bytes
	Diag      *slog.Logger  // pysup's diagnostics; nil discards
}

// Stats counts what the shipper did since it started.
type Stats struct {
	Sent       uint64 // records acknowledged by the receiver
	SendErrors uint64 // failed attempts (each failed record is retried)
	Dropped    uint64 // records lost to the buffer and spool bounds
	Spooled    uint64 // records written to the disk spool
	Buffered   int    // records waiting in memory, in flight included
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
	cfg    Config
	diag   *slog.Logger
	q      *queue
	logger *fluentlogger.Fluent
	result chan error

	sent, sendErrors atomic.Uint64

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
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 8 << 20
	}
	s := &Shipper{cfg: cfg, diag: cfg.Diag, result: make(chan error, 4), done: make(chan struct{})}
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
	lc := fluentlogger.Config{
		FluentNetwork:      cfg.Network,
		Timeout:            cfg.Timeout,
		WriteTimeout:       cfg.Timeout,
		ReadTimeout:        cfg.Timeout,
		Async:              true,
		ForceStopAsyncSend: true,
		RequestAck:         true,
		SubSecondPrecision: true,
		// Our own queue buffers; the library's channel holds the one record
		// in flight. Its retries stay short: on failure we wait for the
		// receiver ourselves (see waitReceiver) and resend.
		BufferLimit:  4,
		MaxRetry:     2,
		RetryWait:    100,
		MaxRetryWait: 1000,
		AsyncResultCallback: func(_ []byte, err error) {
			s.result <- err
		},
	}
	if cfg.Network == "unix" {
		lc.FluentSocketPath = cfg.Address
	} else {
		host, port, err := net.SplitHostPort(cfg.Address)
		if err != nil {
			return nil, fmt.Errorf("fluent: address %q: %w", cfg.Address, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("fluent: port %q: %w", port, err)
		}
		lc.FluentHost, lc.FluentPort = host, p
	}
	lg, err := fluentlogger.New(lc)
	if err != nil {
		return nil, fmt.Errorf("fluent: %w", err)
	}
	s.logger = lg
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

// rawRecord is an already encoded msgpack map; the logger embeds it as the
// record of a Message-mode event (it implements msgp.Marshaler).
type rawRecord []byte

// MarshalMsg appends the encoded record.
func (r rawRecord) MarshalMsg(b []byte) ([]byte, error) { return append(b, r...), nil }

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

	backoff := 100 * time.Millisecond
	for {
		e, ok := s.q.take(ctx)
		if !ok {
			return
		}
		err := s.send(ctx, e)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			s.q.done(true)
			s.sent.Add(1)
			backoff = 100 * time.Millisecond
			continue
		}
		s.q.done(false)
		n := s.sendErrors.Add(1)
		if n == 1 || n%100 == 0 {
			s.diag.Warn("fluent: send failed, will resend in order", "error", err, "failures", n)
		}
		if !s.waitReceiver(ctx, backoff) {
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Shipper) send(ctx context.Context, e Entry) error {
	if err := s.logger.PostWithTime(s.cfg.Tag, e.Time, rawRecord(e.Record)); err != nil {
		return err
	}
	select {
	case err := <-s.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitReceiver sleeps, then dials until the receiver accepts connections,
// so an outage costs a cheap dial per backoff step rather than a library
// retry cycle (and its stderr messages) per record.
func (s *Shipper) waitReceiver(ctx context.Context, backoff time.Duration) bool {
	d := net.Dialer{Timeout: s.cfg.Timeout}
	for {
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		c, err := d.DialContext(ctx, s.cfg.Network, s.cfg.Address)
		if err == nil {
			c.Close()
			return true
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

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
	if err := s.logger.Close(); err != nil {
		errs = append(errs, fmt.Errorf("fluent: closing logger: %w", err))
	}
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
