package podinfo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultDir is where pysup expects the Downward API volume.
const DefaultDir = "/etc/podinfo"

// Source keeps the current Pod. The env vars are read once (they cannot
// change); the labels and annotations files are re-read when the kubelet
// updates them, which it does by swapping the volume's ..data symlink.
type Source struct {
	dir  string
	base Pod // env part
	cur  atomic.Pointer[Pod]
	sig  atomic.Pointer[string] // signature of the files last read
}

// NewSource reads the pod's metadata: env vars through getenv (os.Getenv in
// main, a map in tests) and the labels and annotations files in dir. Errors
// reading the files are returned along with a usable Source (a missing
// directory is not an error: the volume is optional).
func NewSource(getenv func(string) string, dir string) (*Source, error) {
	s := &Source{dir: dir, base: Pod{
		Name:      getenv("POD_NAME"),
		Namespace: getenv("POD_NAMESPACE"),
		UID:       getenv("POD_UID"),
		IP:        getenv("POD_IP"),
		Node:      getenv("NODE_NAME"),
		Container: getenv("CONTAINER_NAME"),
	}}
	_, err := s.Refresh()
	return s, err
}

// Pod returns the current metadata, or nil outside Kubernetes. The result
// is shared: do not modify it.
func (s *Source) Pod() *Pod {
	if s == nil {
		return nil
	}
	p := s.cur.Load()
	if !p.InKubernetes() {
		return nil
	}
	return p
}

// Refresh re-reads the files if they changed since the last read and
// reports whether the Pod changed.
func (s *Source) Refresh() (bool, error) {
	sig := s.signature()
	if old := s.sig.Load(); old != nil && *old == sig && s.cur.Load() != nil {
		return false, nil
	}
	p := s.base
	var errs []error
	for _, f := range []struct {
		name string
		dst  *map[string]string
	}{{"labels", &p.Labels}, {"annotations", &p.Annotations}} {
		data, err := os.ReadFile(filepath.Join(s.dir, f.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("podinfo: %w", err))
			continue
		}
		m, err := ParseDownwardFile(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("podinfo %s: %w", filepath.Join(s.dir, f.name), err))
		}
		if len(m) > 0 {
			*f.dst = m
		}
	}
	s.sig.Store(&sig)
	if old := s.cur.Load(); old != nil && old.equal(&p) {
		return false, errors.Join(errs...)
	}
	s.cur.Store(&p)
	return true, errors.Join(errs...)
}

// signature identifies the files' current version cheaply: the target of
// the ..data symlink the kubelet swaps atomically, plus inode, size and
// mtime of both files for volumes not managed by the kubelet (tests, plain
// directories).
func (s *Source) signature() string {
	target, _ := os.Readlink(filepath.Join(s.dir, "..data"))
	sig := target
	for _, name := range []string{"labels", "annotations"} {
		fi, err := os.Stat(filepath.Join(s.dir, name))
		if err != nil {
			sig += "|-"
			continue
		}
		var ino uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
		sig += fmt.Sprintf("|%d:%d:%d", ino, fi.Size(), fi.ModTime().UnixNano())
	}
	return sig
}

// Run polls for file updates every interval until ctx is done, calling
// onErr (if not nil) with read errors. The kubelet refreshes projected
// volumes about once a minute, so a few seconds is plenty.
func (s *Source) Run(ctx context.Context, interval time.Duration, onErr func(error)) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Refresh(); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}
