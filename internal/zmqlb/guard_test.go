package zmqlb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/pysup/pysup/internal/discovery"
)

// greeting is a ZMTP 3.0 NULL greeting.
func greeting() []byte {
	g := make([]byte, 64)
	g[0], g[9] = 0xff, 0x7f
	g[10], g[11] = 3, 0
	copy(g[12:], "NULL")
	return g
}

// readyCmd is a READY command announcing sockType.
func readyCmd(sockType string) []byte {
	body := []byte{5}
	body = append(body, "READY"...)
	body = append(body, byte(len("Socket-Type")))
	body = append(body, "Socket-Type"...)
	body = binary.BigEndian.AppendUint32(body, uint32(len(sockType)))
	body = append(body, sockType...)
	return append([]byte{flagCommand, byte(len(body))}, body...)
}

func frame(flags byte, body []byte) []byte {
	if len(body) > 255 {
		h := []byte{flags | flagLong}
		h = binary.BigEndian.AppendUint64(h, uint64(len(body)))
		return append(h, body...)
	}
	return append([]byte{flags, byte(len(body))}, body...)
}

// rawPeer connects to addr and completes the handshake as a REQ socket
// would, leaving the connection for the test to abuse.
func rawPeer(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(append(greeting(), readyCmd("REQ")...)); err != nil {
		t.Fatal(err)
	}
	return c
}

// A hostile app announcing a 1 TiB frame costs a counted error and its
// connection, not a terabyte; the balancer keeps serving others.
func TestHostileFrontendPeer(t *testing.T) {
	s := startServer(t, "s", "127.0.0.1", 0)
	lb, reg := startLB(t, Options{MaxMessage: 64 << 10}, discovery.Static{s.endpoint()})
	waitUp(t, lb, 1)
	addr := lb.Addr().String()

	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	c := rawPeer(t, addr)
	huge := []byte{flagLong}
	huge = binary.BigEndian.AppendUint64(huge, 1<<40)
	if _, err := c.Write(huge); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("connection with a 1 TiB frame was not closed")
		}
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.TotalAlloc) - int64(before.TotalAlloc); grown > 64<<20 {
		t.Errorf("allocated %d bytes for a refused frame", grown)
	}

	// A PING after the handshake is answered with a PONG and not
	// forwarded as a request; garbage flags close the connection.
	c2 := rawPeer(t, addr)
	ping := []byte{4, 'P', 'I', 'N', 'G', 0, 10, 'x', 'y'}
	_, _ = c2.Write(frame(flagCommand, ping))
	buf := make([]byte, 64+64)
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := readUntil(t, c2, buf, []byte("PONGxy"))
	if !got {
		t.Error("no PONG for a PING")
	}
	_, _ = c2.Write([]byte{0xf0, 1, 'z'})
	if _, err := io.ReadAll(c2); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("connection with bad flags was not closed")
		}
	}

	// A frame flood of empty MORE frames is cut at MaxFrames.
	c3 := rawPeer(t, addr)
	var flood bytes.Buffer
	for range 1000 {
		flood.Write(frame(flagMore, nil))
	}
	_, _ = c3.Write(flood.Bytes())
	_ = c3.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.ReadAll(c3)

	// Others are still served.
	r := startClient(t, "--connect", lb.Endpoint(), "--count", "20").wait(t)
	if r.OK != 20 {
		t.Fatalf("after hostile peers: %+v", r)
	}
	if e := metricValue(t, reg, "pysup_zmq_frontend_errors_total", map[string]string{"reason": "too_large"}); e != 2 {
		t.Errorf("too_large errors = %v, want 2", e)
	}
	if e := metricValue(t, reg, "pysup_zmq_frontend_errors_total", map[string]string{"reason": "bad_frame"}); e != 1 {
		t.Errorf("bad_frame errors = %v, want 1", e)
	}
}

// readUntil reads from c until want appears in what was read.
func readUntil(t *testing.T, c net.Conn, buf, want []byte) bool {
	var seen []byte
	for {
		n, err := c.Read(buf)
		seen = append(seen, buf[:n]...)
		if bytes.Contains(seen, want) {
			return true
		}
		if err != nil {
			return false
		}
	}
}

// A hostile backend that replies with a huge frame or garbage is taken
// out with counted errors; a malformed READY (which makes zmq4's metadata
// parser panic) is a counted handshake failure, not a crash.
func TestHostileBackend(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if i%2 == 0 {
					// READY whose property length points past the end.
					bad := []byte{5, 'R', 'E', 'A', 'D', 'Y', 200, 'a'}
					_, _ = c.Write(append(greeting(), frame(flagCommand, bad)...))
				} else {
					_, _ = c.Write(append(greeting(), readyCmd("REP")...))
					huge := []byte{flagLong}
					huge = binary.BigEndian.AppendUint64(huge, 1<<62)
					_, _ = c.Write(huge)
				}
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	lb, reg := startLB(t, Options{MaxMessage: 1 << 20, BackoffMin: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond},
		discovery.Static{{Addr: ln.Addr().String(), Ready: true, Serving: true}})
	_ = lb
	waitFor(t, "errors counted", func() bool {
		return metricValue(t, reg, "pysup_zmq_endpoint_errors_total", map[string]string{"reason": "connect"}) >= 2 &&
			metricValue(t, reg, "pysup_zmq_endpoint_errors_total", map[string]string{"reason": "too_large"}) >= 2
	})
}

// bytesConn is a net.Conn reading a fixed stream and discarding writes,
// to run the ZMTP reading path over untrusted bytes.
type bytesConn struct {
	r *bytes.Reader
	net.Conn
}

func (c *bytesConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *bytesConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *bytesConn) Close() error                     { return nil }
func (c *bytesConn) SetDeadline(time.Time) error      { return nil }
func (c *bytesConn) SetReadDeadline(time.Time) error  { return nil }
func (c *bytesConn) SetWriteDeadline(time.Time) error { return nil }

// readAll runs stream through the guard and zmq4 and returns the messages.
func readAll(stream []byte, lim limits) (msgs [][][]byte, pings int, handshake, err error) {
	w, err := openWire(&bytesConn{r: bytes.NewReader(stream)}, zmq4.Router, true, lim, time.Second)
	if err != nil {
		return nil, 0, err, nil
	}
	w.g.onPing = func([]byte) { pings++ }
	for {
		m, err := w.recv()
		if err != nil {
			return msgs, pings, nil, err
		}
		msgs = append(msgs, m)
	}
}

func TestGuardStream(t *testing.T) {
	lim := limits{maxMessage: 1000, maxFrames: 4, msgTimeout: time.Second}
	hs := append(greeting(), readyCmd("REQ")...)
	big := bytes.Repeat([]byte("b"), 300)
	ping := frame(flagCommand, []byte{4, 'P', 'I', 'N', 'G', 0, 0})
	cases := []struct {
		name   string
		stream []byte
		msgs   int
		pings  int
		err    error
	}{
		{"valid", concat(hs, frame(flagMore, nil), frame(0, big), ping, frame(0, []byte("x"))), 2, 1, io.EOF},
		{"ping inside a message", concat(hs, frame(flagMore, nil), ping), 0, 0, ErrBadFrame},
		{"too large", concat(hs, frame(flagMore, big), frame(flagMore, big), frame(flagMore, big), frame(0, big)), 0, 0, ErrMessageTooLarge},
		{"too many frames", concat(hs, frame(flagMore, nil), frame(flagMore, nil), frame(flagMore, nil), frame(flagMore, nil), frame(0, nil)), 0, 0, ErrTooManyFrames},
		{"reserved flags", concat(hs, []byte{0x80, 0}), 0, 0, ErrBadFrame},
	}
	for _, c := range cases {
		msgs, pings, herr, err := readAll(c.stream, lim)
		if herr != nil {
			t.Errorf("%s: handshake: %v", c.name, herr)
			continue
		}
		if len(msgs) != c.msgs || pings != c.pings || !errors.Is(err, c.err) {
			t.Errorf("%s: got %d messages, %d pings, err %v; want %d, %d, %v", c.name, len(msgs), pings, err, c.msgs, c.pings, c.err)
		}
	}
	// zmq4's metadata parser panics on this READY; we get an error.
	bad := concat(greeting(), frame(flagCommand, []byte{5, 'R', 'E', 'A', 'D', 'Y', 200, 'a'}))
	if _, _, herr, _ := readAll(bad, lim); !errors.Is(herr, errPanic) && herr == nil {
		t.Errorf("malformed READY: handshake error %v", herr)
	}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// FuzzGuard feeds arbitrary bytes after a valid handshake (and, in the
// seeds, as the handshake) through the guard and zmq4: nothing panics past
// the handshake and nothing over the limits comes out.
func FuzzGuard(f *testing.F) {
	hs := append(greeting(), readyCmd("REQ")...)
	f.Add(true, concat(frame(flagMore, nil), frame(0, []byte("hello"))))
	f.Add(true, frame(flagCommand, []byte{4, 'P', 'I', 'N', 'G', 0, 0}))
	f.Add(true, []byte{flagLong, 0xff, 0, 0, 0, 0, 0, 0, 0})
	f.Add(false, hs)
	f.Add(false, concat(greeting(), frame(flagCommand, []byte{5, 'R', 'E', 'A', 'D', 'Y', 200, 'a'})))
	lim := limits{maxMessage: 4096, maxFrames: 8}
	f.Fuzz(func(t *testing.T, withHandshake bool, data []byte) {
		stream := data
		if withHandshake {
			stream = concat(hs, data)
		}
		msgs, _, herr, err := readAll(stream, lim)
		if withHandshake && herr != nil {
			t.Fatalf("valid handshake refused: %v", herr)
		}
		if errors.Is(err, errPanic) {
			t.Fatalf("panic after the handshake: %v", err)
		}
		for _, m := range msgs {
			total := 0
			for _, fr := range m {
				total += len(fr)
			}
			if total > int(lim.maxMessage) || len(m) > lim.maxFrames || len(m) == 0 {
				t.Fatalf("message over the limits came out: %d frames, %d bytes", len(m), total)
			}
		}
	})
}
