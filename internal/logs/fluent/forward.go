package fluent

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/tinylib/msgp/msgp"
)

// The Forward protocol's wire format, as Fluentd's in_forward and Fluent
// Bit's in_forward read it. A batch goes out as one PackedForward message
//
//	[tag, bin(entry entry ...), {"chunk": ID, "size": N}]
//	entry = [EventTime, record]
//	EventTime = ext type 0: big-endian u32 seconds, u32 nanoseconds
//
// whose records are the msgpack maps the pipeline already encoded, copied
// as they are. The receiver answers {"ack": ID} once the whole chunk is
// committed; one batch is in flight at a time, so an ack always names the
// batch just written.

// entryHeader is the bytes before a record in an entry: fixarray of 2, then
// the fixext8 EventTime.
const entryHeader = 1 + 2 + 8

// chunkIDs makes chunk ids unique within a process and, by their random
// prefix, across restarts.
type chunkIDs struct {
	prefix [8]byte
	n      atomic.Uint64
}

func newChunkIDs() *chunkIDs {
	c := &chunkIDs{}
	_, _ = rand.Read(c.prefix[:])
	return c
}

// next returns a fresh id: base64 of 16 bytes, as Fluentd's own clients
// send them.
func (c *chunkIDs) next() string {
	var b [16]byte
	copy(b[:], c.prefix[:])
	binary.BigEndian.PutUint64(b[8:], c.n.Add(1))
	return base64.StdEncoding.EncodeToString(b[:])
}

// appendForward appends one PackedForward message carrying entries, with
// the given chunk id, to dst.
func appendForward(dst []byte, tag, chunk string, entries []Entry) []byte {
	dst = append(dst, 0x93) // fixarray: tag, entries, option
	dst = msgp.AppendString(dst, tag)
	size := 0
	for _, e := range entries {
		size += entryHeader + len(e.Record)
	}
	dst = append(dst, 0xc6) // bin32: Fluent Bit and Fluentd accept any bin width
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	for _, e := range entries {
		dst = appendEntry(dst, e)
	}
	dst = append(dst, 0x82) // fixmap of 2
	dst = msgp.AppendString(dst, "chunk")
	dst = msgp.AppendString(dst, chunk)
	dst = msgp.AppendString(dst, "size")
	dst = msgp.AppendInt(dst, len(entries))
	return dst
}

// appendEntry appends [EventTime, record].
func appendEntry(dst []byte, e Entry) []byte {
	dst = append(dst, 0x92, 0xd7, 0x00)
	ns := e.Time.UnixNano()
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 { // before 1970: keep nanoseconds in [0, 1e9)
		sec, nsec = sec-1, nsec+1e9
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(sec))
	dst = binary.BigEndian.AppendUint32(dst, uint32(nsec))
	return append(dst, e.Record...)
}

// maxAckSize bounds what we buffer while waiting for an ack: a real ack is
// {"ack": <24-byte id>}, about 30 bytes.
const maxAckSize = 4 << 10

var (
	errShortAck = errors.New("fluent: incomplete ack")
	errNoAck    = errors.New("fluent: response without an ack")
)

// parseAck decodes one response {"ack": ID} (other keys are skipped) from
// the front of b. It returns the id and how many bytes it used; errShortAck
// when b is a valid but incomplete prefix, another error when b is not an
// ack at all.
func parseAck(b []byte) (chunk string, n int, err error) {
	rest := b
	sz, rest, err := msgp.ReadMapHeaderBytes(rest)
	if err != nil {
		return "", 0, ackErr(err)
	}
	found := false
	for range sz {
		var key []byte
		key, rest, err = readStrOrBin(rest)
		if err != nil {
			return "", 0, ackErr(err)
		}
		if string(key) == "ack" && !found {
			var v []byte
			if v, rest, err = readStrOrBin(rest); err != nil {
				return "", 0, ackErr(err)
			}
			chunk, found = string(v), true
			continue
		}
		if rest, err = msgp.Skip(rest); err != nil {
			return "", 0, ackErr(err)
		}
	}
	if !found {
		return "", 0, errNoAck
	}
	return chunk, len(b) - len(rest), nil
}

// readStrOrBin reads a str or a bin (some receivers send the id back as
// the type it arrived in) without copying.
func readStrOrBin(b []byte) (v, rest []byte, err error) {
	if len(b) > 0 && (b[0] == 0xc4 || b[0] == 0xc5 || b[0] == 0xc6) {
		return msgp.ReadBytesZC(b)
	}
	return msgp.ReadStringZC(b)
}

func ackErr(err error) error {
	if errors.Is(err, msgp.ErrShortBytes) {
		return errShortAck
	}
	return fmt.Errorf("fluent: bad ack: %w", err)
}
