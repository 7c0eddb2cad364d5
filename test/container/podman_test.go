package container

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// containersConf is what podman needs on this kind of machine (see
// /work/shared/REAL-COMPONENTS.md): crun fails on hybrid cgroups, the default
// ulimits need CAP_SYS_RESOURCE, and there may be no systemd or journald.
const containersConf = `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`

// podman runs the podman CLI against storage of our own, so the test never
// touches (or depends on) the machine's default images and containers.
type podman struct {
	global []string // --root, --runroot, --tmpdir
	env    []string
}

// newPodman writes the containers.conf into cacheDir and keeps the image
// store there; the run state goes under runDir (tmpfs on most machines, so a
// reboot clears it as podman expects).
func newPodman(t testing.TB, cacheDir, runDir string) *podman {
	t.Helper()
	conf := filepath.Join(cacheDir, "containers.conf")
	if err := os.WriteFile(conf, []byte(containersConf), 0o644); err != nil {
		t.Fatal(err)
	}
	return &podman{
		global: []string{
			"--root", filepath.Join(cacheDir, "storage"),
			"--runroot", filepath.Join(runDir, "storage"),
			"--tmpdir", filepath.Join(runDir, "libpod"),
		},
		env: append(os.Environ(), "CONTAINERS_CONF="+conf),
	}
}

// cmd is podman with our storage and config, bounded by timeout.
func (p *podman) cmd(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "podman", append(append([]string{}, p.global...), args...)...)
	c.Env = p.env
	c.WaitDelay = 5 * time.Second
	return c
}

// run returns podman's stdout and stderr; err says what failed, with stderr.
func (p *podman) run(timeout time.Duration, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := p.cmd(ctx, args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	if err != nil {
		err = fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, tail(stderr.String(), 4000))
	}
	return stdout.String(), stderr.String(), err
}

// must is run that fails the test on error and returns trimmed stdout.
func (p *podman) must(t testing.TB, timeout time.Duration, args ...string) string {
	t.Helper()
	out, _, err := p.run(timeout, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// exists reports whether an image with this name is in our store.
func (p *podman) imageExists(name string) bool {
	_, _, err := p.run(time.Minute, "image", "exists", name)
	return err == nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
