package zmqlb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
)

// errPanic marks a handshake or read that made zmq4 panic: its metadata
// parser indexes past the end of a malformed READY command.
var errPanic = errors.New("zmqlb: zmq4 panicked on peer input")

// wireConn is one ZMTP connection: zmq4 reads, we write.
type wireConn struct {
	g  *guardConn
	zc *zmq4.Conn
}

// openWire performs the ZMTP greeting and NULL handshake on c as sockType
// within timeout, reading through a guard with the given limits.
func openWire(c net.Conn, sockType zmq4.SocketType, server bool, lim limits, timeout time.Duration) (_ *wireConn, err error) {
	g := newGuardConn(c, lim)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	_ = c.SetDeadline(time.Now().Add(timeout))
	zc, err := zmq4.Open(g, null.Security(), sockType, nil, server, nil)
	if err != nil {
		return nil, fmt.Errorf("zmtp handshake: %w", err)
	}
	_ = c.SetDeadline(time.Time{})
	g.handshaken.Store(true)
	return &wireConn{g: g, zc: zc}, nil
}

// recv returns the next message's frames. Command frames never reach it:
// the guard removes them from the stream.
func (w *wireConn) recv() (_ [][]byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	msg, err := w.zc.RecvMsg()
	if err != nil {
		return nil, err
	}
	if msg.Type == zmq4.CmdMsg {
		// Defence in depth: the guard drops commands after the handshake.
		return nil, fmt.Errorf("%w: command after handshake", ErrBadFrame)
	}
	return msg.Frames, nil
}

// send writes one message (frames, with prefix frames before them) in a
// single writev, within timeout. Only one goroutine may send on a
// connection: zmq4's own Conn.SendMsg writes header and body separately,
// and we never share a connection's write side.
func (w *wireConn) send(prefix, frames [][]byte, timeout time.Duration) error {
	n := len(prefix) + len(frames)
	hdrs := make([]byte, 0, 9*n)
	bufs := make(net.Buffers, 0, 2*n)
	i := 0
	add := func(f []byte) {
		i++
		var fl byte
		if i < n {
			fl |= flagMore
		}
		start := len(hdrs)
		if len(f) > 255 {
			hdrs = append(hdrs, fl|flagLong)
			hdrs = binary.BigEndian.AppendUint64(hdrs, uint64(len(f)))
		} else {
			hdrs = append(hdrs, fl, byte(len(f)))
		}
		bufs = append(bufs, hdrs[start:len(hdrs):len(hdrs)], f)
	}
	for _, f := range prefix {
		add(f)
	}
	for _, f := range frames {
		add(f)
	}
	return w.write(bufs, timeout)
}

// pong answers a PING with its context, as ZMTP 3.1 asks.
func (w *wireConn) pong(ctx []byte, timeout time.Duration) error {
	body := append([]byte{4, 'P', 'O', 'N', 'G'}, ctx...)
	return w.write(net.Buffers{{flagCommand, byte(len(body))}, body}, timeout)
}

func (w *wireConn) write(bufs net.Buffers, timeout time.Duration) error {
	_ = w.g.Conn.SetWriteDeadline(time.Now().Add(timeout))
	_, err := bufs.WriteTo(w.g.Conn)
	return err
}

func (w *wireConn) close() error { return w.g.Conn.Close() }
