package zmqlb

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// replyQueue bounds the replies waiting to be written to one app
// connection; beyond it replies are dropped and counted, as a ROUTER
// drops messages to a peer over its high-water mark.
const replyQueue = 256

// appConn is one connection of the app to the frontend.
type appConn struct {
	lb      *Balancer
	w       *wireConn
	out     chan [][]byte
	ctx     context.Context
	cancel  context.CancelFunc
	stopped atomic.Bool // Drain: read no more requests
}

// accept serves the frontend until its listener closes.
func (lb *Balancer) accept() error {
	var delay time.Duration
	for {
		c, err := lb.ln.Accept()
		if err != nil {
			if lb.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// EMFILE and friends: back off instead of spinning.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			lb.m.frontend.WithLabelValues("accept").Inc()
			lb.log.Warn("frontend accept failed", "err", err, "retry_in", delay)
			if !sleep(lb.ctx, delay) {
				return nil
			}
			continue
		}
		delay = 0
		// Counted from accept, not from the end of the handshake, so that
		// peers stalling their handshakes cannot exceed the cap either.
		select {
		case lb.connSlots <- struct{}{}:
		default:
			lb.m.frontend.WithLabelValues("conn_limit").Inc()
			_ = c.Close()
			continue
		}
		lb.wg.Add(1)
		go func() {
			defer lb.wg.Done()
			defer func() { <-lb.connSlots }()
			lb.serveApp(c)
		}()
	}
}

// serveApp runs one app connection: handshake, a reader that submits
// requests and a writer that sends the replies.
func (lb *Balancer) serveApp(c net.Conn) {
	w, err := openWire(c, zmq4.Router, true, lb.lim, lb.opts.DialTimeout)
	if err != nil {
		lb.m.frontend.WithLabelValues("handshake").Inc()
		lb.log.Debug("frontend handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		_ = c.Close()
		return
	}
	ctx, cancel := context.WithCancel(lb.ctx)
	a := &appConn{lb: lb, w: w, out: make(chan [][]byte, replyQueue), ctx: ctx, cancel: cancel}
	pings := make(chan []byte, 1)
	w.g.onPing = func(p []byte) {
		select {
		case pings <- append([]byte(nil), p...):
		default:
		}
	}
	lb.mu.Lock()
	if lb.ctx.Err() != nil {
		lb.mu.Unlock()
		a.close()
		return
	}
	lb.conns[a] = struct{}{}
	if lb.draining {
		a.stopReading()
	}
	lb.m.conns.Set(float64(len(lb.conns)))
	lb.mu.Unlock()

	done := make(chan struct{})
	go func() { defer close(done); a.write(pings) }()
	a.read()
	<-done
	a.close()
	lb.mu.Lock()
	delete(lb.conns, a)
	lb.m.conns.Set(float64(len(lb.conns)))
	lb.mu.Unlock()
}

// read submits each message as a request, taking a queue slot first so
// that a full balancer stops reading (TCP pushes back on the app).
func (a *appConn) read() {
	lb := a.lb
	for {
		frames, err := a.w.recv()
		if err != nil {
			if a.stopped.Load() && a.ctx.Err() == nil {
				// Draining: keep the connection for the replies still due.
				<-a.ctx.Done()
				return
			}
			if a.ctx.Err() == nil && !errors.Is(err, io.EOF) { // EOF: the app closed its socket
				lb.m.frontend.WithLabelValues(reason(err)).Inc()
			}
			a.cancel()
			return
		}
		select {
		case lb.slots <- struct{}{}:
		case <-a.ctx.Done():
			return
		}
		lb.submit(a, frames)
	}
}

// write sends replies and PONGs, each within the timeout; a failed write
// ends the connection.
func (a *appConn) write(pings <-chan []byte) {
	timeout := a.lb.opts.Timeout
	for {
		var err error
		select {
		case <-a.ctx.Done():
			return
		case p := <-pings:
			err = a.w.pong(p, timeout)
		case frames := <-a.out:
			err = a.w.send(nil, frames, timeout)
		}
		if err != nil {
			a.lb.m.frontend.WithLabelValues("send").Inc()
			a.cancel()
			_ = a.w.close()
			return
		}
	}
}

// deliver queues a reply without ever blocking the backend's reader.
func (a *appConn) deliver(frames [][]byte) {
	if a.ctx.Err() != nil {
		a.lb.m.frontend.WithLabelValues("reply_dropped").Inc()
		return
	}
	select {
	case a.out <- frames:
	default:
		a.lb.m.frontend.WithLabelValues("reply_dropped").Inc()
	}
}

// stopReading makes the reader stop at the next message boundary.
func (a *appConn) stopReading() {
	a.stopped.Store(true)
	a.w.g.stop()
}

func (a *appConn) close() {
	a.cancel()
	_ = a.w.close()
}
