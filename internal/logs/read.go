package logs

import (
	"encoding/binary"
	"runtime"
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
// arrives. The wait is a nanosleep(2) on the reader's own thread (see
// readThread), not a runtime timer: the goroutine never parks, so it never
// hands its thread over.
const (
	coalesceWait    = time.Millisecond
	coalesceMinPipe = 256 << 10
)

// readThread runs readLoop on an OS thread of its own, scheduled as
// SCHED_BATCH, and waits for it.
//
// This keeps probe answers prompt while the child floods its output. The
// reader is pysup's only busy code: enriching 500k JSON lines a second
// takes more than half a core. Left to the Go scheduler, that work moves
// over all of pysup's threads, so whichever thread wakes for a probe
// request has just used its share of the CPU, and Linux makes it wait
// behind the child (which uses a whole core) for milliseconds. Locked to
// one thread, the work is charged to that thread alone; the threads that
// serve HTTP mostly sleep and run soon after they wake. As SCHED_BATCH the reader's thread keeps its weight (it gets as
// much CPU as before, so the child does not wait on a full pipe for it)
// but does not preempt others when it wakes: a batch of lines may wait
// the rest of a time slice. Any user may make this per-thread change;
// where it is refused the reader runs as a normal thread. The lock comes
// first: locking starts the runtime's template thread, from which later
// threads are cloned, and that must not inherit SCHED_BATCH. The thread
// ends with the goroutine, so no other goroutine ever runs on it.
func (p *Pipeline) readThread(rs []*streamReader) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with us
		if a, err := unix.SchedGetAttr(0, 0); err == nil && a.Policy == unix.SCHED_NORMAL {
			a.Policy = unix.SCHED_BATCH // Nice as it was
			_ = unix.SchedSetAttr(0, a, 0)
		}
		p.readLoop(rs)
	}()
	<-done
}

// readLoop reads the pipes of rs on the calling goroutine until each has
// reached EOF or the pipeline is aborted, then emits everything held. One
// goroutine and one poll(2) serve both streams: the thread waiting in a
// system call keeps its processor until the runtime takes it back, so
// two waiting readers could hold both processors of a 2-CPU pod.
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
			// An interrupted wait is only shorter.
			_ = unix.Nanosleep(&unix.Timespec{Nsec: int64(coalesceWait)}, nil)
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
