package logs

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// receiver is a Fluent Forward protocol receiver as Fluentd's in_forward
// speaks it: each message is an array of Message mode [tag, time, record,
// option?], Forward mode [tag, [[time, record]...], option?] or
// PackedForward mode [tag, bin/str of concatenated entries, option?]
// (option "compressed":"gzip" allowed); time is an integer or EventTime
// (ext type 0: big-endian u32 seconds, u32 nanoseconds); an option "chunk"
// is answered with the map {"ack": chunk}.
type receiver struct {
	t       testing.TB
	network string // "tcp" (default) or "unix"
	addr    string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	recs  []received
	n     int // records received, kept or not
	wg    sync.WaitGroup

	discard bool // count records without keeping them (benchmarks)

	// fault, when set, chooses how to answer the i-th message (from 0,
	// across connections) instead of storing it and acknowledging it.
	fault func(i int) fault
	msgs  int              // messages received
	sizes []int            // records per message, and
	opts  []map[string]any // its option, in arrival order
}

// fault is a way for the receiver to misbehave on one message.
type fault int

const (
	faultNone       fault = iota
	faultDrop             // close the connection without storing: a crash mid-batch
	faultDropAfter        // store, then close before the ack: the ack is lost
	faultNoAck            // neither store nor answer; the connection stays open
	faultGarbage          // store, then answer bytes that are not an ack
	faultWrongChunk       // store, then acknowledge another chunk
)

type received struct {
	tag    string
	time   time.Time
	record map[string]any
}

func startReceiver(t testing.TB) *receiver {
	return startReceiverOn(t, "tcp", "127.0.0.1:0")
}

func startReceiverOn(t testing.TB, network, addr string) *receiver {
	r := &receiver{t: t, network: network, addr: addr, conns: map[net.Conn]bool{}}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *receiver) start() {
	ln, err := net.Listen(r.network, r.addr)
	if err != nil {
		r.t.Fatalf("receiver listen: %v", err)
	}
	r.mu.Lock()
	r.ln, r.addr = ln, ln.Addr().String()
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns[c] = true
			r.mu.Unlock()
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				if err := r.serve(c); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, errFault) {
					r.t.Logf("receiver: %v", err)
				}
				c.Close()
				r.mu.Lock()
				delete(r.conns, c)
				r.mu.Unlock()
			}()
		}
	}()
}

// stop closes the listener and every connection, as a crashed receiver.
func (r *receiver) stop() {
	r.mu.Lock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *receiver) records() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.recs...)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *receiver) serve(c net.Conn) error {
	rd := msgp.NewReader(c)
	for {
		n, err := rd.ReadArrayHeader()
		if err != nil {
			return err
		}
		if n < 2 || n > 4 {
			return fmt.Errorf("message array of %d elements", n)
		}
		tag, err := rd.ReadString()
		if err != nil {
			return err
		}
		typ, err := rd.NextType()
		if err != nil {
			return err
		}
		var batch []received
		rest := n - 1
		switch typ {
		case msgp.ArrayType: // Forward
			m, err := rd.ReadArrayHeader()
			if err != nil {
				return err
			}
			for range m {
				e, err := readEntry(rd, tag)
				if err != nil {
					return err
				}
				batch = append(batch, e)
			}
			rest--
		case msgp.BinType, msgp.StrType: // PackedForward
			var b []byte
			if typ == msgp.BinType {
				b, err = rd.ReadBytes(nil)
			} else {
				var s string
				s, err = rd.ReadString()
				b = []byte(s)
			}
			if err != nil {
				return err
			}
			rest--
			opt, err := readOption(rd, rest)
			if err != nil {
				return err
			}
			rest = 0
			if opt["compressed"] == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(b))
				if err != nil {
					return err
				}
				if b, err = io.ReadAll(zr); err != nil {
					return err
				}
			}
			er := msgp.NewReader(bytes.NewReader(b))
			for {
				e, err := readEntry(er, tag)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return err
				}
				batch = append(batch, e)
			}
			if err := r.accept(c, batch, opt); err != nil {
				return err
			}
			continue
		default: // Message: time, record
			e, err := readEntryBody(rd, tag)
			if err != nil {
				return err
			}
			batch = append(batch, e)
			rest -= 2
		}
		opt, err := readOption(rd, rest)
		if err != nil {
			return err
		}
		if err := r.accept(c, batch, opt); err != nil {
			return err
		}
	}
}

// accept stores a message's records and acknowledges its chunk, as
// in_forward does after the records are committed.
func (r *receiver) accept(c net.Conn, batch []received, opt map[string]any) error {
	r.mu.Lock()
	f := faultNone
	if r.fault != nil {
		f = r.fault(r.msgs)
	}
	r.msgs++
	switch f {
	case faultDrop:
		r.mu.Unlock()
		return errFault
	case faultNoAck:
		r.mu.Unlock()
		_, err := io.Copy(io.Discard, c) // hold the connection until the client leaves
		return err
	}
	r.n += len(batch)
	if !r.discard {
		r.recs = append(r.recs, batch...)
		r.sizes = append(r.sizes, len(batch))
		r.opts = append(r.opts, opt)
	}
	r.mu.Unlock()
	if chunk, ok := opt["chunk"].(string); ok {
		switch f {
		case faultDropAfter:
			return errFault
		case faultGarbage:
			_, err := c.Write([]byte{0xc1, 0x00, 0xff})
			return err
		case faultWrongChunk:
			chunk = "bm90IHlvdXIgY2h1bmsK"
		}
		b := msgp.AppendMapHeader(nil, 1)
		b = msgp.AppendString(b, "ack")
		b = msgp.AppendString(b, chunk)
		if _, err := c.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// errFault ends a connection on purpose (see fault).
var errFault = errors.New("receiver: connection closed by an injected fault")

func (r *receiver) setFault(f func(i int) fault) {
	r.mu.Lock()
	r.fault = f
	r.mu.Unlock()
}

// messages returns how many records each stored message carried and its
// option, in arrival order.
func (r *receiver) messages() ([]int, []map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.sizes...), append([]map[string]any(nil), r.opts...)
}

func readOption(rd *msgp.Reader, rest uint32) (map[string]any, error) {
	if rest == 0 {
		return nil, nil
	}
	opt := map[string]any{}
	if err := rd.ReadMapStrIntf(opt); err != nil {
		return nil, fmt.Errorf("option: %w", err)
	}
	return opt, nil
}

func readEntry(rd *msgp.Reader, tag string) (received, error) {
	n, err := rd.ReadArrayHeader()
	if err != nil {
		return received{}, err
	}
	if n != 2 {
		return received{}, fmt.Errorf("entry of %d elements", n)
	}
	return readEntryBody(rd, tag)
}

func readEntryBody(rd *msgp.Reader, tag string) (received, error) {
	e := received{tag: tag}
	typ, err := rd.NextType()
	if err != nil {
		return e, err
	}
	if typ == msgp.ExtensionType {
		raw := msgp.RawExtension{}
		if err := rd.ReadExtension(&raw); err != nil {
			return e, err
		}
		if raw.Type != 0 || len(raw.Data) != 8 {
			return e, fmt.Errorf("bad EventTime ext type %d len %d", raw.Type, len(raw.Data))
		}
		e.time = time.Unix(int64(binary.BigEndian.Uint32(raw.Data)), int64(binary.BigEndian.Uint32(raw.Data[4:])))
	} else {
		s, err := rd.ReadInt64()
		if err != nil {
			return e, err
		}
		e.time = time.Unix(s, 0)
	}
	e.record = map[string]any{}
	if err := rd.ReadMapStrIntf(e.record); err != nil {
		return e, fmt.Errorf("record: %w", err)
	}
	return e, nil
}
