package multiproc

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"runtime/debug"
	"syscall"
)

// mapFile maps the first n bytes of path read-only and shared, so reads
// see the workers' writes.
func mapFile(path string, n int64) ([]byte, error) {
	// Not os.Open: a regular file gains nothing from the poller, and
	// this runs for every new file of a scrape.
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		if err == syscall.ENOENT {
			return nil, fs.ErrNotExist
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer syscall.Close(fd)
	m, err := syscall.Mmap(fd, 0, int(n), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return m, nil
}

func (cf *cachedFile) unmap() {
	if cf.mapped != nil {
		syscall.Munmap(cf.mapped)
		cf.mapped = nil
	}
}

// errFault is a read of a mapped file that the kernel refused (SIGBUS):
// the file was truncated behind our back.
var errFault = errors.New("file truncated while mapped")

// guard runs f with memory faults turned into an error instead of a
// crash: a file shrunk under a mapping (by something other than
// prometheus_client, which only grows files) must not kill PID 1.
func guard(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if re, ok := p.(runtime.Error); ok {
				if _, isFault := re.(interface{ Addr() uintptr }); isFault {
					err = errFault
					return
				}
			}
			panic(p)
		}
	}()
	return f()
}
