package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// djangoEnv is the environment of the test Django project: its SQLite
// database and static root in a fresh directory, Debian's python3 first on
// PATH (the one with Django), no .pyc files in testdata.
func djangoEnv(t *testing.T, extra ...string) []string {
	testenv.RequirePython(t, "django", "gunicorn")
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o777)
	return append([]string{
		"PATH=/usr/bin:/bin:/usr/sbin:/sbin",
		"PYTHONDONTWRITEBYTECODE=1",
		"DJANGO_DB=" + filepath.Join(dir, "db.sqlite3"),
		"DJANGO_STATIC=" + filepath.Join(dir, "static"),
	}, extra...)
}

func manage() string { return testenv.Testdata("django", "manage.py") }

// migrateThenCheck is the PYSUP_PRESTART of the tests: a migration, then
// Django's system check, as a real entrypoint would run them.
func migrateThenCheck() string {
	return fmt.Sprintf("python3 %s migrate --noinput && python3 '%s' check", manage(), manage())
}

// gunicornDjango is the child: gunicorn serving the test project.
func gunicornDjango(t *testing.T, port int) []string {
	return []string{"--", testenv.RequireBinary(t, "gunicorn"), "--chdir", testenv.Testdata("django"),
		"-w", "1", "-b", "127.0.0.1:" + strconv.Itoa(port), "site_app.wsgi"}
}

// probeBody is what a probe endpoint answered.
type probeBody struct {
	Code     int
	Status   string `json:"status"`
	Reason   string `json:"reason"`
	Phase    string `json:"phase"`
	Progress string `json:"progress"`
}

func getProbe(url string) probeBody {
	resp, err := (&http.Client{Timeout: time.Second}).Get(url)
	if err != nil {
		return probeBody{}
	}
	defer resp.Body.Close()
	var b probeBody
	_ = json.NewDecoder(resp.Body).Decode(&b)
	b.Code = resp.StatusCode
	return b
}

// records decodes pysup's stdout: one JSON record a line.
func records(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stdout line is not a JSON record: %q", sc.Text())
		}
		recs = append(recs, m)
	}
	return recs
}

func waitFile(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not created after %s", path, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPrestartDjangoMigrate: the migration runs under pysup before
// gunicorn starts (the app's first request reads the migrated table),
// /startupz reports the phase and its progress meanwhile while /livez is
// 200, and the migration's output comes out as records tagged with the
// phase.
func TestPrestartDjangoMigrate(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		marker := filepath.Join(t.TempDir(), "migrating")
		port, probes := testenv.FreePort(t), testenv.FreePort(t)
		base := fmt.Sprintf("http://127.0.0.1:%d", probes)
		env := djangoEnv(t, "PYSUP_PRESET=gunicorn", "PYSUP_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(probes),
			"PYSUP_PRESTART="+migrateThenCheck(), "MIGRATION_MARKER="+marker, "MIGRATION_SLEEP=3")
		r := startPysup(t, m, env, gunicornDjango(t, port)...)

		waitFile(t, marker, 30*time.Second)
		st := getProbe(base + "/startupz")
		if st.Code != 503 || st.Phase != "prestart" || st.Progress != "1/2: python3 "+manage()+" migrate" {
			t.Errorf("/startupz during the migration: %+v", st)
		}
		if rd := getProbe(base + "/readyz"); rd.Code != 503 || rd.Phase != "prestart" {
			t.Errorf("/readyz during the migration: %+v", rd)
		}
		if lv := getProbe(base + "/livez"); lv.Code != 200 {
			t.Errorf("/livez during the migration: %+v", lv)
		}

		// The check step shows up too, unless it was too quick to catch.
		deadline := time.Now().Add(30 * time.Second)
		sawCheck := false
		for status(base+"/readyz") != 200 {
			if p := getProbe(base + "/startupz"); p.Progress == "2/2: python3 "+manage()+" check" {
				sawCheck = true
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never 200 after the pre-start phase")
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Logf("saw step 2 on /startupz: %v", sawCheck)
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "notes: 1\n" {
			t.Errorf("GET / = %d %q: want the migrated table with its one note", resp.StatusCode, body)
		}
		if st := getProbe(base + "/startupz"); st.Phase != "" {
			t.Errorf("/startupz once running still reports a phase: %+v", st)
		}

		r.signal(syscall.SIGTERM)
		if code := r.wait(30 * time.Second); code != 0 {
			t.Errorf("exit status %d", code)
		}
		recs := records(t, r.stdout.String())
		var applied, checked, untagged bool
		for _, rec := range recs {
			msg, _ := rec["message"].(string)
			switch {
			case strings.Contains(msg, "Applying notes.0002_first_note"):
				applied = rec["phase"] == "prestart" && rec["prestart_step"] == float64(1) &&
					rec["prestart_command"] == "python3 "+manage()+" migrate" && rec["stream"] == "stdout"
			case strings.Contains(msg, "System check identified no issues"):
				checked = rec["phase"] == "prestart" && rec["prestart_step"] == float64(2)
			case strings.Contains(msg, "Booting worker"), strings.Contains(msg, "Listening at"):
				untagged = rec["phase"] == nil
			}
		}
		if !applied || !checked || !untagged {
			t.Errorf("records: migration tagged %v, check tagged %v, gunicorn untagged %v", applied, checked, untagged)
		}
		diag := r.stderr.String()
		for _, want := range []string{`"message":"pre-start command done","logger":"pysup","step":1,"of":2,"command":"python3 ` + manage() + ` migrate","ran":`, `"message":"pre-start commands done"`} {
			if !strings.Contains(diag, want) {
				t.Errorf("diagnostics lack %s", want)
			}
		}
		if strings.Contains(diag, "--noinput") {
			t.Errorf("the argv reached the diagnostics at info level")
		}
		if i, j := strings.Index(diag, "pre-start commands done"), strings.Index(diag, "child started"); i < 0 || j < i {
			t.Errorf("the child started before the pre-start phase ended")
		}
	})
}

// TestPrestartMigrationFails: a failing migration ends pysup with its
// status, a clear error record, its traceback as one tagged record, and
// the child never starts; the next command does not run.
func TestPrestartMigrationFails(t *testing.T) {
	port := testenv.FreePort(t)
	env := djangoEnv(t, "PYSUP_PRESET=gunicorn", "PYSUP_PRESTART="+migrateThenCheck(), "MIGRATION_FAIL=1")
	r := startPysup(t, mode{name: "subreaper"}, env, gunicornDjango(t, port)...)
	if code := r.wait(60 * time.Second); code != 1 {
		t.Errorf("exit status %d, want 1 (manage.py migrate's)", code)
	}
	diag := r.stderr.String()
	for _, want := range []string{
		`"level":"error","message":"pre-start command failed","logger":"pysup","step":1,"of":2,"command":"python3 ` + manage() + ` migrate","exit_code":1`,
		`pre-start command 1/2: python3 ` + manage() + ` migrate failed with exit status 1`,
	} {
		if !strings.Contains(diag, want) {
			t.Errorf("diagnostics lack %s", want)
		}
	}
	if strings.Contains(diag, "child started") || strings.Contains(diag, `"step":2`) {
		t.Errorf("the child or the second command started after the failure")
	}
	var tb map[string]any
	for _, rec := range records(t, r.stdout.String()) {
		if rec["exception_type"] == "RuntimeError" {
			tb = rec
		}
	}
	if tb == nil || tb["phase"] != "prestart" || tb["level"] != "error" ||
		!strings.Contains(tb["message"].(string), "MIGRATION_FAIL is set") {
		t.Errorf("traceback record = %v, want one tagged error record with the exception", tb)
	}
}

// TestPrestartStoppedBySIGTERM: SIGTERM during a slow pre-start command
// stops it (its process group gets the stop signal) and pysup exits at
// once without starting the child.
func TestPrestartStoppedBySIGTERM(t *testing.T) {
	forModes(t, func(t *testing.T, m mode) {
		marker := filepath.Join(t.TempDir(), "migrating")
		port := testenv.FreePort(t)
		env := djangoEnv(t, "PYSUP_PRESET=gunicorn", "PYSUP_PRESTART="+migrateThenCheck(),
			"MIGRATION_MARKER="+marker, "MIGRATION_SLEEP=60", "PYSUP_STOP_TIMEOUT=10s")
		r := startPysup(t, m, env, gunicornDjango(t, port)...)
		waitFile(t, marker, 30*time.Second)
		sent := time.Now()
		r.signal(syscall.SIGTERM)
		code := r.wait(20 * time.Second)
		took := time.Since(sent)
		if code != 143 {
			t.Errorf("exit status %d, want 143 (the migration died of SIGTERM)", code)
		}
		if took > 8*time.Second {
			t.Errorf("took %s to stop: the migration was not stopped by the signal", took)
		}
		diag := r.stderr.String()
		if strings.Contains(diag, "child started") {
			t.Errorf("the child started after the stop request")
		}
		for _, want := range []string{"stop requested during the pre-start phase", `"message":"stopping pre-start command"`, "stopped in the pre-start phase: child not started"} {
			if !strings.Contains(diag, want) {
				t.Errorf("diagnostics lack %q", want)
			}
		}
		b, _ := os.ReadFile(marker)
		if pid, err := strconv.Atoi(string(b)); err != nil || m.pid1 == false && alive(pid) {
			t.Errorf("the migration (pid %q) still runs", b)
		}
	})
}

// TestPrestartUserAndRestarts: the pre-start commands run as PYSUP_USER
// with the child's environment but not its sd_notify socket, and an
// in-place restart of the child does not run them again.
func TestPrestartUserAndRestarts(t *testing.T) {
	testenv.RequireRoot(t)
	out := newOut(t)
	r := startPysup(t, mode{name: "subreaper"}, []string{out.env(), "PYSUP_USER=nobody", "PYSUP_LOG=false",
		"PYSUP_RESTART=on-failure", "PYSUP_RESTART_DELAY=50ms", "PYSUP_RESTART_LIMIT=2", "PYSUP_READY_CHECK=notify",
		`PYSUP_PRESTART=sh -c 'echo "prestart $(id -un) $USER ${NOTIFY_SOCKET:-no-socket}" >> "$OUT"'`},
		"--", "/bin/sh", "-c", `echo "child $(id -un) ${NOTIFY_SOCKET:+socket}" >> "$OUT"; exit 3`)
	if code := r.wait(30 * time.Second); code != 3 {
		t.Errorf("exit status %d, want the child's 3", code)
	}
	got := strings.Join(out.lines(), "|")
	if want := "prestart nobody nobody no-socket|child nobody socket|child nobody socket|child nobody socket"; got != want {
		t.Errorf("lines %q, want %q: once before the first start only, as the child's user", got, want)
	}
}
