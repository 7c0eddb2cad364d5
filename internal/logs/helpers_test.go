package logs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/testenv"
)

// decodeLines parses every output line as a JSON object, failing the test
// on any line that is not one.
func decodeLines(t testing.TB, out []byte) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("output line is not a JSON object: %v\n%q", err, sc.Text())
		}
		recs = append(recs, m)
	}
	return recs
}

// runChild runs argv with its stdout and stderr through a new pipeline and
// returns the pipeline's output after Shutdown.
func runChild(t testing.TB, o Options, argv ...string) ([]byte, Result) {
	t.Helper()
	var out testenv.SyncBuffer
	if o.Output == nil {
		o.Output = &out
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = p.Stdout(), p.Stderr()
	cmd.Dir = testenv.Testdata("logs")
	if err := cmd.Run(); err != nil {
		t.Logf("child: %v", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := p.Shutdown(sctx)
	if err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-runErr; err != nil {
		t.Errorf("Run: %v", err)
	}
	return out.Bytes(), res
}

func find(recs []map[string]any, key, val string) map[string]any {
	for _, r := range recs {
		if s, _ := r[key].(string); s == val {
			return r
		}
	}
	return nil
}
