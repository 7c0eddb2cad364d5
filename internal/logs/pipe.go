package logs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// pipeBufSize is asked of the kernel for each pipe (the unprivileged
// maximum by default): a bigger pipe absorbs bursts while pysup is busy and
// halves the wake-ups of a flood.
const pipeBufSize = 1 << 20

// newPipe returns a pipe whose read end is non-blocking (so pysup can use
// read deadlines through the runtime poller) and whose write end is
// blocking, as a child process expects of its stdout: Python would raise
// BlockingIOError on a non-blocking one.
func newPipe() (r, w *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("logs: pipe: %w", err)
	}
	// Best effort: fails harmlessly above /proc/sys/fs/pipe-max-size.
	_, _ = unix.FcntlInt(uintptr(p[0]), unix.F_SETPIPE_SZ, pipeBufSize)
	if err := unix.SetNonblock(p[0], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, nil, fmt.Errorf("logs: pipe: %w", err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}
