package testenv

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FirstChild waits up to 5 s for parent's first child and returns its pid:
// pysup under `unshare --pid --fork`, which waits for it.
func FirstChild(t testing.TB, parent int) int {
	t.Helper()
	path := "/proc/" + strconv.Itoa(parent) + "/task/" + strconv.Itoa(parent) + "/children"
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		if f := strings.Fields(string(b)); len(f) > 0 {
			pid, _ := strconv.Atoi(f[0])
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("unshare (pid %d) started no child", parent)
	return 0
}
