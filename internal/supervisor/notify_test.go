package supervisor

import (
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// TestNotifyBackground: once caught returns, a standard signal is caught
// (uncaught, USR2 would kill the test binary); the real-time ones are
// caught soon after.
func TestNotifyBackground(t *testing.T) {
	ch, caught := NotifyBackground()
	defer signal.Stop(ch)
	caught()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	rt := syscall.Signal(36) // SIGRTMIN+2
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var gotUSR2, gotRT bool
	for !gotUSR2 || !gotRT {
		select {
		case s := <-ch:
			switch s {
			case syscall.SIGUSR2:
				gotUSR2 = true
			case rt:
				gotRT = true
			}
		case <-tick.C:
			// Until it is caught, the Go runtime drops it.
			syscall.Kill(syscall.Getpid(), rt)
		case <-deadline:
			t.Fatalf("after 5 s: USR2 received %v, SIGRTMIN+2 received %v", gotUSR2, gotRT)
		}
	}
}
