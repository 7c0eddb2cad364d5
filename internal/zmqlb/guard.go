package zmqlb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// ZMTP 3 framing constants (https://rfc.zeromq.org/spec/23/).
const (
	greetingSize = 64
	flagMore     = 0x01
	flagLong     = 0x02
	flagCommand  = 0x04
	// maxCommand bounds command frames after the handshake: PING carries a
	// 2-byte TTL and at most 16 bytes of context; nothing else is expected.
	maxCommand = 512
	// maxHandshake bounds the READY command's metadata.
	maxHandshake = 16 << 10
)

// Errors a guarded connection returns; the balancer counts them by kind.
var (
	ErrMessageTooLarge = errors.New("zmqlb: message exceeds the maximum size")
	ErrTooManyFrames   = errors.New("zmqlb: message has too many frames")
	ErrBadFrame        = errors.New("zmqlb: malformed ZMTP frame")
)

// limits caps what one peer may make us read and hold.
type limits struct {
	maxMessage int64         // bytes in one message, all frames together
	maxFrames  int           // frames in one message
	msgTimeout time.Duration // time from a message's first byte to its last
}

// guardConn wraps a net.Conn and parses the ZMTP byte stream as it passes,
// so that a frame whose announced size breaks the limits fails the read
// that completes its header: zmq4 then returns an error instead of
// allocating the announced size (it calls make([]byte, size) as is).
// After the handshake it also removes command frames from the stream
// (zmq4 would surface them as messages and answer PING from its reader,
// racing our writer) and reports PINGs so our writer can answer them.
//
// Read is not safe for concurrent use; one reader goroutine owns it.
type guardConn struct {
	net.Conn
	r   *bufio.Reader // batches zmq4's many small reads into few syscalls
	lim limits

	handshaken atomic.Bool  // set once zmq4.Open returned (or, with auto, after the peer's READY)
	auto       bool         // for zmq4 sockets: the handshake ends with the peer's first command (NULL security)
	onPing     func([]byte) // called with a PING's context, from Read

	greetLeft int    // greeting bytes still to pass through
	bodyLeft  uint64 // bytes of the current frame's body still to pass
	more      bool   // the current frame is not the message's last
	inMessage bool   // a message has started and not yet ended
	msgBytes  int64  // bytes of the current message so far
	frames    int    // frames of the current message so far
	out       []byte // header bytes accepted, not yet returned
	hdr       [9]byte
	dropped   atomic.Int64 // command frames removed from the stream
	stopped   atomic.Bool  // stop was called: reads end at the next message boundary
	err       error        // sticky: the stream was refused
}

// stop makes reads fail with a timeout once no message is half read, for
// a drain that must not cut a request in two.
func (g *guardConn) stop() {
	g.stopped.Store(true)
	_ = g.Conn.SetReadDeadline(time.Unix(1, 0))
}

func newGuardConn(c net.Conn, lim limits) *guardConn {
	return &guardConn{Conn: c, r: bufio.NewReaderSize(c, 16<<10), lim: lim, greetLeft: greetingSize}
}

// Read returns the next bytes of the stream, having checked every frame
// header before passing it on. A refused frame closes the connection and
// every later Read fails with the same error: the stream cannot be
// resynchronised, and zmq4's sockets must see the peer as gone.
func (g *guardConn) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.read(p)
	if err != nil && isGuardErr(err) {
		g.err = err
		_ = g.Conn.Close()
	}
	return n, err
}

func isGuardErr(err error) bool {
	return errors.Is(err, ErrMessageTooLarge) || errors.Is(err, ErrTooManyFrames) || errors.Is(err, ErrBadFrame)
}

func (g *guardConn) read(p []byte) (int, error) {
	for {
		switch {
		case len(p) == 0:
			return 0, nil
		case len(g.out) > 0:
			n := copy(p, g.out)
			g.out = g.out[n:]
			return n, nil
		case g.greetLeft > 0:
			n, err := g.r.Read(p[:min(len(p), g.greetLeft)])
			g.greetLeft -= n
			return n, err
		case g.bodyLeft > 0:
			n, err := g.r.Read(p[:min(uint64(len(p)), g.bodyLeft)])
			g.bodyLeft -= uint64(n)
			if g.bodyLeft == 0 && !g.more {
				g.endMessage()
			}
			return n, err
		}
		pass, err := g.readHeader()
		if err != nil {
			return 0, err
		}
		if !pass {
			continue // a command frame, consumed and dropped
		}
	}
}

// readHeader reads one frame header from the wire. It returns pass=false
// for a frame it consumed itself (a command after the handshake).
func (g *guardConn) readHeader() (pass bool, err error) {
	if _, err := io.ReadFull(g.r, g.hdr[:1]); err != nil {
		return false, err
	}
	if !g.inMessage && g.lim.msgTimeout > 0 && !g.stopped.Load() {
		// Idle between messages is fine; a message that has started must
		// finish in time, so a peer cannot hold a half-sent frame forever.
		_ = g.Conn.SetReadDeadline(time.Now().Add(g.lim.msgTimeout))
	}
	g.inMessage = true
	fl := g.hdr[0]
	if fl&^(flagMore|flagLong|flagCommand) != 0 {
		return false, fmt.Errorf("%w: reserved flag bits %#x", ErrBadFrame, fl)
	}
	hlen := 2
	if fl&flagLong != 0 {
		hlen = 9
	}
	if _, err := io.ReadFull(g.r, g.hdr[1:hlen]); err != nil {
		return false, err
	}
	var size uint64
	if hlen == 9 {
		size = binary.BigEndian.Uint64(g.hdr[1:9])
	} else {
		size = uint64(g.hdr[1])
	}
	isCmd := fl&flagCommand != 0
	if isCmd {
		if fl&flagMore != 0 || g.frames > 0 {
			return false, fmt.Errorf("%w: command frame inside a message", ErrBadFrame)
		}
		if !g.handshaken.Load() {
			if size > maxHandshake {
				return false, fmt.Errorf("%w: handshake command of %d bytes", ErrMessageTooLarge, size)
			}
			if g.auto {
				// NULL security: the peer's READY is its only command
				// before messages. Later ones are dropped.
				g.handshaken.Store(true)
			}
		} else {
			return false, g.dropCommand(size)
		}
	}
	g.frames++
	if g.frames > g.lim.maxFrames {
		return false, fmt.Errorf("%w: more than %d", ErrTooManyFrames, g.lim.maxFrames)
	}
	if size > uint64(g.lim.maxMessage) || g.msgBytes+int64(size) > g.lim.maxMessage {
		return false, fmt.Errorf("%w: %d bytes announced, limit %d", ErrMessageTooLarge, uint64(g.msgBytes)+size, g.lim.maxMessage)
	}
	g.msgBytes += int64(size)
	g.more = fl&flagMore != 0
	g.bodyLeft = size
	g.out = g.hdr[:hlen]
	if size == 0 && !g.more {
		g.endMessage()
	}
	return true, nil
}

// dropCommand consumes a command frame after the handshake, reporting a
// PING so that our own writer answers it.
func (g *guardConn) dropCommand(size uint64) error {
	if size > maxCommand {
		return fmt.Errorf("%w: command of %d bytes", ErrMessageTooLarge, size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(g.r, body); err != nil {
		return err
	}
	g.dropped.Add(1)
	g.endMessage()
	// PING: name length 4, "PING", 2-byte TTL, then context (up to 16 bytes).
	if len(body) >= 7 && body[0] == 4 && string(body[1:5]) == "PING" && g.onPing != nil {
		g.onPing(body[7:])
	}
	return nil
}

func (g *guardConn) endMessage() {
	g.inMessage = false
	g.msgBytes = 0
	g.frames = 0
	switch {
	case g.stopped.Load():
		_ = g.Conn.SetReadDeadline(time.Unix(1, 0))
	case g.lim.msgTimeout > 0:
		_ = g.Conn.SetReadDeadline(time.Time{})
	}
}
