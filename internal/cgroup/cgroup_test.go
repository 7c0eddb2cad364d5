package cgroup_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pysup/pysup/internal/cgroup"
	"github.com/pysup/pysup/internal/testenv"
)

func TestReadFixtures(t *testing.T) {
	cases := []struct {
		name        string
		cpu         float64
		mem         int64
		cpuV, memV  string
		cpuFromTail string
	}{
		// The parent's 1.5 cores apply through the app's "max"; the app's
		// own 512 MiB is tighter than the parent's 1 GiB.
		{"v2", 1.5, 512 << 20, "v2", "v2", "sys/fs/cgroup/cpu.max"},
		{"v2-unlimited", 0, 0, "v2", "v2", ""},
		{"v1", 2.5, 768 << 20, "v1", "v1", "cpu,cpuacct/cpu.cfs_quota_us"},
		// v1 "unlimited" memory is no limit; the pod's half core is read
		// from the v1 cpu hierarchy, not the controller-less v2 one.
		{"hybrid", 0.5, 0, "v1", "v1", "cpu/kubepods/pod1/cpu.cfs_quota_us"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := cgroup.Read(testenv.Testdata("cgroup", c.name), 0)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(l.CPU-c.cpu) > 1e-9 || l.Memory != c.mem || l.CPUVersion != c.cpuV || l.MemoryVersion != c.memV {
				t.Errorf("Read = %+v, want cpu %v (%s), memory %d (%s)", l, c.cpu, c.cpuV, c.mem, c.memV)
			}
			if !strings.HasSuffix(l.CPUFrom, c.cpuFromTail) || (c.cpuFromTail == "") != (l.CPUFrom == "") {
				t.Errorf("CPUFrom = %q, want …%s", l.CPUFrom, c.cpuFromTail)
			}
		})
	}
}

func TestReadMalformed(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(testenv.Testdata("cgroup", "v2"))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sys/fs/cgroup/app/cpu.max"), []byte("lots 100000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := cgroup.Read(dir, 0)
	if err == nil || !strings.Contains(err.Error(), "bad quota") {
		t.Fatalf("Read = %+v, %v; want a bad quota error", l, err)
	}
	if l.Memory != 512<<20 {
		t.Errorf("memory = %d: a bad cpu file must not lose the memory limit", l.Memory)
	}
}

func TestWebConcurrency(t *testing.T) {
	cases := []struct {
		l         cgroup.Limits
		available int
		workerMem int64
		want      int
	}{
		{cgroup.Limits{}, 2, 128 << 20, 0},                          // no limits: none
		{cgroup.Limits{Memory: 1 << 30}, 64, 128 << 20, 0},          // no CPU quota: none
		{cgroup.Limits{CPU: 1}, 8, 128 << 20, 3},                    // 1 core quota on an 8-core node
		{cgroup.Limits{CPU: 1.5}, 8, 128 << 20, 5},                  // rounded up
		{cgroup.Limits{CPU: 0.25}, 8, 128 << 20, 3},                 // below one core: one
		{cgroup.Limits{CPU: 4}, 2, 128 << 20, 5},                    // quota above the cores: the cores
		{cgroup.Limits{CPU: 4, Memory: 512 << 20}, 8, 128 << 20, 4}, // memory caps
		{cgroup.Limits{CPU: 4, Memory: 64 << 20}, 8, 128 << 20, 1},  // at least 1
		{cgroup.Limits{CPU: 4, Memory: 64 << 20}, 8, 0, 9},          // no estimate: no cap
	}
	for _, c := range cases {
		if got := cgroup.WebConcurrency(c.l, c.available, c.workerMem); got != c.want {
			t.Errorf("WebConcurrency(%+v, %d, %d) = %d, want %d", c.l, c.available, c.workerMem, got, c.want)
		}
	}
}

// This machine's own cgroup reads without error, and what it reads is what
// the files say.
func TestReadThisMachine(t *testing.T) {
	l, err := cgroup.Read("/", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("this machine: %+v", l)
	if l.CPUVersion == "" && l.MemoryVersion == "" {
		testenv.Missing(t, "a mounted cgroup cpu or memory controller")
	}
	if l.CPUFrom != "" {
		if _, err := os.Stat(l.CPUFrom); err != nil {
			t.Errorf("CPUFrom %s: %v", l.CPUFrom, err)
		}
	}
}
