package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// TestLogsSurviveStopMidFlood: the child floods stdout with numbered lines
// and is stopped in the middle; every line it wrote before exiting comes out
// of pysup as a JSON record, in order, with nothing after its last line.
func TestLogsSurviveStopMidFlood(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		out := newOut(t)
		py := `
import os, signal, sys
last = 0
def term(*_):
    with open(os.environ["OUT"], "w") as f:
        f.write(f"last {last}\n")
    sys.stdout.flush()
    os._exit(0)
signal.signal(signal.SIGTERM, term)
open(os.environ["OUT"], "w").write("ready\n")
while True:
    print(f"line {last + 1} " + "x" * 80)
    last += 1
`
		r := startPysup(t, m, []string{out.env(), "PYTHONUNBUFFERED=1", "POD_NAME=web-0", "POD_NAMESPACE=shop"},
			"--", testenv.RequirePython(t), "-c", py)
		out.waitLine(t, "ready", 30*time.Second)
		time.Sleep(300 * time.Millisecond)
		r.signal(syscall.SIGTERM)
		if code := r.wait(20 * time.Second); code != 0 {
			t.Fatalf("exit status %d", code)
		}
		last, _ := strconv.Atoi(strings.Fields(out.waitLine(t, "last ", 0))[1])
		if last < 100 {
			t.Fatalf("child wrote only %d lines", last)
		}
		next := 1
		sc := bufio.NewScanner(strings.NewReader(r.stdout.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec struct {
				Message    string
				Stream     string
				Kubernetes struct {
					PodName string `json:"pod_name"`
				}
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("not a JSON record: %q", sc.Text())
			}
			want := fmt.Sprintf("line %d ", next)
			if !strings.HasPrefix(rec.Message, want) || rec.Stream != "stdout" || rec.Kubernetes.PodName != "web-0" {
				t.Fatalf("record %d: %+v, want message %q on stdout of web-0", next, rec, want)
			}
			next++
		}
		// TERM may land between a print and the count: one more line
		// than counted is right, one fewer is a loss.
		if got := next - 1; got != last && got != last+1 {
			t.Errorf("pysup wrote %d records; the child wrote %d lines", got, last)
		}
	})
}
