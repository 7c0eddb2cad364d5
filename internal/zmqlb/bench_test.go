package zmqlb

import (
	"net"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/pysup/pysup/internal/discovery"
)

// echoServer is a REP-like Go server echoing every message (envelope and
// body), to measure the balancer without Python in the way.
func echoServer(b *testing.B) discovery.Endpoint {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	lim := limits{maxMessage: 1 << 20, maxFrames: 64}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				w, err := openWire(c, zmq4.Rep, true, lim, time.Second)
				if err != nil {
					return
				}
				for {
					f, err := w.recv()
					if err != nil || w.send(nil, f, time.Second) != nil {
						return
					}
				}
			}()
		}
	}()
	return discovery.Endpoint{Addr: ln.Addr().String(), Ready: true, Serving: true}
}

// BenchmarkRoundTrip: a DEALER keeping 64 requests in flight through the
// balancer to 4 echo servers; ns/op is the time per request.
func BenchmarkRoundTrip(b *testing.B) {
	var eps discovery.Static
	for range 4 {
		eps = append(eps, echoServer(b))
	}
	lb, _ := startLB(b, Options{}, eps)
	waitUp(b, lb, 4)
	c, err := net.Dial("tcp", lb.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	w, err := openWire(c, zmq4.Dealer, false, limits{maxMessage: 1 << 20, maxFrames: 64}, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 100)
	window := make(chan struct{}, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range b.N {
			if _, err := w.recv(); err != nil {
				b.Error(err)
				return
			}
			<-window
		}
	}()
	b.ResetTimer()
	for range b.N {
		window <- struct{}{}
		if err := w.send(nil, [][]byte{{}, body}, time.Second); err != nil {
			b.Fatal(err)
		}
	}
	<-done
}
