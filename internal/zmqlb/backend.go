package zmqlb

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/go-zeromq/zmq4"
)

// queued is a request handed to a backend's writer. assign tells a stale
// copy (the request moved or finished since) from the current one.
type queued struct {
	r      *request
	assign uint64
}

// backend is one endpoint: its own connection (never a socket shared by
// several endpoints), its own writer queue, its own reconnect loop.
type backend struct {
	lb    *Balancer
	addr  string
	queue chan queued

	ctx    context.Context // ends when the endpoint is retired or the balancer closes
	cancel context.CancelFunc

	// Guarded by lb.mu.
	usable    bool // the source says it may get new requests
	removed   bool // gone from the source; closes when inflight is 0
	connected bool
	inflight  int
	killConn  context.CancelFunc // ends the current connection
}

func newBackend(lb *Balancer, addr string) *backend {
	ctx, cancel := context.WithCancel(lb.ctx)
	// Twice MaxInflight: stale copies of requests that moved or timed out
	// may still sit in the queue next to the live ones.
	return &backend{lb: lb, addr: addr, queue: make(chan queued, 2*lb.opts.MaxInflight), ctx: ctx, cancel: cancel}
}

// eligible: may receive a new request. Called with lb.mu held.
func (b *backend) eligible() bool { return b.usable && b.connected && !b.removed }

// stop ends the backend for good. Called with lb.mu held.
func (b *backend) stop() { b.cancel() }

// kill ends the current connection; run reconnects after a backoff.
// Called with lb.mu held.
func (b *backend) kill(error) {
	if b.killConn != nil {
		b.killConn()
	}
}

// run connects, serves and reconnects with exponential backoff until the
// backend is stopped.
func (b *backend) run() {
	lb := b.lb
	backoff := lb.opts.BackoffMin
	for b.ctx.Err() == nil {
		w, err := b.dial()
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			lb.m.errors.WithLabelValues(b.addr, "connect").Inc()
			lb.log.Debug("endpoint connect failed", "endpoint", b.addr, "err", err, "retry_in", backoff)
			if !sleep(b.ctx, backoff) {
				return
			}
			backoff = min(2*backoff, lb.opts.BackoffMax)
			continue
		}
		start := time.Now()
		err = b.serve(w)
		if b.ctx.Err() != nil {
			return
		}
		if !errors.Is(err, errReplyTimeout) { // already counted per request
			lb.m.errors.WithLabelValues(b.addr, reason(err)).Inc()
		}
		lb.log.Warn("endpoint connection ended; retrying", "endpoint", b.addr, "err", err, "retry_in", backoff)
		if time.Since(start) > lb.opts.BackoffMax {
			backoff = lb.opts.BackoffMin
		}
		if !sleep(b.ctx, backoff) {
			return
		}
		backoff = min(2*backoff, lb.opts.BackoffMax)
	}
}

func (b *backend) dial() (*wireConn, error) {
	network, addr := "tcp", b.addr
	if p, ok := strings.CutPrefix(b.addr, "ipc://"); ok {
		network, addr = "unix", p
	}
	d := net.Dialer{Timeout: b.lb.opts.DialTimeout}
	c, err := d.DialContext(b.ctx, network, addr)
	if err != nil {
		return nil, err
	}
	w, err := openWire(c, zmq4.Dealer, false, b.lb.lim, b.lb.opts.DialTimeout)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return w, nil
}

// serve runs one connection until it fails or is killed, then takes the
// backend out: requests not yet written move to other backends.
func (b *backend) serve(w *wireConn) error {
	lb := b.lb
	ctx, kill := context.WithCancel(b.ctx)
	defer kill()
	pings := make(chan []byte, 1)
	w.g.onPing = func(c []byte) {
		select {
		case pings <- append([]byte(nil), c...):
		default:
		}
	}
	lb.mu.Lock()
	b.connected, b.killConn = true, kill
	lb.setUp(b)
	lb.dispatchWaiting()
	lb.mu.Unlock()
	lb.log.Info("endpoint connected", "endpoint", b.addr)

	closed := make(chan struct{})
	go func() { <-ctx.Done(); _ = w.close(); close(closed) }()
	werr := make(chan error, 1)
	go func() { werr <- b.write(ctx, w, pings) }()
	var err error
	for {
		frames, rerr := w.recv()
		if rerr != nil {
			err = rerr
			break
		}
		lb.reply(b, frames)
	}
	killed := ctx.Err() != nil // by a reply timeout, or the backend's end
	kill()
	<-closed
	if e := <-werr; e != nil && !errors.Is(e, context.Canceled) {
		err = e
	}
	if killed && b.ctx.Err() == nil {
		err = errReplyTimeout
	}

	lb.mu.Lock()
	b.connected, b.killConn = false, nil
	for len(b.queue) > 0 {
		<-b.queue
	}
	lb.setUp(b)
	lb.backendFailed(b)
	lb.mu.Unlock()
	return err
}

// write sends the requests queued for this backend, each within the
// timeout, and answers PINGs.
func (b *backend) write(ctx context.Context, w *wireConn, pings <-chan []byte) error {
	lb := b.lb
	var id [8]byte
	prefix := [][]byte{id[:]}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case p := <-pings:
			if err := w.pong(p, lb.opts.Timeout); err != nil {
				return err
			}
		case q := <-b.queue:
			lb.mu.Lock()
			r := q.r
			ok := r.b == b && r.assign == q.assign && !r.sent && lb.pending[r.id] == r
			if ok {
				r.sent = true
				r.attempts++
				r.sentAt = time.Now()
				lb.m.requests.WithLabelValues(b.addr).Inc()
			}
			frames := r.frames
			binary.BigEndian.PutUint64(id[:], r.id)
			lb.mu.Unlock()
			if !ok {
				continue
			}
			if err := w.send(prefix, frames, lb.opts.Timeout); err != nil {
				lb.m.errors.WithLabelValues(b.addr, "send").Inc()
				return err
			}
		}
	}
}

// reason names an error for the errors_total metrics.
func reason(err error) string {
	switch {
	case errors.Is(err, errReplyTimeout):
		return "timeout"
	case errors.Is(err, ErrMessageTooLarge), errors.Is(err, ErrTooManyFrames):
		return "too_large"
	case errors.Is(err, ErrBadFrame), errors.Is(err, errPanic):
		return "bad_frame"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "lost"
	}
	return "recv"
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
