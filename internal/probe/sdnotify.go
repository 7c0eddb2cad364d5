package probe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// notifyListener is the unixgram socket the child's sd_notify datagrams
// arrive on. SO_PASSCRED makes the kernel attach every sender's pid, which
// is how datagrams from outside the child's process tree are told apart.
type notifyListener struct {
	conn *net.UnixConn
	addr string // the NOTIFY_SOCKET value: a path, or @name (abstract)
	dir  string // the private directory to remove, if pysup made one
}

// listenNotify opens the socket at path; "" picks one: a fresh directory
// under the temp dir, or an abstract socket when that is not writable (a
// read-only root filesystem).
func listenNotify(path string) (*notifyListener, error) {
	l := &notifyListener{addr: path}
	if path == "" {
		dir, err := os.MkdirTemp("", "pysup-notify-")
		if err == nil {
			// A child running as another user (PYSUP_USER) must reach the
			// socket; the sender check, not file modes, keeps others out.
			err = os.Chmod(dir, 0o711)
		}
		if err == nil {
			l.dir, l.addr = dir, filepath.Join(dir, "notify.sock")
		} else {
			if dir != "" {
				_ = os.RemoveAll(dir)
			}
			l.addr = "@pysup-notify-" + strconv.Itoa(os.Getpid()) + "-" + randomHex(4)
		}
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: l.addr, Net: "unixgram"})
	if err != nil {
		l.removeDir()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	l.conn = conn
	if !strings.HasPrefix(l.addr, "@") {
		if err := os.Chmod(l.addr, 0o666); err != nil {
			l.close()
			return nil, fmt.Errorf("notify socket: %w", err)
		}
	}
	raw, err := conn.SyscallConn()
	if err == nil {
		cerr := raw.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
		})
		if cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		l.close()
		return nil, fmt.Errorf("notify socket: SO_PASSCRED: %w", err)
	}
	return l, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// datagram is one received datagram and what the kernel says about it.
type datagram struct {
	data      []byte
	pid       int  // the sender's pid from SCM_CREDENTIALS; 0 if absent
	truncated bool // larger than maxDatagram
}

// serve reads datagrams until ctx ends or the socket is closed, handing
// each to handle.
func (l *notifyListener) serve(ctx context.Context, handle func(datagram)) {
	stop := context.AfterFunc(ctx, func() { _ = l.conn.Close() })
	defer stop()
	buf := make([]byte, maxDatagram+1)
	// Room for the credentials and a few descriptors: descriptors that do
	// not fit are dropped by the kernel, the ones that do are closed below.
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(16*4))
	for {
		n, oobn, flags, _, err := l.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Not expected on a unixgram socket; do not spin on it.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		d := datagram{data: buf[:n], truncated: flags&unix.MSG_TRUNC != 0 || n > maxDatagram}
		d.pid = readCreds(oob[:oobn])
		handle(d)
	}
}

// readCreds returns the sender's pid and closes any descriptors that came
// along (sd_notify's FDSTORE=1): pysup keeps none.
func readCreds(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	pid := 0
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch m.Header.Type {
		case unix.SCM_CREDENTIALS:
			if c, err := unix.ParseUnixCredentials(&m); err == nil {
				pid = int(c.Pid)
			}
		case unix.SCM_RIGHTS:
			if fds, err := unix.ParseUnixRights(&m); err == nil {
				for _, fd := range fds {
					_ = unix.Close(fd)
				}
			}
		}
	}
	return pid
}

func (l *notifyListener) close() {
	if l.conn != nil {
		_ = l.conn.Close()
	}
	l.removeDir()
}

func (l *notifyListener) removeDir() {
	if l.dir != "" {
		_ = os.RemoveAll(l.dir)
	}
}

// maxTreeDepth bounds the walk up the process tree; real trees are shallow.
const maxTreeDepth = 64

// inTree reports whether pid is one of roots or a descendant of one,
// following parent pids in /proc (procDir). A process that already exited
// cannot be placed and is not in the tree.
func inTree(procDir string, pid int, roots ...int) bool {
	for range maxTreeDepth {
		if pid <= 1 {
			return false
		}
		for _, r := range roots {
			if r > 0 && pid == r {
				return true
			}
		}
		ppid, err := parentPID(procDir, pid)
		if err != nil {
			return false
		}
		pid = ppid
	}
	return false
}

// parentPID reads the ppid field of /proc/PID/stat. The command name (field
// 2) may hold spaces and parentheses, so fields are counted after its last
// closing parenthesis.
func parentPID(procDir string, pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("pid %d: malformed stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, fmt.Errorf("pid %d: malformed stat", pid)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, fmt.Errorf("pid %d: malformed stat: %w", pid, err)
	}
	return ppid, nil
}
