package logs

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// Records from tagged streams carry their fields (which lose to the app's
// and win over PYSUP_LOG_FIELDS), tracebacks are joined there too, and the
// child's own streams stay untagged.
func TestTaggedStreams(t *testing.T) {
	var out testenv.SyncBuffer
	p, err := New(Options{Output: &out, Fields: map[string]string{"phase": "static-loses", "team": "web"}})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(context.Background()) }()

	s, err := p.NewStreams(String("phase", "prestart"), Int("prestart_step", 2), String("prestart_command", "python3 manage.py migrate"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `echo "applying 0001"; echo '{"msg":"json line","phase":"app-wins"}';
printf 'ERROR:django:boom\nTraceback (most recent call last):\n  File "x.py", line 1, in <module>\nValueError: bad\n' >&2`)
	cmd.Stdout, cmd.Stderr = s.Stdout(), s.Stderr()
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	s.Close()

	child := exec.Command("/bin/echo", "child line")
	child.Stdout, child.Stderr = p.Stdout(), p.Stderr()
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.Shutdown(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	if res.Records != 4 {
		t.Errorf("records = %d, want 4", res.Records)
	}
	recs := decodeLines(t, out.Bytes())
	plain := find(recs, "message", "applying 0001")
	if plain == nil || plain["phase"] != "prestart" || plain["prestart_step"] != float64(2) ||
		plain["prestart_command"] != "python3 manage.py migrate" || plain["team"] != "web" || plain["stream"] != "stdout" {
		t.Errorf("plain record = %v, want tagged with the phase, step and command, plus the static team", plain)
	}
	js := find(recs, "message", "json line")
	if js == nil || js["phase"] != "app-wins" || js["prestart_step"] != float64(2) {
		t.Errorf("json record = %v, want the app's phase to win", js)
	}
	var tb map[string]any
	for _, r := range recs {
		if r["exception_type"] == "ValueError" {
			tb = r
		}
	}
	if tb == nil || tb["phase"] != "prestart" || tb["level"] != "error" || tb["stream"] != "stderr" {
		t.Errorf("traceback record = %v, want one joined, tagged error record", tb)
	}
	c := find(recs, "message", "child line")
	if c == nil || c["phase"] != "static-loses" || c["prestart_step"] != nil {
		t.Errorf("child record = %v, want untagged (only the static fields)", c)
	}
}

// Shutdown waits for what a pre-start command left running on its streams,
// and stops waiting at its deadline.
func TestTaggedStreamsHeldOpen(t *testing.T) {
	var out testenv.SyncBuffer
	p, err := New(Options{Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.Run(context.Background()) }()
	s, err := p.NewStreams(String("phase", "prestart"))
	if err != nil {
		t.Fatal(err)
	}
	bg := exec.Command("/bin/sh", "-c", "echo before; exec sleep 30")
	bg.Stdout, bg.Stderr = s.Stdout(), s.Stderr()
	if err := bg.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bg.Process.Kill(); _ = bg.Wait() }()
	s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, _ := p.Shutdown(ctx)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Shutdown took %s despite its deadline", took)
	}
	if res.Records != 1 || find(decodeLines(t, out.Bytes()), "message", "before") == nil {
		t.Errorf("records = %d, output %q: want the line written before", res.Records, out.Bytes())
	}
}

// The console format shows a tagged stream's fields after the message.
func TestTaggedStreamsConsole(t *testing.T) {
	var out testenv.SyncBuffer
	p, err := New(Options{Output: &out, Format: "console"})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.Run(context.Background()) }()
	s, err := p.NewStreams(String("phase", "prestart"), Int("prestart_step", 1))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/echo", "migrating")
	cmd.Stdout, cmd.Stderr = s.Stdout(), s.Stderr()
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := string(out.Bytes()); !strings.HasSuffix(got, " INFO  migrating  phase=prestart  prestart_step=1\n") {
		t.Errorf("console output %q", got)
	}
}

// A child that lives a moment may be gone before the goroutine running
// Run was scheduled at all: Shutdown then reads the pipes itself, loses
// no line, and the late Run returns at once instead of polling closed
// descriptors forever.
func TestShutdownBeforeRun(t *testing.T) {
	var out testenv.SyncBuffer
	p, err := New(Options{Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command("/bin/sh", "-c", "echo first; echo second >&2")
	child.Stdout, child.Stderr = p.Stdout(), p.Stderr()
	if err := child.Run(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.Shutdown(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 2 || find(decodeLines(t, out.Bytes()), "message", "second") == nil {
		t.Errorf("records = %d, output %q: want both lines", res.Records, out.Bytes())
	}
	late := make(chan error, 1)
	go func() { late <- p.Run(context.Background()) }()
	select {
	case err := <-late:
		if err == nil {
			t.Error("Run after Shutdown returned nil, want an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run after Shutdown did not return")
	}
}
