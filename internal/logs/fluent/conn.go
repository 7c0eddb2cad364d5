package fluent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// conn is one connection to the receiver, used by one goroutine: write a
// message, wait for its ack.
type conn struct {
	c       net.Conn
	timeout time.Duration
	buf     []byte // bytes read while waiting for an ack
}

// dial connects to the receiver within timeout (TLS when tlsConf is set).
func dial(ctx context.Context, network, address string, timeout time.Duration, tlsConf *tls.Config) (*conn, error) {
	d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	var c net.Conn
	var err error
	if tlsConf != nil {
		td := tls.Dialer{NetDialer: &d, Config: tlsConf}
		c, err = td.DialContext(ctx, network, address)
	} else {
		c, err = d.DialContext(ctx, network, address)
	}
	if err != nil {
		return nil, err
	}
	return &conn{c: c, timeout: timeout, buf: make([]byte, 0, 256)}, nil
}

var errAckMismatch = errors.New("fluent: ack for another chunk")

// send writes msg and waits for the ack of chunk, each step within the
// timeout. ctx being done aborts both at once. Any error leaves the
// connection unusable: the caller closes it and sends again on a new one.
func (c *conn) send(ctx context.Context, msg []byte, chunk string) error {
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.c.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return err
	}
	if _, err := c.c.Write(msg); err != nil {
		return c.ctxErr(ctx, fmt.Errorf("fluent: write: %w", err))
	}
	if err := c.c.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return err
	}
	got, err := c.readAck()
	if err != nil {
		return c.ctxErr(ctx, err)
	}
	if got != chunk {
		return fmt.Errorf("%w: sent %q, got %q", errAckMismatch, chunk, got)
	}
	return nil
}

func (c *conn) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readAck reads until one whole ack is buffered. Bytes after it mean the
// receiver said something we did not ask for: an error, so the connection
// is dropped and the batch sent again (a duplicate at worst).
func (c *conn) readAck() (string, error) {
	c.buf = c.buf[:0]
	for {
		if len(c.buf) == cap(c.buf) {
			if cap(c.buf) >= maxAckSize {
				return "", fmt.Errorf("fluent: ack response over %d bytes", maxAckSize)
			}
			c.buf = append(c.buf, make([]byte, cap(c.buf))...)[:len(c.buf)]
		}
		n, err := c.c.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		if n > 0 {
			chunk, used, perr := parseAck(c.buf)
			switch {
			case perr == nil && used == len(c.buf):
				return chunk, nil
			case perr == nil:
				return "", fmt.Errorf("fluent: %d unexpected bytes after the ack", len(c.buf)-used)
			case !errors.Is(perr, errShortAck):
				return "", perr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", fmt.Errorf("fluent: connection closed before the ack: %w", io.ErrUnexpectedEOF)
			}
			return "", fmt.Errorf("fluent: reading ack: %w", err)
		}
	}
}

func (c *conn) close() { _ = c.c.Close() }

// backoff is a capped exponential delay between reconnection attempts.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(lo, hi time.Duration) backoff { return backoff{min: lo, max: hi} }

// next returns the delay before the next attempt and doubles it.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	}
	d := b.cur
	b.cur = min(b.cur*2, b.max)
	return d
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits d or until ctx is done; false when ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
