package zmqlb

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

var registerOnce sync.Once

// guardedScheme registers the guarded transport for zmq4 sockets once.
func guardedScheme(t *testing.T) string {
	registerOnce.Do(func() {
		if err := zmq4.RegisterTransport("zmqlbtest", GuardedTransport("tcp", 64<<10, 16)); err != nil {
			t.Fatal(err)
		}
	})
	return "zmqlbtest://"
}

// A zmq4 REQ socket dialling through the guarded transport talks to a
// real pyzmq REP server; facing a peer that announces a 1 TiB frame it
// loses the connection instead of allocating (without the guard, zmq4's
// make([]byte, size) would kill the test binary).
func TestGuardedTransportWithZmq4Sockets(t *testing.T) {
	scheme := guardedScheme(t)
	s := startServer(t, "py", "127.0.0.1", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := zmq4.NewReq(ctx)
	defer req.Close()
	if err := req.Dial(scheme + s.addr); err != nil {
		t.Fatal(err)
	}
	if err := req.Send(zmq4.NewMsgString("hello")); err != nil {
		t.Fatal(err)
	}
	rep, err := req.Recv()
	if err != nil || string(rep.Bytes()) != "py|hello" {
		t.Fatalf("reply %q, %v", rep.Bytes(), err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write(append(greeting(), readyCmd("REP")...))
		_, _ = io.CopyN(io.Discard, c, 64) // the REQ's greeting
		huge := []byte{flagLong}
		huge = binary.BigEndian.AppendUint64(huge, 1<<40)
		_, _ = c.Write(append(huge, "x"...))
		_, _ = io.Copy(io.Discard, c)
		close(closed)
	}()
	req2 := zmq4.NewReq(ctx)
	defer req2.Close()
	if err := req2.Dial(scheme + ln.Addr().String()); err != nil && !strings.Contains(err.Error(), "EOF") {
		t.Logf("dial: %v", err)
	}
	_ = req2.Send(zmq4.NewMsgString("x"))
	go func() { _, _ = req2.Recv() }() // may never return: zmq4's Recv has no timeout
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the hostile peer's connection was not closed")
	}
}
