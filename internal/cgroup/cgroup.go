// Package cgroup reads the CPU quota and memory limit of the container
// pysup runs in, from cgroup v2, v1, or a hybrid of both (v1 controllers
// beside a controller-less v2 hierarchy, as systemd's hybrid mode mounts
// them), so the app's workers can match the pod's limits rather than the
// node's core count.
package cgroup

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Limits are the limits that apply to a process: the tightest of its
// cgroup and every ancestor up to the hierarchy's root, as the kernel
// enforces them.
type Limits struct {
	// CPU is the CPU bandwidth quota in cores (quota / period); 0: none.
	CPU float64
	// Memory is the memory limit in bytes; 0: none.
	Memory int64
	// CPUFrom and MemoryFrom say which file set each limit ("" when none),
	// and CPUVersion / MemoryVersion which hierarchy was read ("v1", "v2",
	// "" when the controller was not found).
	CPUFrom, MemoryFrom       string
	CPUVersion, MemoryVersion string
}

// v1Unlimited is the smallest memory.limit_in_bytes treated as no limit:
// v1 reports "unlimited" as PAGE_COUNTER_MAX pages (9223372036854771712 on
// 64-bit kernels), and anything near it is not a real limit.
const v1Unlimited = 1 << 62

// Read returns the limits of process pid (0: this process), reading
// /proc/PID/cgroup, /proc/PID/mountinfo and the cgroup files under fsRoot
// ("/" on a real system; a fixture directory in tests). A controller that
// is not mounted is no limit, not an error.
func Read(fsRoot string, pid int) (Limits, error) {
	proc := "self"
	if pid > 0 {
		proc = strconv.Itoa(pid)
	}
	cg, err := readFile(filepath.Join(fsRoot, "proc", proc, "cgroup"))
	if err != nil {
		return Limits{}, err
	}
	mi, err := readFile(filepath.Join(fsRoot, "proc", proc, "mountinfo"))
	if err != nil {
		return Limits{}, err
	}
	memberships := parseProcCgroup(cg)
	mounts := parseMountinfo(mi)
	var l Limits
	var errs []error
	if dirs, v, err := locate("cpu", memberships, mounts, fsRoot); err != nil {
		errs = append(errs, fmt.Errorf("cpu: %w", err))
	} else if dirs != nil {
		l.CPUVersion = v
		l.CPU, l.CPUFrom, err = minOver(dirs, v, readCPU)
		if err != nil {
			errs = append(errs, fmt.Errorf("cpu: %w", err))
		}
	}
	if dirs, v, err := locate("memory", memberships, mounts, fsRoot); err != nil {
		errs = append(errs, fmt.Errorf("memory: %w", err))
	} else if dirs != nil {
		l.MemoryVersion = v
		var mem float64
		mem, l.MemoryFrom, err = minOver(dirs, v, readMemory)
		if err != nil {
			errs = append(errs, fmt.Errorf("memory: %w", err))
		}
		l.Memory = int64(mem)
	}
	return l, errors.Join(errs...)
}

// Dirs are the cgroup directories of a process, for the cpu and memory
// controllers, and which hierarchy each is in ("v1", "v2"; "" when the
// controller is not mounted).
type Dirs struct {
	CPU, CPUVersion       string
	Memory, MemoryVersion string
}

// Locate returns the cgroup directories of process pid (0: this process)
// under fsRoot.
func Locate(fsRoot string, pid int) (Dirs, error) {
	proc := "self"
	if pid > 0 {
		proc = strconv.Itoa(pid)
	}
	cg, err := readFile(filepath.Join(fsRoot, "proc", proc, "cgroup"))
	if err != nil {
		return Dirs{}, err
	}
	mi, err := readFile(filepath.Join(fsRoot, "proc", proc, "mountinfo"))
	if err != nil {
		return Dirs{}, err
	}
	ms, mounts := parseProcCgroup(cg), parseMountinfo(mi)
	var d Dirs
	cpu, v, err := locate("cpu", ms, mounts, fsRoot)
	if err != nil {
		return d, err
	}
	if cpu != nil {
		d.CPU, d.CPUVersion = cpu[0], v
	}
	mem, v, err := locate("memory", ms, mounts, fsRoot)
	if err != nil {
		return d, err
	}
	if mem != nil {
		d.Memory, d.MemoryVersion = mem[0], v
	}
	return d, nil
}

// membership is one line of /proc/PID/cgroup.
type membership struct {
	controllers []string // empty for the v2 hierarchy
	path        string
}

func parseProcCgroup(b []byte) []membership {
	var out []membership
	for line := range strings.Lines(string(b)) {
		// hierarchy-ID:controller-list:path; the path may contain ':'.
		_, rest, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		if !ok {
			continue
		}
		controllers, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		m := membership{path: path}
		if controllers != "" {
			m.controllers = strings.Split(controllers, ",")
		}
		out = append(out, m)
	}
	return out
}

// mount is a cgroup or cgroup2 line of mountinfo.
type mount struct {
	root, point string
	v2          bool
	options     []string // superblock options: the v1 controllers are there
}

func parseMountinfo(b []byte) []mount {
	var out []mount
	for line := range strings.Lines(string(b)) {
		// Only " - " separates the optional fields from the filesystem
		// type (mountinfo escapes spaces in paths), so a line without
		// " - cgroup" is no cgroup mount: skip it without splitting.
		if !strings.Contains(line, " - cgroup") {
			continue
		}
		// id parent maj:min root point opts [optional...] - fstype source superopts
		f := strings.Fields(line)
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+1 >= len(f) {
			continue
		}
		fstype := f[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		m := mount{root: unescape(f[3]), point: unescape(f[4]), v2: fstype == "cgroup2"}
		if sep+3 < len(f) {
			m.options = strings.Split(f[sep+3], ",")
		}
		out = append(out, m)
	}
	return out
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// locate finds the directories holding controller's files for the
// process: its own cgroup first, then each ancestor up to the mount. A v1
// hierarchy with the controller wins (hybrid systems keep cpu and memory
// there); else the v2 hierarchy. Nil dirs: the controller is not mounted.
func locate(controller string, ms []membership, mounts []mount, fsRoot string) ([]string, string, error) {
	for _, m := range ms {
		if !contains(m.controllers, controller) {
			continue
		}
		for _, mt := range mounts {
			if !mt.v2 && contains(mt.options, controller) {
				dirs, err := chain(mt, m.path, fsRoot)
				return dirs, "v1", err
			}
		}
	}
	for _, m := range ms {
		if len(m.controllers) != 0 {
			continue
		}
		for _, mt := range mounts {
			if mt.v2 {
				dirs, err := chain(mt, m.path, fsRoot)
				return dirs, "v2", err
			}
		}
	}
	return nil, "", nil
}

// chain maps a cgroup path to directories under the mount, leaf first. The
// path in /proc/PID/cgroup is relative to the hierarchy's root (or to the
// cgroup namespace's root), the mount shows the subtree at mt.root.
func chain(mt mount, path, fsRoot string) ([]string, error) {
	path = filepath.Clean("/" + path)
	root := filepath.Clean("/" + mt.root)
	rel := path
	if root != "/" {
		switch {
		case path == root:
			rel = "/"
		case strings.HasPrefix(path, root+"/"):
			rel = strings.TrimPrefix(path, root)
		default:
			// A cgroup namespace: paths are already relative to the
			// mounted subtree.
			rel = path
		}
	}
	if strings.Contains(rel, "/../") || strings.HasSuffix(rel, "/..") {
		return nil, fmt.Errorf("cgroup path %q outside its mount", path)
	}
	base := filepath.Join(fsRoot, mt.point)
	var dirs []string
	for d := rel; ; d = filepath.Dir(d) {
		dirs = append(dirs, filepath.Join(base, d))
		if d == "/" {
			break
		}
	}
	return dirs, nil
}

// minOver reads a limit in each directory and returns the smallest, and
// the file it came from; 0 when none is set. A directory whose file is
// missing (an ancestor outside a container's view) counts as no limit.
func minOver(dirs []string, version string, read func(dir, version string) (float64, string, error)) (float64, string, error) {
	best, from := math.Inf(1), ""
	for _, d := range dirs {
		v, file, err := read(d, version)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return 0, "", err
		}
		if v > 0 && v < best {
			best, from = v, file
		}
	}
	if math.IsInf(best, 1) {
		return 0, "", nil
	}
	return best, from, nil
}

// readCPU returns the quota in cores set in dir, 0 when none.
func readCPU(dir, version string) (float64, string, error) {
	if version == "v2" {
		file := filepath.Join(dir, "cpu.max")
		b, err := readFile(file)
		if err != nil {
			return 0, "", err
		}
		f := strings.Fields(string(b))
		if len(f) == 0 || len(f) > 2 {
			return 0, "", fmt.Errorf("%s: malformed %q", file, b)
		}
		if f[0] == "max" {
			return 0, file, nil
		}
		period := 100000.0
		if len(f) == 2 {
			if period, err = strconv.ParseFloat(f[1], 64); err != nil || period <= 0 {
				return 0, "", fmt.Errorf("%s: bad period %q", file, f[1])
			}
		}
		quota, err := strconv.ParseFloat(f[0], 64)
		if err != nil || quota <= 0 {
			return 0, "", fmt.Errorf("%s: bad quota %q", file, f[0])
		}
		return quota / period, file, nil
	}
	qf := filepath.Join(dir, "cpu.cfs_quota_us")
	quota, err := readInt(qf)
	if err != nil {
		return 0, "", err
	}
	if quota <= 0 { // -1: no quota
		return 0, qf, nil
	}
	period, err := readInt(filepath.Join(dir, "cpu.cfs_period_us"))
	if err != nil {
		return 0, "", err
	}
	if period <= 0 {
		return 0, "", fmt.Errorf("%s: bad period %d", dir, period)
	}
	return float64(quota) / float64(period), qf, nil
}

// readMemory returns the memory limit in bytes set in dir, 0 when none.
func readMemory(dir, version string) (float64, string, error) {
	if version == "v2" {
		file := filepath.Join(dir, "memory.max")
		b, err := readFile(file)
		if err != nil {
			return 0, "", err
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, file, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, "", fmt.Errorf("%s: malformed %q", file, s)
		}
		return float64(n), file, nil
	}
	file := filepath.Join(dir, "memory.limit_in_bytes")
	n, err := readInt(file)
	if err != nil {
		return 0, "", err
	}
	if n <= 0 || n >= v1Unlimited {
		return 0, file, nil
	}
	return float64(n), file, nil
}

func readInt(file string) (int64, error) {
	b, err := readFile(file)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return n, nil
}
