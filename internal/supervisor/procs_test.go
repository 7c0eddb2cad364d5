package supervisor

import (
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
)

// TestDescendantsWalkMatchesScan: the children-list walk and the process
// table scan find the same live tree: a shell with a sleeping grandchild.
func TestDescendantsWalkMatchesScan(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 5 & sleep 5 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }()
	var walk, scan []int
	for i := 0; i < 100; i++ {
		walk, scan = pids(descendants(os.Getpid())), pids(descendantsByScan(os.Getpid()))
		if len(walk) >= 3 {
			break
		}
		exec.Command("sleep", "0.01").Run()
	}
	if len(walk) < 3 || !slices.Equal(walk, scan) {
		t.Errorf("walk %v, scan %v; want the same 3 processes", walk, scan)
	}
}

func pids(ps []proc) []int {
	var out []int
	for _, p := range ps {
		out = append(out, p.pid)
	}
	slices.Sort(out)
	return out
}
