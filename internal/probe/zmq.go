package probe

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/transport"
)

// zmqProbe passes when the app's ZeroMQ socket answers one request: a
// fresh REQ socket per attempt (a REQ that timed out is stuck waiting for
// its reply), dial, send the spec's frames, wait for any reply, close.
//
// zmq4's Recv has no timeout and its ZMTP handshake none either, so the
// attempt runs in a goroutine that closing the socket unblocks, over a
// guarded transport whose connections carry the attempt's deadline and
// refuse oversized frames (zmq4 allocates whatever size a peer announces).
func zmqProbe(s Spec) probeFunc {
	ep := guardedTransport + "://" + s.Addr
	frames := make([][]byte, len(s.Send))
	for i, f := range s.Send {
		frames[i] = []byte(f)
	}
	return func(ctx context.Context) error {
		if err := registerGuarded(); err != nil {
			return err
		}
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		sock := zmq4.NewReq(sctx,
			zmq4.WithDialerMaxRetries(0),
			// zmq4 logs to stderr by default, which would break pysup's JSON log lines.
			zmq4.WithLogger(log.New(io.Discard, "", 0)),
		)
		done := make(chan error, 1)
		go func() {
			done <- zmqRoundTrip(sock, ep, frames)
		}()
		select {
		case err := <-done:
			_ = sock.Close()
			return err
		case <-ctx.Done():
			_ = sock.Close()
			// Closing unblocks Dial, Send and Recv; do not let a surprise
			// there stall the check loop.
			select {
			case <-done:
			case <-time.After(time.Second):
			}
			return fmt.Errorf("no reply: %w", ctx.Err())
		}
	}
}

func zmqRoundTrip(sock zmq4.Socket, ep string, frames [][]byte) error {
	if err := sock.Dial(ep); err != nil {
		return err
	}
	msg := zmq4.NewMsgFrom(frames...)
	send := sock.Send
	if len(frames) > 1 {
		send = sock.SendMulti
	}
	if err := send(msg); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if _, err := sock.Recv(); err != nil {
		return fmt.Errorf("no reply: %w", err)
	}
	return nil
}

// guardedTransport is the zmq4 transport name of probe connections.
const guardedTransport = "pysup-probe-tcp"

// maxZMQFrame caps one frame a probed app may send; a reply to a health
// request is small.
const maxZMQFrame = 1 << 20

var (
	registerOnce sync.Once
	registerErr  error
)

// registerGuarded registers the guarded transport. zmq4 keeps transports
// in a process-wide registry, hence the once.
func registerGuarded() error {
	registerOnce.Do(func() {
		registerErr = zmq4.RegisterTransport(guardedTransport, guarded{tcp: transport.New("tcp")})
	})
	return registerErr
}

// guarded is TCP whose connections hold the dial context's deadline for
// their whole life (the ZMTP handshake included) and fail a frame whose
// announced size exceeds maxZMQFrame before zmq4 allocates it.
type guarded struct{ tcp transport.Transport }

func (g guarded) Dial(ctx context.Context, d transport.Dialer, addr string) (net.Conn, error) {
	conn, err := g.tcp.Dial(ctx, d, addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return &cappedConn{Conn: conn, max: maxZMQFrame, greeting: zmtpGreeting}, nil
}

func (g guarded) Listen(ctx context.Context, addr string) (net.Listener, error) {
	return nil, fmt.Errorf("%s: dial only", guardedTransport)
}

func (g guarded) Addr(ep string) (string, error) { return g.tcp.Addr(ep) }

// zmtpGreeting is the size of a ZMTP 3 greeting; frames follow it.
const zmtpGreeting = 64

// cappedConn follows the ZMTP frame headers in what it reads.
type cappedConn struct {
	net.Conn
	max      uint64
	greeting int     // greeting bytes still to pass
	body     uint64  // body bytes of the current frame still to pass
	hdr      [9]byte // frame header being read: flags, then a 1 or 8 byte size
	hdrLen   int
}

func (c *cappedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if serr := c.scan(p[:n]); serr != nil {
		// Fail before zmq4 sees the size it would allocate.
		return 0, serr
	}
	return n, err
}

// scan advances the frame parser over b.
func (c *cappedConn) scan(b []byte) error {
	for len(b) > 0 {
		switch {
		case c.greeting > 0:
			k := min(c.greeting, len(b))
			c.greeting -= k
			b = b[k:]
		case c.body > 0:
			k := min(c.body, uint64(len(b)))
			c.body -= k
			b = b[k:]
		default:
			c.hdr[c.hdrLen] = b[0]
			c.hdrLen++
			b = b[1:]
			need := 2
			if c.hdr[0]&0x02 != 0 { // long frame: 8-byte size
				need = 9
			}
			if c.hdrLen < need {
				continue
			}
			size := uint64(c.hdr[1])
			if need == 9 {
				size = binary.BigEndian.Uint64(c.hdr[1:9])
			}
			c.hdrLen = 0
			if size > c.max {
				return fmt.Errorf("zmq peer announced a %d byte frame (limit %d)", size, c.max)
			}
			c.body = size
		}
	}
	return nil
}
