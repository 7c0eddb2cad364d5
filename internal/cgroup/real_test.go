package cgroup_test

import (
	"math"
	"os/exec"
	"testing"

	"github.com/pysup/pysup/internal/cgroup"
	"github.com/pysup/pysup/internal/testenv"
)

// A process moved into a real cgroup with a CPU quota (and, on v1, a
// memory limit) reads those limits.
func TestReadRealCgroup(t *testing.T) {
	testenv.RequireRoot(t)
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	cg := testenv.MakeCgroup(t, 0.5, 256<<20)
	cg.Add(t, sleep.Process.Pid)
	l, err := cgroup.Read("/", sleep.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(l.CPU-0.5) > 1e-9 {
		t.Errorf("cpu = %v, want 0.5 (%+v)", l.CPU, l)
	}
	if cg.Memory && l.Memory != 256<<20 {
		t.Errorf("memory = %d, want %d (%+v)", l.Memory, 256<<20, l)
	}
	if got := cgroup.WebConcurrency(l, 2, 128<<20); got != 2 {
		t.Errorf("WebConcurrency = %d, want 2 (min of 2×1+1 and 256 MiB / 128 MiB)", got)
	}
}
