package cgroup

import (
	"os"
	"syscall"
)

// readFile reads a small file of /proc or /sys whole, as os.ReadFile does,
// with plain system calls: an *os.File tries the runtime's poller and takes
// several more calls per file (fcntl, epoll_ctl, fstat), and pysup reads
// about seven of these files at every start. Errors are *os.PathError, so
// errors.Is(err, os.ErrNotExist) holds for a missing file.
func readFile(name string) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	// Limit files are a line; /proc/PID/cgroup and mountinfo grow the buffer.
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: name, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}
