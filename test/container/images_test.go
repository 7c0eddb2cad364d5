package container

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// basePackages go into the cached Python base image: python3 (with
// python3-cffi-backend, which debootstrap does not pull in by itself) and
// what every example under examples/ imports, so adding an example to the
// table costs no new debootstrap. Changing the list makes a new image.
var basePackages = []string{
	"python3", "python3-cffi-backend",
	"gunicorn", "python3-flask", "python3-prometheus-client", "python3-pythonjsonlogger",
	"python3-zmq", "uwsgi-core", "uwsgi-plugin-python3", "python3-celery", "python3-structlog",
	"python3-django",
}

const (
	suite = "bookworm"
	// Default cache: outside the checkout (CI clones fresh), kept across runs.
	defaultCacheDir = "/var/tmp/pysup-podman"
	// Run state of podman: must not survive a reboot.
	defaultRunDir = "/run/pysup-podman"
	pysupImage    = "localhost/pysup-test-pysup:latest"
	baseRepo      = "localhost/pysup-test-base"
)

// images is what every container test case needs: our podman store, the
// Python base image and pysup's own image built from the root Dockerfile.
type images struct {
	podman *podman
	base   string
	pysup  string
}

// prepareImages finds or builds the images. It holds a lock on the cache
// directory for the rest of the test, so concurrent runs take turns.
func prepareImages(t *testing.T) *images {
	t.Helper()
	testenv.RequireRoot(t)
	for _, bin := range []string{"podman", "runc", "debootstrap", "tar", "go"} {
		testenv.RequireBinary(t, bin)
	}
	cacheDir := envOr("PYSUP_PODMAN_CACHE", defaultCacheDir)
	runDir := envOr("PYSUP_PODMAN_RUN", defaultRunDir)
	for _, d := range []string{cacheDir, runDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	lockCache(t, cacheDir)
	resetAfterReboot(t, runDir)
	p := newPodman(t, cacheDir, runDir)
	im := &images{podman: p, base: baseImage(t, p, cacheDir), pysup: pysupImage}
	buildPysupImage(t, p, im.base)
	return im
}

// lockCache takes an exclusive flock on cacheDir/lock until the test ends.
func lockCache(t *testing.T, cacheDir string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(cacheDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("locking %s: %v", cacheDir, err)
	}
	t.Cleanup(func() { f.Close() })
}

// resetAfterReboot empties runDir when the machine booted since it was
// last used: podman expects its run state on a tmpfs, and /run is not one
// everywhere (it is not on this machine).
func resetAfterReboot(t *testing.T, runDir string) {
	t.Helper()
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(runDir, "boot_id")
	if last, err := os.ReadFile(mark); err == nil && string(last) == string(boot) {
		return
	}
	entries, err := os.ReadDir(runDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(runDir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(mark, boot, 0o600); err != nil {
		t.Fatal(err)
	}
}

// baseImage returns the cached base image, making it with debootstrap and
// `podman import` when the store lacks it (about 70 s and 370 MB here).
func baseImage(t *testing.T, p *podman, cacheDir string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(suite + " minbase " + strings.Join(basePackages, ",")))
	name := baseRepo + ":" + hex.EncodeToString(sum[:6])
	if p.imageExists(name) {
		return name
	}
	start := time.Now()
	rootfs := filepath.Join(cacheDir, "rootfs-"+hex.EncodeToString(sum[:6]))
	os.RemoveAll(rootfs)
	defer os.RemoveAll(rootfs)
	args := []string{"--variant=minbase", "--include=" + strings.Join(basePackages, ","), suite, rootfs}
	if m := os.Getenv("PYSUP_DEBIAN_MIRROR"); m != "" {
		args = append(args, m)
	}
	logPath := filepath.Join(cacheDir, "debootstrap.log")
	if out, err := exec.Command("debootstrap", args...).CombinedOutput(); err != nil {
		os.WriteFile(logPath, out, 0o644)
		t.Fatalf("debootstrap %s: %v (log in %s)\n%s", strings.Join(args, " "), err, logPath, tail(string(out), 3000))
	}
	t.Logf("debootstrap of %s: %s", name, time.Since(start).Round(time.Second))

	importStart := time.Now()
	tar := exec.Command("tar", "-C", rootfs, "-c", ".")
	imp := p.cmd(t.Context(), "import",
		"--change", "ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--change", "ENV=LANG=C.UTF-8",
		"-", name)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	imp.Stdin = pipe
	var tarErr, impOut strings.Builder
	tar.Stderr = &tarErr
	imp.Stdout, imp.Stderr = &impOut, &impOut
	if err := tar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := imp.Run(); err != nil {
		tar.Process.Kill()
		tar.Wait()
		t.Fatalf("podman import: %v\n%s", err, tail(impOut.String(), 3000))
	}
	if err := tar.Wait(); err != nil {
		t.Fatalf("tar of %s: %v\n%s", rootfs, err, tarErr.String())
	}
	t.Logf("podman import of %s: %s", name, time.Since(importStart).Round(time.Second))
	removeOtherBases(t, p, name)
	return name
}

// removeOtherBases drops base images made from an older package list.
func removeOtherBases(t *testing.T, p *podman, keep string) {
	out, _, err := p.run(time.Minute, "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference="+baseRepo)
	if err != nil {
		t.Log(err)
		return
	}
	for _, name := range strings.Fields(out) {
		if name != keep {
			if _, _, err := p.run(time.Minute, "rmi", name); err != nil {
				t.Log(err)
			}
		}
	}
}

// buildPysupImage builds the repository's root Dockerfile. There is no
// registry here, so the builder stage runs FROM a local image: the base
// image with the host's Go toolchain, module cache and build cache mounted
// into the build (GOPROXY=off: everything `go test` already downloaded).
func buildPysupImage(t *testing.T, p *podman, base string) {
	t.Helper()
	goenv, err := exec.Command("go", "env", "GOROOT", "GOMODCACHE", "GOCACHE", "GOVERSION").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	f := strings.Fields(string(goenv))
	if len(f) != 4 {
		t.Fatalf("go env: unexpected output %q", goenv)
	}
	goroot, modcache, gocache, gover := f[0], f[1], f[2], f[3]
	if err := os.MkdirAll(gocache, 0o755); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	builder := "localhost/pysup-test-go:" + gover
	containerfile := fmt.Sprintf("FROM %s\nENV PATH=%s/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "+
		"GOMODCACHE=/host/gomodcache GOCACHE=/host/gocache GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=readonly\n", base, goroot)
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(containerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	p.must(t, 5*time.Minute, "build", "--network=none", "-q", "-t", builder, dir)

	commit, _ := exec.Command("git", "-C", testenv.RepoRoot(), "rev-parse", "HEAD").Output()
	start := time.Now()
	p.must(t, 15*time.Minute, "build", "--network=none",
		"-v", goroot+":"+goroot+":ro",
		"-v", modcache+":/host/gomodcache:ro",
		"-v", gocache+":/host/gocache",
		"--build-arg", "GO_IMAGE="+builder,
		"--build-arg", "VERSION=container-test",
		"--build-arg", "COMMIT="+strings.TrimSpace(string(commit)),
		"-t", pysupImage,
		"-f", filepath.Join(testenv.RepoRoot(), "Dockerfile"),
		testenv.RepoRoot())
	t.Logf("podman build of the root Dockerfile: %s", time.Since(start).Round(100*time.Millisecond))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
