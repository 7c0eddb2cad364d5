package supervisor

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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

// TestHasChildren: a running child and an unreaped zombie count; once
// reaped, nothing is left and descendants answers without reading /proc.
func TestHasChildren(t *testing.T) {
	if hasChildren() {
		t.Skip("the test binary already has children")
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !hasChildren() {
		t.Error("hasChildren = false with a running child")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	// A zombie until waited for: still a child.
	for i := 0; i < 100; i++ {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat"); strings.Contains(string(b), ") Z ") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !hasChildren() {
		t.Error("hasChildren = false with an unreaped zombie")
	}
	_ = cmd.Wait()
	if hasChildren() {
		t.Error("hasChildren = true after the only child was reaped")
	}
	if d := descendants(os.Getpid()); len(d) != 0 {
		t.Errorf("descendants = %v, want none", d)
	}
}
