package zmqlb

import (
	"context"
	"net"

	"github.com/go-zeromq/zmq4/transport"
)

// GuardedTransport returns a zmq4 transport over network ("tcp" or
// "unix") whose connections refuse, before zmq4 allocates them, messages
// over maxMessage bytes or maxFrames frames, and remove ZMTP commands
// (libzmq heartbeats) after the NULL handshake. It is for code that uses
// zmq4's sockets rather than this package's connections (the balancer
// guards its own connections directly). Register it under a scheme of its
// own, once per process, and dial or bind that scheme:
//
//	zmq4.RegisterTransport("gtcp", zmqlb.GuardedTransport("tcp", 1<<20, 64))
//	sock.Dial("gtcp://127.0.0.1:5555")
//
// A refused message closes its connection; zmq4 then behaves as when the
// peer goes away.
func GuardedTransport(network string, maxMessage int64, maxFrames int) transport.Transport {
	return guardedTransport{base: transport.New(network), lim: limits{maxMessage: maxMessage, maxFrames: maxFrames}}
}

type guardedTransport struct {
	base transport.Transport
	lim  limits
}

func (t guardedTransport) wrap(c net.Conn) net.Conn {
	g := newGuardConn(c, t.lim)
	g.auto = true
	return g
}

// Dial connects and guards the connection.
func (t guardedTransport) Dial(ctx context.Context, d transport.Dialer, addr string) (net.Conn, error) {
	c, err := t.base.Dial(ctx, d, addr)
	if err != nil {
		return nil, err
	}
	return t.wrap(c), nil
}

// Listen binds; every accepted connection is guarded.
func (t guardedTransport) Listen(ctx context.Context, addr string) (net.Listener, error) {
	ln, err := t.base.Listen(ctx, addr)
	if err != nil {
		return nil, err
	}
	return guardedListener{ln, t}, nil
}

// Addr resolves an endpoint as the base transport does.
func (t guardedTransport) Addr(ep string) (string, error) { return t.base.Addr(ep) }

type guardedListener struct {
	net.Listener
	t guardedTransport
}

// Accept guards each accepted connection.
func (l guardedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.t.wrap(c), nil
}
