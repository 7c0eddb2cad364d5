// Package signals names signals, parses rewrite tables and holds the stop
// presets of the Python servers pysup runs.
package signals

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Signal is a signal number that reads and prints as a name ("TERM").
// The zero Signal means "none": a rewrite to 0 drops the signal.
type Signal unix.Signal

// Parse reads TERM, SIGTERM, term, 15, RTMIN+2 or SIGRTMIN+2; "0" is the
// zero Signal.
func Parse(s string) (Signal, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("empty signal")
	}
	if n, err := strconv.Atoi(t); err == nil {
		if n < 0 || n > rtmax {
			return 0, fmt.Errorf("signal %d out of range 0..%d", n, rtmax)
		}
		return Signal(n), nil
	}
	t = strings.TrimPrefix(t, "SIG")
	if strings.HasPrefix(t, "RTMIN") || strings.HasPrefix(t, "RTMAX") {
		base, sign := rtmin, 1
		if strings.HasPrefix(t, "RTMAX") {
			base, sign = rtmax, -1
		}
		off := 0
		if rest := t[5:]; rest != "" {
			n, err := strconv.Atoi(strings.TrimLeft(rest, "+-"))
			if err != nil || (sign == 1 && rest[0] != '+') || (sign == -1 && rest[0] != '-') {
				return 0, fmt.Errorf("unknown signal %q", s)
			}
			off = n
		}
		n := base + sign*off
		if n < rtmin || n > rtmax {
			return 0, fmt.Errorf("signal %q out of range", s)
		}
		return Signal(n), nil
	}
	if n := unix.SignalNum("SIG" + t); n != 0 {
		return Signal(n), nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// Linux's real-time range as glibc presents it: 32 and 33 are glibc's own.
const (
	rtmin = 34
	rtmax = 64
)

// String returns the name without the SIG prefix, as users write it.
func (s Signal) String() string {
	if s == 0 {
		return "0"
	}
	if n := unix.SignalName(unix.Signal(s)); n != "" {
		return strings.TrimPrefix(n, "SIG")
	}
	if int(s) >= rtmin && int(s) <= rtmax {
		return fmt.Sprintf("RTMIN+%d", int(s)-rtmin)
	}
	return strconv.Itoa(int(s))
}

// UnmarshalText lets configuration parse signal names.
func (s *Signal) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText prints the name.
func (s Signal) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Realtime reports whether s is one of the real-time signals Forwardable
// lists.
func Realtime(s unix.Signal) bool { return int(s) >= rtmin && int(s) <= rtmax }

// Forwardable lists the signals pysup relays to the child. Left out: SIGCHLD
// (reaping), synchronous faults (SEGV, BUS, ILL, FPE, TRAP, SYS, ABRT) which
// only the kernel sends for a bug in pysup, SIGURG and SIGPIPE, which the Go
// runtime raises on its own, SIGPROF, which it keeps for its profiler, and
// the real-time signals the C libraries reserve (32 and 33 for glibc, 34
// for musl), which it never lets os/signal catch. TTIN and TTOU are
// gunicorn's "add/remove a worker" and TSTP is uWSGI's pause: caught, they
// never stop pysup itself.
func Forwardable() []unix.Signal {
	sigs := []unix.Signal{
		unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2,
		unix.SIGALRM, unix.SIGTERM, unix.SIGCONT, unix.SIGWINCH, unix.SIGIO,
		unix.SIGPWR, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGVTALRM,
		unix.SIGSTKFLT, unix.SIGTTIN, unix.SIGTTOU, unix.SIGTSTP,
	}
	for n := rtmin + 1; n <= rtmax; n++ {
		sigs = append(sigs, unix.Signal(n))
	}
	return sigs
}
