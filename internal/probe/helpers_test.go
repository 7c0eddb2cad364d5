package probe

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// wait is the generous bound of every wait in these tests: they assert what
// a user sees, never how fast.
const wait = 20 * time.Second

// startProc starts argv in its own process group with extra env and kills
// the group at cleanup. When ready is not "", it waits for that line on
// stdout.
func startProc(t *testing.T, env []string, ready string, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	if ready != "" {
		deadline := time.After(wait)
		for {
			select {
			case l := <-lines:
				if strings.Contains(l, ready) {
					return cmd
				}
			case <-deadline:
				t.Fatalf("%v: no %q on stdout within %s", argv, ready, wait)
			}
		}
	}
	return cmd
}

// testWriter sends a process's stderr to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// python starts a testdata/probe script under Debian's python3.
func python(t *testing.T, env []string, ready string, script string, args ...string) *exec.Cmd {
	t.Helper()
	py := testenv.RequirePython(t)
	return startProc(t, env, ready, append([]string{py, testenv.Testdata("probe", script)}, args...)...)
}

// served runs h and serves its handler until the test ends.
func served(t *testing.T, h *Health) *httptest.Server {
	t.Helper()
	return servedWith(t, h, nil)
}

func servedWith(t *testing.T, h *Health, metrics http.Handler) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Run(ctx)
	}()
	srv := httptest.NewServer(NewHandler(h, metrics))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
	})
	return srv
}

func newHealth(t *testing.T, opts Options) (*Health, *httptest.Server) {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h, served(t, h)
}

// reply is a probe answer as a user sees it.
type reply struct {
	Code int
	Raw  string
	Body struct {
		Status    string `json:"status"`
		Reason    string `json:"reason"`
		Phase     string `json:"phase"`
		Progress  string `json:"progress"`
		AppStatus string `json:"app_status"`
		Checks    []struct {
			Name       string  `json:"name"`
			OK         bool    `json:"ok"`
			Error      string  `json:"error"`
			LatencyMS  float64 `json:"latency_ms"`
			ConsecOK   int     `json:"consecutive_successes"`
			ConsecFail int     `json:"consecutive_failures"`
			Period     string  `json:"period"`
			Timeout    string  `json:"timeout"`
			Failures   int     `json:"failure_threshold"`
			Successes  int     `json:"success_threshold"`
		} `json:"checks"`
		Notify *struct {
			Rejected uint64 `json:"datagrams_rejected"`
			Accepted uint64 `json:"datagrams_accepted"`
		} `json:"notify"`
	}
}

func get(t *testing.T, srv *httptest.Server, path string) reply {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{Code: resp.StatusCode, Raw: string(b)}
	if err := json.Unmarshal(b, &r.Body); err != nil {
		t.Fatalf("GET %s: body is not JSON: %v: %s", path, err, b)
	}
	return r
}

// eventually polls path until cond holds, failing after the bound.
func eventually(t *testing.T, srv *httptest.Server, path string, cond func(reply) bool) reply {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		r := get(t, srv, path)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: condition not met within %s; last answer %d %s", path, wait, r.Code, r.Raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func code(c int) func(reply) bool { return func(r reply) bool { return r.Code == c } }

func mustSpecs(t *testing.T, text string) Specs {
	t.Helper()
	s, err := ParseSpecs(text)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }
