package probe

import (
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseMessage(t *testing.T) {
	m, err := ParseMessage([]byte("READY=1\nSTATUS=Gunicorn arbiter booted\nMAINPID=42\nWATCHDOG=1\nWATCHDOG_USEC=2500000\nEXTEND_TIMEOUT_USEC=1000\nFDSTORE=1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Message{Ready: true, HasStatus: true, Status: "Gunicorn arbiter booted", MainPID: 42, Watchdog: true,
		HasWatchdogInterval: true, WatchdogInterval: 2500 * time.Millisecond, ExtendTimeout: time.Millisecond}
	if m != want {
		t.Fatalf("got %+v\nwant %+v", m, want)
	}
	m, err = ParseMessage([]byte("STOPPING=1\nMAINPID=x\nREADY=2\nWATCHDOG=trigger\nnonsense"))
	if err == nil || !strings.Contains(err.Error(), "MAINPID") || !strings.Contains(err.Error(), "READY") || !strings.Contains(err.Error(), "not KEY=VALUE") {
		t.Fatalf("error: %v", err)
	}
	if !m.Stopping || !m.WatchdogTrigger || m.Ready || m.MainPID != 0 {
		t.Fatalf("well-formed parts kept: %+v", m)
	}
	m, _ = ParseMessage([]byte("STATUS=" + strings.Repeat("é", 300)))
	if len(m.Status) > maxStatus || !utf8.ValidString(m.Status) {
		t.Fatalf("status not bounded to valid UTF-8: %d bytes", len(m.Status))
	}
}

func TestParentPID(t *testing.T) {
	ppid, err := parentPID("/proc", os.Getpid())
	if err != nil || ppid != os.Getppid() {
		t.Fatalf("parentPID(self) = %d, %v; want %d", ppid, err, os.Getppid())
	}
	if !inTree("/proc", os.Getpid(), os.Getppid()) || !inTree("/proc", os.Getpid(), os.Getpid()) {
		t.Fatal("this process is in its parent's tree")
	}
	if inTree("/proc", os.Getppid(), os.Getpid()) || inTree("/proc", 1<<30, os.Getpid()) {
		t.Fatal("a parent, or a pid that does not exist, is not in the tree")
	}
}

// FuzzParseMessage: no datagram panics, and what is kept is bounded and
// sane whatever the sender wrote.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		"READY=1\nSTATUS=ok", "WATCHDOG=1", "WATCHDOG_USEC=18446744073709551615", "MAINPID=-1\n\n=",
		"EXTEND_TIMEOUT_USEC=5000000\nSTOPPING=1", "STATUS=\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _ := ParseMessage(b)
		if len(m.Status) > maxStatus || !utf8.ValidString(m.Status) {
			t.Fatalf("status %q", m.Status)
		}
		if m.MainPID < 0 || m.WatchdogInterval < 0 || m.ExtendTimeout < 0 {
			t.Fatalf("negative value: %+v", m)
		}
	})
}
