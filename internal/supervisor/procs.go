package supervisor

import (
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// proc is one line of the process table that matters to us.
type proc struct {
	pid, ppid, pgid int
	zombie          bool
}

// readProcs reads /proc/*/stat. Processes that vanish while we read are
// simply missing: that is the answer we want anyway.
func readProcs() []proc {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	out := make([]proc, 0, len(names))
	buf := make([]byte, 512)
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		p, ok := readStat(pid, buf)
		if ok {
			out = append(out, p)
		}
	}
	return out
}

func readStat(pid int, buf []byte) (proc, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	n, _ := f.Read(buf)
	f.Close()
	// The command name is in parentheses and may itself contain ") ", so
	// the fields start after the last ')'.
	b := buf[:n]
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return proc{}, false
	}
	fields := bytes.Fields(b[i+2:])
	if len(fields) < 3 {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(string(fields[1]))
	pgid, _ := strconv.Atoi(string(fields[2]))
	return proc{pid: pid, ppid: ppid, pgid: pgid, zombie: fields[0][0] == 'Z' || fields[0][0] == 'X'}, true
}

// descendants returns the live (non-zombie) processes below root. As a
// subreaper every orphan of our tree is re-parented to us, so walking down
// from root finds all of them; as PID 1 of a namespace that is every process
// but ourselves. The walk reads the kernel's per-task children lists, so it
// costs the size of our tree, not of the machine's process table.
func descendants(root int) []proc {
	if root == os.Getpid() && !hasChildren() {
		// The common case once the child is reaped: one system call
		// instead of a read of every thread's children list.
		return nil
	}
	if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/children"); err != nil {
		return descendantsByScan(root) // kernel built without CONFIG_PROC_CHILDREN
	}
	var out []proc
	buf := make([]byte, 512)
	stack := childrenOf(root)
	seen := make(map[int]bool)
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		if p, ok := readStat(pid, buf); ok && !p.zombie {
			out = append(out, p)
		}
		stack = append(stack, childrenOf(pid)...)
	}
	return out
}

// childrenOf lists the children of every thread of pid.
func childrenOf(pid int) []int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	tids, _ := d.Readdirnames(-1)
	d.Close()
	var out []int
	for _, tid := range tids {
		b, err := os.ReadFile(dir + "/" + tid + "/children")
		if err != nil {
			continue
		}
		for _, f := range bytes.Fields(b) {
			if n, err := strconv.Atoi(string(f)); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// descendantsByScan finds descendants from the parent links of the whole
// process table.
func descendantsByScan(root int) []proc {
	all := readProcs()
	children := make(map[int][]int, len(all))
	byPid := make(map[int]proc, len(all))
	for _, p := range all {
		children[p.ppid] = append(children[p.ppid], p.pid)
		byPid[p.pid] = p
	}
	var out []proc
	stack := append([]int(nil), children[root]...)
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if p := byPid[pid]; !p.zombie {
			out = append(out, p)
		}
		stack = append(stack, children[pid]...)
	}
	return out
}

// hasChildren reports whether this process has any child, running or a
// zombie, without reaping it. A process with no child has no descendant:
// orphans of its tree are re-parented to it (as PID 1 or subreaper) before
// their parent's exit can be waited for. When in doubt it says yes.
func hasChildren() bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil)
	return !errors.Is(err, unix.ECHILD)
}
