package zmqlb

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pysup/pysup/internal/discovery"
)

// Balancer spreads the requests arriving on its frontend over the
// endpoints a discovery.Source reports.
type Balancer struct {
	opts Options
	src  discovery.Source
	log  *slog.Logger
	m    *metrics
	lim  limits
	ln   net.Listener

	// slots holds one token per request accepted and not yet finished;
	// a frontend reader takes one before reading on (backpressure).
	slots chan struct{}
	// connSlots holds one token per app connection, handshaking or not.
	connSlots chan struct{}

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	backends map[string]*backend // by address, usable or draining
	order    []*backend          // backends sorted by address, for round robin
	rr       int
	pending  map[uint64]*request // sent or queued to a backend
	waiting  []*request          // no endpoint with room yet
	nextID   uint64
	conns    map[*appConn]struct{}
	draining bool
	idle     chan struct{} // closed when draining and nothing is left
}

// request is one message of the app on its way to a backend and back.
type request struct {
	id       uint64
	from     *appConn
	frames   [][]byte
	arrived  time.Time
	deadline time.Time
	b        *backend // nil while waiting
	assign   uint64   // which assignment the queued copy belongs to
	sent     bool     // written (maybe partly) to b's connection
	sentAt   time.Time
	attempts int // backends it was written to
}

// New checks opts, registers the balancer's metrics on reg (nil: none)
// and binds the frontend, so that a bad address or a port in use is
// reported before the app starts. Run serves it.
func New(opts Options, src discovery.Source, reg prometheus.Registerer, log *slog.Logger) (*Balancer, error) {
	opts = opts.withDefaults()
	if src == nil {
		return nil, errors.New("zmqlb: no endpoint source")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	network, addr, err := ParseEndpoint(opts.Frontend)
	if err != nil {
		return nil, fmt.Errorf("zmqlb: frontend: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("zmqlb: metrics: %w", err)
	}
	if network == "unix" {
		// A socket file left by a previous run would make bind fail.
		if fi, err := os.Lstat(addr); err == nil && fi.Mode()&os.ModeSocket != 0 {
			_ = os.Remove(addr)
		}
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("zmqlb: frontend: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Balancer{
		opts:      opts,
		src:       src,
		log:       log.With("part", "zmqlb"),
		m:         m,
		lim:       limits{maxMessage: opts.MaxMessage, maxFrames: opts.MaxFrames, msgTimeout: opts.Timeout},
		ln:        ln,
		slots:     make(chan struct{}, opts.Queue),
		connSlots: make(chan struct{}, opts.MaxConns),
		ctx:       ctx,
		cancel:    cancel,
		backends:  make(map[string]*backend),
		pending:   make(map[uint64]*request),
		conns:     make(map[*appConn]struct{}),
	}, nil
}

// Addr is the frontend's bound address (useful with port 0).
func (lb *Balancer) Addr() net.Addr { return lb.ln.Addr() }

// Endpoint is the frontend as a ZeroMQ endpoint the app can connect to.
func (lb *Balancer) Endpoint() string {
	a := lb.ln.Addr()
	if a.Network() == "unix" {
		return "ipc://" + a.String()
	}
	return "tcp://" + a.String()
}

// Run serves the frontend and follows the source until ctx is done or
// Close is called, then closes every connection. It returns nil after a
// Close or ctx's end, or the error that stopped it.
func (lb *Balancer) Run(ctx context.Context) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-ctx.Done():
		case <-lb.ctx.Done():
		}
		lb.shutdown()
	}()
	errc := make(chan error, 2)
	lb.wg.Add(3)
	go func() {
		defer lb.wg.Done()
		// accept returns nil when Drain closes the listener: Run goes on
		// until the replies are delivered and Close or ctx ends it.
		if err := lb.accept(); err != nil {
			errc <- err
		}
	}()
	go func() { defer lb.wg.Done(); lb.sweep() }()
	go func() {
		defer lb.wg.Done()
		err := lb.src.Run(lb.ctx, lb.setEndpoints)
		if err != nil && lb.ctx.Err() == nil && ctx.Err() == nil {
			errc <- fmt.Errorf("zmqlb: endpoints from %s: %w", lb.src, err)
		}
	}()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	case <-lb.ctx.Done():
	}
	stop()
	lb.shutdown()
	lb.wg.Wait()
	if lb.ctx.Err() != nil && errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Drain stops taking new requests (the frontend stops reading) and waits
// until every accepted request is answered or timed out, or ctx is done.
// Call Close (or cancel Run's context) afterwards.
func (lb *Balancer) Drain(ctx context.Context) error {
	lb.mu.Lock()
	if !lb.draining {
		lb.draining = true
		lb.idle = make(chan struct{})
		for c := range lb.conns {
			c.stopReading()
		}
		lb.checkIdle()
	}
	idle := lb.idle
	lb.mu.Unlock()
	_ = lb.ln.Close()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the balancer at once: requests in flight are abandoned.
func (lb *Balancer) Close() error {
	lb.shutdown()
	return nil
}

func (lb *Balancer) shutdown() {
	lb.cancel()
	_ = lb.ln.Close()
	lb.mu.Lock()
	for c := range lb.conns {
		c.close()
	}
	for _, b := range lb.backends {
		b.stop()
	}
	lb.mu.Unlock()
}

// checkIdle closes idle once draining and nothing is outstanding.
// Called with mu held.
func (lb *Balancer) checkIdle() {
	if lb.draining && len(lb.pending) == 0 && len(lb.waiting) == 0 {
		select {
		case <-lb.idle:
		default:
			close(lb.idle)
		}
	}
}

// setEndpoints applies a snapshot from the source: new endpoints start
// connecting (they get requests once connected), endpoints no longer usable
// get no new request from now on, removed ones close once their requests
// are answered or timed out.
func (lb *Balancer) setEndpoints(eps []discovery.Endpoint) {
	usable := make(map[string]bool)
	for _, e := range discovery.Usable(eps) {
		usable[e.Addr] = true
	}
	known := make(map[string]bool, len(eps))
	for _, e := range eps {
		known[e.Addr] = true
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if lb.ctx.Err() != nil {
		return
	}
	for addr := range known {
		b := lb.backends[addr]
		if b == nil {
			b = newBackend(lb, addr)
			lb.backends[addr] = b
			lb.wg.Add(1)
			go func() { defer lb.wg.Done(); b.run() }()
			lb.log.Info("endpoint added", "endpoint", addr, "usable", usable[addr])
		} else if b.usable != usable[addr] || b.removed {
			lb.log.Info("endpoint changed", "endpoint", addr, "usable", usable[addr])
		}
		b.removed = false
		b.usable = usable[addr]
		lb.setUp(b)
	}
	for addr, b := range lb.backends {
		if !known[addr] && !b.removed {
			lb.log.Info("endpoint removed", "endpoint", addr, "inflight", b.inflight)
			b.removed = true
			b.usable = false
			lb.setUp(b)
			lb.maybeRetire(b)
		}
	}
	lb.reorder()
	lb.m.endpoints.Set(float64(len(lb.backends)))
	lb.dispatchWaiting()
}

// reorder rebuilds the round-robin order. Called with mu held.
func (lb *Balancer) reorder() {
	lb.order = lb.order[:0]
	for _, b := range lb.backends {
		lb.order = append(lb.order, b)
	}
	slices.SortFunc(lb.order, func(a, b *backend) int {
		switch {
		case a.addr < b.addr:
			return -1
		case a.addr > b.addr:
			return 1
		}
		return 0
	})
}

// maybeRetire closes a removed backend once nothing is in flight on it.
// Called with mu held.
func (lb *Balancer) maybeRetire(b *backend) {
	if !b.removed || b.inflight > 0 {
		return
	}
	delete(lb.backends, b.addr)
	b.stop()
	lb.m.forget(b.addr)
	lb.reorder()
	lb.m.endpoints.Set(float64(len(lb.backends)))
}

func (lb *Balancer) setUp(b *backend) {
	v := 0.0
	if b.eligible() {
		v = 1
	}
	lb.m.up.WithLabelValues(b.addr).Set(v)
}

// pick returns the eligible backend with the fewest requests in flight,
// rotating the starting point so ties are served round robin. Called with
// mu held.
func (lb *Balancer) pick() *backend {
	n := len(lb.order)
	var best *backend
	for i := range n {
		b := lb.order[(lb.rr+i)%n]
		if !b.eligible() || b.inflight >= lb.opts.MaxInflight {
			continue
		}
		if best == nil || b.inflight < best.inflight {
			best = b
		}
	}
	if best != nil {
		lb.rr++
	}
	return best
}

// submit takes a request from the app. Its slot is already taken.
func (lb *Balancer) submit(from *appConn, frames [][]byte) {
	now := time.Now()
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.nextID++
	r := &request{id: lb.nextID, from: from, frames: frames, arrived: now, deadline: now.Add(lb.opts.Timeout)}
	if b := lb.pick(); b != nil {
		lb.assign(r, b)
		return
	}
	lb.waiting = append(lb.waiting, r)
	lb.m.waiting.Set(float64(len(lb.waiting)))
}

// assign queues r to b's writer. Called with mu held; b has room.
func (lb *Balancer) assign(r *request, b *backend) {
	r.b = b
	r.sent = false
	r.assign++
	b.inflight++
	lb.pending[r.id] = r
	lb.m.inflight.WithLabelValues(b.addr).Set(float64(b.inflight))
	select {
	case b.queue <- queued{r, r.assign}:
	default:
		// Cannot happen while queue capacity >= MaxInflight; keep the
		// request anyway: its deadline will fail it.
		lb.log.Error("backend queue full", "endpoint", b.addr)
	}
}

// dispatchWaiting moves waiting requests to backends with room, oldest
// first. Called with mu held.
func (lb *Balancer) dispatchWaiting() {
	i := 0
	for ; i < len(lb.waiting); i++ {
		r := lb.waiting[i]
		if r.from.ctx.Err() != nil {
			// The app gave up (a REQ client that timed out reconnects with
			// a new socket): no one would read the reply.
			lb.m.frontend.WithLabelValues("abandoned").Inc()
			<-lb.slots
			continue
		}
		b := lb.pick()
		if b == nil {
			break
		}
		lb.assign(r, b)
	}
	if i > 0 {
		clear(lb.waiting[:i])
		lb.waiting = lb.waiting[i:]
		lb.m.waiting.Set(float64(len(lb.waiting)))
	}
}

// reply delivers a backend's reply to the app connection that asked.
func (lb *Balancer) reply(b *backend, frames [][]byte) {
	if len(frames) == 0 || len(frames[0]) != 8 {
		lb.m.errors.WithLabelValues(b.addr, "bad_reply").Inc()
		return
	}
	id := binary.BigEndian.Uint64(frames[0])
	lb.mu.Lock()
	r := lb.pending[id]
	if r == nil || r.b != b {
		lb.mu.Unlock()
		// A reply after its request timed out, or made up by the peer.
		lb.m.errors.WithLabelValues(b.addr, "bad_reply").Inc()
		return
	}
	lb.m.latency.WithLabelValues(b.addr).Observe(time.Since(r.sentAt).Seconds())
	lb.finish(r)
	lb.mu.Unlock()
	r.from.deliver(frames[1:])
}

// finish forgets a request that is answered or given up. Called with mu held.
func (lb *Balancer) finish(r *request) {
	delete(lb.pending, r.id)
	if b := r.b; b != nil {
		b.inflight--
		lb.m.inflight.WithLabelValues(b.addr).Set(float64(b.inflight))
		lb.maybeRetire(b)
	}
	r.b = nil
	<-lb.slots
	lb.dispatchWaiting()
	lb.checkIdle()
}

// fail gives up a request with a counted reason. Called with mu held.
func (lb *Balancer) fail(r *request, reason string) {
	lb.m.frontend.WithLabelValues(reason).Inc()
	lb.finish(r)
}

// backendFailed takes b out after a connection error or a reply timeout:
// requests never written move elsewhere, written ones are retried only as
// Options.Retry allows. Called with mu held.
func (lb *Balancer) backendFailed(b *backend) {
	for _, r := range lb.pending {
		if r.b != b {
			continue
		}
		b.inflight--
		r.b = nil
		switch {
		case !r.sent || r.attempts <= lb.opts.Retry:
			delete(lb.pending, r.id)
			if r.sent {
				lb.m.frontend.WithLabelValues("retried").Inc()
			}
			lb.waiting = append(lb.waiting, r)
		default:
			lb.fail(r, "lost")
		}
	}
	b.inflight = 0
	lb.m.inflight.WithLabelValues(b.addr).Set(0)
	lb.maybeRetire(b)
	lb.dispatchWaiting()
	lb.m.waiting.Set(float64(len(lb.waiting)))
	lb.checkIdle()
}

// sweep fails requests past their deadline and takes out the backends
// that let them time out.
func (lb *Balancer) sweep() {
	tick := min(lb.opts.Timeout/4, 100*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-lb.ctx.Done():
			return
		case now := <-t.C:
			lb.expire(now)
		}
	}
}

func (lb *Balancer) expire(now time.Time) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var slow []*backend
	for _, r := range lb.pending {
		if now.Before(r.deadline) {
			continue
		}
		if b := r.b; b != nil {
			lb.m.errors.WithLabelValues(b.addr, "timeout").Inc()
			if !b.removed && !slices.Contains(slow, b) {
				slow = append(slow, b)
			}
		}
		lb.fail(r, "timeout")
	}
	kept := lb.waiting[:0]
	for _, r := range lb.waiting {
		if now.Before(r.deadline) {
			kept = append(kept, r)
			continue
		}
		lb.m.frontend.WithLabelValues("no_endpoint").Inc()
		<-lb.slots
	}
	clear(lb.waiting[len(kept):])
	lb.waiting = kept
	lb.m.waiting.Set(float64(len(lb.waiting)))
	for _, b := range slow {
		lb.log.Warn("endpoint let a request time out; taking it out", "endpoint", b.addr, "timeout", lb.opts.Timeout)
		b.kill(errReplyTimeout)
	}
	lb.checkIdle()
}

var errReplyTimeout = errors.New("reply timeout")
