package zmqlb

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Options configures a Balancer. Zero fields take the defaults listed.
type Options struct {
	// Frontend is where the app connects: tcp://HOST:PORT or ipc:///PATH.
	// Default tcp://127.0.0.1:5555.
	Frontend string
	// Timeout bounds a request from its arrival to its reply; a backend
	// that lets a request time out is taken out and retried with backoff.
	// It also bounds each send. Default 30s.
	Timeout time.Duration
	// MaxInflight caps the requests in flight to one endpoint. Default 64.
	MaxInflight int
	// MaxMessage caps one message's bytes, all frames together, from the
	// app or a backend; checked before the message is read. Default 1 MiB.
	MaxMessage int64
	// MaxFrames caps one message's frames. Default 64.
	MaxFrames int
	// Retry is how many times a request already sent to a backend that
	// then failed (connection lost, reply timeout) is sent to another one.
	// 0 (default): never, as REQ/REP requests need not be idempotent.
	// Requests never written to a backend are always moved.
	Retry int
	// Queue caps the requests accepted and not yet answered, over all
	// endpoints; when full the frontend stops reading (backpressure).
	// Default 4096.
	Queue int
	// MaxConns caps the app connections to the frontend. Default 1024.
	MaxConns int
	// DialTimeout bounds a backend's connect and handshake. Default 2s.
	DialTimeout time.Duration
	// BackoffMin and BackoffMax bound the delay before a failed backend
	// is dialled again; it doubles on each failure. Defaults 100ms, 10s.
	BackoffMin, BackoffMax time.Duration
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Frontend == "" {
		o.Frontend = "tcp://127.0.0.1:5555"
	}
	def(&o.Timeout, 30*time.Second)
	def(&o.DialTimeout, 2*time.Second)
	def(&o.BackoffMin, 100*time.Millisecond)
	def(&o.BackoffMax, 10*time.Second)
	defInt(&o.MaxInflight, 64)
	defInt(&o.MaxFrames, 64)
	defInt(&o.Queue, 4096)
	defInt(&o.MaxConns, 1024)
	if o.MaxMessage <= 0 {
		o.MaxMessage = 1 << 20
	}
	if o.Retry < 0 {
		o.Retry = 0
	}
	return o
}

// ParseEndpoint splits a ZeroMQ endpoint into a Go network and address:
// tcp://HOST:PORT gives ("tcp", "HOST:PORT"), ipc:///PATH ("unix", "/PATH").
func ParseEndpoint(ep string) (network, addr string, err error) {
	scheme, rest, ok := strings.Cut(ep, "://")
	if !ok {
		return "", "", fmt.Errorf("endpoint %q: want tcp://HOST:PORT or ipc:///PATH", ep)
	}
	switch scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return "", "", fmt.Errorf("endpoint %q: %w", ep, err)
		}
		if port == "" || port == "*" {
			return "", "", fmt.Errorf("endpoint %q: want a port number", ep)
		}
		if host == "*" {
			host = ""
		}
		return "tcp", net.JoinHostPort(host, port), nil
	case "ipc":
		if rest == "" {
			return "", "", errors.New("ipc endpoint: empty path")
		}
		if u, err := url.PathUnescape(rest); err == nil {
			rest = u
		}
		return "unix", rest, nil
	}
	return "", "", fmt.Errorf("endpoint %q: unsupported transport %q (want tcp or ipc)", ep, scheme)
}
