package logs

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// pipeBufSize is asked of the kernel for each pipe (the unprivileged
// maximum by default): a bigger pipe absorbs bursts while pysup is busy and
// lets the reader batch a flood into few reads (see coalesce in read.go).
const pipeBufSize = 1 << 20

// newPipe returns a pipe for one of the child's streams and the capacity
// the kernel gave it. The write end is blocking, as a child process
// expects of its stdout (Python would raise BlockingIOError on a
// non-blocking one). The read end is a raw non-blocking descriptor that
// pysup polls itself and never hands to Go's runtime poller: the poller
// keeps every descriptor in its epoll set for good, so each write of the
// child (one per line under PYTHONUNBUFFERED) would wake a pysup thread,
// where poll(2) only listens while pysup waits.
func newPipe() (r int, w *os.File, size int, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, nil, 0, fmt.Errorf("logs: pipe: %w", err)
	}
	// Best effort: fails harmlessly above /proc/sys/fs/pipe-max-size.
	_, _ = unix.FcntlInt(uintptr(p[0]), unix.F_SETPIPE_SZ, pipeBufSize)
	size, err = unix.FcntlInt(uintptr(p[0]), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		size = 64 << 10 // the Linux default
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return -1, nil, 0, fmt.Errorf("logs: pipe: %w", err)
	}
	return p[0], os.NewFile(uintptr(p[1]), "|1"), size, nil
}

// errAgain is what rawReader.Read returns when the pipe is empty.
var errAgain = errors.New("logs: pipe empty")

// rawReader reads a non-blocking descriptor with plain read(2).
type rawReader int

func (fd rawReader) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(int(fd), b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, errAgain
		case err != nil:
			return 0, err
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}
