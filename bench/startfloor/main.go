// Command startfloor is the floor bench/start.sh measures pysup against:
// the least a Go PID 1 doing pysup's job pays per start. It registers the
// signals pysup forwards (each a round trip to the Go runtime's signal
// thread), becomes a child subreaper, starts its arguments in their own
// process group, waits for them and exits with their status. It forwards
// nothing and reaps no orphan: that costs nothing until it happens.
//
// Built with -tags startfloor_deps it also links, and so initialises at
// every start, the third-party packages pysup links (deps.go).
package main

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pysup/pysup/internal/signals"
)

func main() {
	if len(os.Args) < 2 {
		os.Stderr.WriteString("usage: startfloor COMMAND [ARG...]\n")
		os.Exit(2)
	}
	ch := make(chan os.Signal, 64)
	var sigs []os.Signal
	for _, s := range signals.Forwardable() {
		sigs = append(sigs, s)
	}
	signal.Notify(ch, sigs...)
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	path, err := exec.LookPath(os.Args[1])
	if err != nil {
		os.Exit(127)
	}
	pid, err := syscall.ForkExec(path, os.Args[1:], &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		os.Exit(126)
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			break
		}
	}
	if ws.Signaled() {
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(ws.ExitStatus())
}
