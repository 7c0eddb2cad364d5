package signals

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	cases := map[string]Signal{
		"TERM": Signal(unix.SIGTERM), "SIGTERM": Signal(unix.SIGTERM), "term": Signal(unix.SIGTERM),
		"15": Signal(unix.SIGTERM), " hup ": Signal(unix.SIGHUP), "0": 0,
		"RTMIN": 34, "SIGRTMIN+3": 37, "RTMAX": 64, "RTMAX-1": 63, "WINCH": Signal(unix.SIGWINCH),
	}
	for in, want := range cases {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "NOPE", "65", "-1", "RTMIN-1", "RTMAX+1", "RTMIN+x", "SIG", "RTMIN3"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for n := 1; n <= 64; n++ {
		s := Signal(n)
		if n == 32 || n == 33 {
			continue // glibc's own, not nameable
		}
		back, err := Parse(s.String())
		if err != nil || back != s {
			t.Errorf("signal %d prints %q, which parses to %d, %v", n, s, back, err)
		}
	}
}

func TestRewrite(t *testing.T) {
	rw, err := ParseRewrite("TERM:QUIT, HUP:0,usr1:SIGUSR2")
	if err != nil {
		t.Fatal(err)
	}
	check := func(in unix.Signal, want Signal, wantOK bool) {
		t.Helper()
		got, ok := rw.Apply(Signal(in))
		if got != want && ok || ok != wantOK {
			t.Errorf("Apply(%v) = %v, %v; want %v, %v", in, got, ok, want, wantOK)
		}
	}
	check(unix.SIGTERM, Signal(unix.SIGQUIT), true)
	check(unix.SIGHUP, 0, false)
	check(unix.SIGUSR1, Signal(unix.SIGUSR2), true)
	check(unix.SIGWINCH, Signal(unix.SIGWINCH), true)
	if got := rw.String(); got != "HUP:0,USR1:USR2,TERM:QUIT" {
		t.Errorf("String() = %q", got)
	}
	if _, err := ParseRewrite("TERM,0:HUP,FOO:BAR"); err == nil {
		t.Error("bad table accepted")
	} else if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 3 {
		t.Errorf("%d problems reported, want 3: %v", n, err)
	}
}

func TestPresets(t *testing.T) {
	for _, name := range PresetNames() {
		p, err := LookupPreset(name)
		if err != nil || p.Stop == 0 || p.Doc == "" {
			t.Errorf("preset %s: %+v, %v", name, p, err)
		}
	}
	if _, err := LookupPreset("django"); err == nil {
		t.Error("unknown preset accepted")
	}
}

func FuzzParseRewrite(f *testing.F) {
	for _, s := range []string{"TERM:QUIT,HUP:0", "RTMIN+1:RTMAX-2", ":", ",,", "15:9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rw, err := ParseRewrite(s)
		if err != nil {
			return
		}
		// What it prints it must read back identically.
		back, err := ParseRewrite(rw.String())
		if err != nil || back.String() != rw.String() {
			t.Errorf("%q -> %q -> %q, %v", s, rw.String(), back.String(), err)
		}
	})
}
