package logs

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
)

// How the reader batches a trickle of small writes. A Python app with
// PYTHONUNBUFFERED=1 writes every line on its own; read at once, each line
// costs pysup a wake-up, a poll, a read and a write to stdout, several
// times the cost of enriching it, and the wake-ups slow the writer too.
// So after a read that brought less than an eighth of the pipe, the reader
// waits coalesceWait before polling again: the lines of that time wait in
// the pipe (the kernel's buffer, not pysup's memory) and come in one read.
// A line is then written to stdout at most about coalesceWait later than
// it arrived, and its time is the time of that read. A read that brought
// more than an eighth is followed by the next read at once, so a writer
// faster than the wait allows never waits on a full pipe for long. With a
// pipe smaller than coalesceMinPipe (the kernel refused the size asked)
// there is no room to wait in, and the reader reads as soon as data
// arrives.
const (
	coalesceWait    = time.Millisecond
	coalesceMinPipe = 256 << 10
)

// readLoop reads the pipes of rs on the calling goroutine until each has
// reached EOF or the pipeline is aborted, then emits everything held. One
// goroutine and one poll(2) serve both streams, so at most one thread of
// pysup sits in the poll system call and a processor stays free for the
// probe server.
func (p *Pipeline) readLoop(rs []*streamReader) {
	defer func() {
		for _, s := range rs {
			s.finish()
		}
	}()
	fds := make([]unix.PollFd, 0, len(rs)+1)
	polled := make([]*streamReader, 0, len(rs))
	batch := 0 // bytes read since the last wait
	for !p.aborted.Load() {
		fds, polled = fds[:0], polled[:0]
		timeout := -1 // milliseconds; -1 waits for data
		now := time.Now()
		for _, s := range rs {
			if s.eof {
				continue
			}
			fds = append(fds, unix.PollFd{Fd: int32(s.fd), Events: unix.POLLIN})
			polled = append(polled, s)
			if s.j.holding() {
				ms := int((s.holdDeadline().Sub(now) + time.Millisecond - 1) / time.Millisecond)
				if timeout < 0 || ms < timeout {
					timeout = max(ms, 0)
				}
			}
		}
		if len(polled) == 0 {
			return
		}
		fds = append(fds, unix.PollFd{Fd: int32(p.wake), Events: unix.POLLIN})
		if _, err := unix.Poll(fds, timeout); err != nil && err != unix.EINTR {
			p.diag.Warn("logs: waiting for the child's output failed", "error", err)
			return
		}
		drained := true
		for i, s := range polled {
			if fds[i].Revents != 0 {
				n, empty := s.readOnce()
				batch += n
				drained = drained && empty
			} else if s.j.holding() && !time.Now().Before(s.holdDeadline()) {
				s.expire()
			}
		}
		if batch == 0 || !drained {
			continue
		}
		if batch < p.coalesceBelow {
			time.Sleep(coalesceWait)
		}
		batch = 0
	}
}

// newWake returns the eventfd that abort uses to end a poll.
func newWake() (int, error) {
	return unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
}

// signalWake makes a poll on the eventfd fd return.
func signalWake(fd int) {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(fd, one[:])
}
