package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/cgroup"
)

// Cgroup is a real cgroup made for a test, below this process's own: a
// CPU quota (v1 cpu or v2 cpu.max) and, when the memory controller lets
// us, a memory limit.
type Cgroup struct {
	dirs   []string // removed at cleanup, last first
	procs  []string // cgroup.procs of each controller's directory
	Memory bool     // the memory limit was set
}

// MakeCgroup makes a cgroup with cpu cores of quota and, when possible,
// memory bytes of limit; it skips (fails under CI) when this machine cannot.
func MakeCgroup(t testing.TB, cpu float64, memory int64) *Cgroup {
	t.Helper()
	RequireRoot(t)
	d, err := cgroup.Locate("/", 0)
	if err != nil || d.CPU == "" {
		Missing(t, fmt.Sprintf("a cgroup cpu controller (%v)", err))
	}
	name := fmt.Sprintf("pysup-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	c := &Cgroup{}
	t.Cleanup(c.remove)
	dir := filepath.Join(d.CPU, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		Missing(t, "a writable cgroup cpu controller: "+err.Error())
	}
	c.dirs = append(c.dirs, dir)
	period := 100000
	quota := int(cpu * float64(period))
	var werr error
	if d.CPUVersion == "v2" {
		werr = os.WriteFile(filepath.Join(dir, "cpu.max"), fmt.Appendf(nil, "%d %d", quota, period), 0o644)
	} else {
		werr = os.WriteFile(filepath.Join(dir, "cpu.cfs_period_us"), []byte(strconv.Itoa(period)), 0o644)
		if werr == nil {
			werr = os.WriteFile(filepath.Join(dir, "cpu.cfs_quota_us"), []byte(strconv.Itoa(quota)), 0o644)
		}
	}
	if werr != nil {
		Missing(t, "a cgroup CPU quota: "+werr.Error())
	}
	c.procs = append(c.procs, filepath.Join(dir, "cgroup.procs"))
	if memory > 0 && d.Memory != "" && d.Memory != d.CPU {
		mdir := filepath.Join(d.Memory, name)
		if err := os.Mkdir(mdir, 0o755); err == nil {
			c.dirs = append(c.dirs, mdir)
			file := "memory.limit_in_bytes"
			if d.MemoryVersion == "v2" {
				file = "memory.max"
			}
			if os.WriteFile(filepath.Join(mdir, file), []byte(strconv.FormatInt(memory, 10)), 0o644) == nil {
				c.procs = append(c.procs, filepath.Join(mdir, "cgroup.procs"))
				c.Memory = true
			}
		}
	} else if memory > 0 && d.Memory == d.CPU && d.MemoryVersion == "v2" {
		if os.WriteFile(filepath.Join(dir, "memory.max"), []byte(strconv.FormatInt(memory, 10)), 0o644) == nil {
			c.Memory = true
		}
	}
	return c
}

// Add moves pid into the cgroup (its children started later are born
// there).
func (c *Cgroup) Add(t testing.TB, pid int) {
	t.Helper()
	for _, p := range c.procs {
		if err := os.WriteFile(p, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			t.Fatalf("moving %d into %s: %v", pid, p, err)
		}
	}
}

// Procs are the cgroup.procs files a process must be written to.
func (c *Cgroup) Procs() []string { return c.procs }

// remove deletes the directories once their processes are gone (a
// cgroup with members cannot be removed).
func (c *Cgroup) remove() {
	for i := len(c.dirs) - 1; i >= 0; i-- {
		for try := 0; try < 100; try++ {
			if err := os.Remove(c.dirs[i]); err == nil || os.IsNotExist(err) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
