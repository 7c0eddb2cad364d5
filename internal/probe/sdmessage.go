package probe

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// maxDatagram bounds one sd_notify datagram, as systemd does (PIPE_BUF).
const maxDatagram = 4096

// maxStatus bounds the STATUS= text kept and shown in probe answers.
const maxStatus = 256

// Message is one sd_notify datagram: newline-separated KEY=VALUE
// assignments (see sd_notify(3)). Unknown keys are ignored, as systemd
// ignores them.
type Message struct {
	Ready     bool // READY=1
	Stopping  bool // STOPPING=1
	Reloading bool // RELOADING=1
	// HasStatus says STATUS= was sent; Status is its text, bounded.
	HasStatus bool
	Status    string
	MainPID   int  // MAINPID=, 0 when absent
	Watchdog  bool // WATCHDOG=1: a heartbeat
	// WatchdogTrigger is WATCHDOG=trigger: the app asks to be deemed hung.
	WatchdogTrigger bool
	// WatchdogInterval is WATCHDOG_USEC=: the app changes its heartbeat
	// interval; HasWatchdogInterval with 0 turns the watchdog off.
	HasWatchdogInterval bool
	WatchdogInterval    time.Duration
	// ExtendTimeout is EXTEND_TIMEOUT_USEC=: startup may take this much
	// longer, counted from now.
	ExtendTimeout time.Duration
}

// ParseMessage parses a datagram. Every well-formed assignment is kept even
// when others are malformed; the error lists the malformed ones.
func ParseMessage(b []byte) (Message, error) {
	var m Message
	var errs []error
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		if len(line) == 0 {
			continue
		}
		key, val, ok := bytes.Cut(line, []byte{'='})
		if !ok {
			errs = append(errs, fmt.Errorf("not KEY=VALUE: %.40q", line))
			continue
		}
		if err := m.set(string(key), val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	return m, errors.Join(errs...)
}

func (m *Message) set(key string, val []byte) error {
	flag := func(dst *bool) error {
		if string(val) != "1" {
			return fmt.Errorf("want 1, got %.40q", val)
		}
		*dst = true
		return nil
	}
	switch key {
	case "READY":
		return flag(&m.Ready)
	case "STOPPING":
		return flag(&m.Stopping)
	case "RELOADING":
		return flag(&m.Reloading)
	case "STATUS":
		m.HasStatus, m.Status = true, boundedText(val, maxStatus)
	case "MAINPID":
		n, err := strconv.Atoi(string(val))
		if err != nil || n < 1 {
			return fmt.Errorf("want a pid, got %.40q", val)
		}
		m.MainPID = n
	case "WATCHDOG":
		switch string(val) {
		case "1":
			m.Watchdog = true
		case "trigger":
			m.WatchdogTrigger = true
		default:
			return fmt.Errorf("want 1 or trigger, got %.40q", val)
		}
	case "WATCHDOG_USEC":
		d, err := usec(val)
		if err != nil {
			return err
		}
		m.HasWatchdogInterval, m.WatchdogInterval = true, d
	case "EXTEND_TIMEOUT_USEC":
		d, err := usec(val)
		if err != nil {
			return err
		}
		m.ExtendTimeout = d
	}
	return nil
}

// maxUsec keeps a duration in microseconds from overflowing time.Duration.
const maxUsec = uint64(1<<63-1) / uint64(time.Microsecond)

func usec(val []byte) (time.Duration, error) {
	n, err := strconv.ParseUint(string(val), 10, 64)
	if err != nil || n > maxUsec {
		return 0, fmt.Errorf("want microseconds, got %.40q", val)
	}
	return time.Duration(n) * time.Microsecond, nil
}

// boundedText returns at most max bytes of b as valid UTF-8.
func boundedText(b []byte, max int) string {
	b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	if len(b) > max {
		// b is valid UTF-8, so only a rune cut in two at the end can be
		// invalid now.
		b = b[:max]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
	}
	return string(b)
}
