package logs

import (
	"strings"
	"testing"
	"time"

	"github.com/pysup/pysup/internal/podinfo"
	"github.com/pysup/pysup/internal/testenv"
)

func TestPythonLoggingDefaults(t *testing.T) {
	py := testenv.RequirePython(t)
	pod, _ := podinfo.NewSource(func(k string) string {
		return map[string]string{"POD_NAME": "web-0", "POD_NAMESPACE": "prod", "NODE_NAME": "n1"}[k]
	}, t.TempDir())
	out, _ := runChild(t, Options{Pod: pod, Fields: map[string]string{"app_version": "1.2.3"}}, py, "logging_defaults.py")
	recs := decodeLines(t, out)
	t.Logf("%s", out)
	if len(recs) != 7 {
		t.Fatalf("got %d records, want 7", len(recs))
	}
	want := []struct{ stream, level, logger, msg string }{
		{"stdout", "info", "", "hello from stdout"},
		{"stderr", "debug", "app.db", "debug line"},
		{"stderr", "info", "app.db", "connected to db1"},
		{"stderr", "warning", "app.db", "slow query: 1200ms"},
		{"stderr", "error", "app.db", "lookup failed\nTraceback (most recent call last):"},
		{"stderr", "error", "app.db", "plain error"},
		{"stderr", "critical", "root", "going down"},
	}
	// stdout and stderr are separate pipes: order only within a stream.
	for _, w := range want {
		r := find(recs, "level", w.level)
		for _, c := range recs {
			if c["stream"] == w.stream && c["level"] == w.level && strings.HasPrefix(c["message"].(string), w.msg) {
				r = c
			}
		}
		if r == nil || r["stream"] != w.stream || !strings.HasPrefix(r["message"].(string), w.msg) {
			t.Errorf("no record %+v", w)
			continue
		}
		if w.logger != "" && r["logger"] != w.logger {
			t.Errorf("%q: logger %v, want %s", w.msg, r["logger"], w.logger)
		}
		if r["app_version"] != "1.2.3" {
			t.Errorf("%q: static field missing", w.msg)
		}
		k, _ := r["kubernetes"].(map[string]any)
		if k["pod_name"] != "web-0" || k["namespace_name"] != "prod" || k["host"] != "n1" {
			t.Errorf("%q: kubernetes = %v", w.msg, k)
		}
		if _, err := time.Parse(time.RFC3339Nano, r["time"].(string)); err != nil || !strings.HasSuffix(r["time"].(string), "Z") {
			t.Errorf("time %v: %v", r["time"], err)
		}
	}
	exc := find(recs, "exception_type", "KeyError")
	if exc == nil || exc["exception_message"] != "'missing'" || !strings.Contains(exc["message"].(string), `{}["missing"]`) {
		t.Errorf("exception record: %v", exc)
	}
}

func TestPythonJSONLogger(t *testing.T) {
	py := testenv.RequirePython(t, "pythonjsonlogger")
	out, _ := runChild(t, Options{}, py, "json_logger.py")
	t.Logf("%s", out)
	recs := decodeLines(t, out)
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3", len(recs))
	}
	r := recs[0]
	if r["level"] != "info" || r["message"] != "user login" || r["user_id"] != float64(42) || r["name"] != "svc" || r["ok"] != true || r["ratio"] != 0.5 {
		t.Errorf("merged record: %v", r)
	}
	if _, ok := r["levelname"]; ok {
		t.Errorf("levelname kept after mapping: %v", r)
	}
	// The app's own "stream" and "time" win over pysup's.
	if r := recs[1]; r["stream"] != "app-stream" || r["time"] != "app-time" || r["level"] != "warning" {
		t.Errorf("app fields must win: %v", r)
	}
	if r := recs[2]; r["level"] != "error" || !strings.Contains(r["exc_info"].(string), "ZeroDivisionError") {
		t.Errorf("exception record: %v", r)
	}
}

func TestStructlog(t *testing.T) {
	py := testenv.RequirePython(t, "structlog")
	out, _ := runChild(t, Options{}, py, "structlog_app.py")
	t.Logf("%s", out)
	recs := decodeLines(t, out)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2", len(recs))
	}
	if r := recs[0]; r["message"] != "order placed" || r["level"] != "info" || r["order_id"] != "A-17" || r["amount"] != 12.5 || r["timestamp"] == nil {
		t.Errorf("record: %v", r)
	}
	if r := recs[1]; r["level"] != "error" || r["reason"] != "insufficient \"funds\"\n" {
		t.Errorf("record: %v", r)
	}
}

func TestUncaughtChainedTraceback(t *testing.T) {
	py := testenv.RequirePython(t)
	out, _ := runChild(t, Options{}, py, "chained_exception.py")
	t.Logf("%s", out)
	recs := decodeLines(t, out)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2 (the print, and warning+traceback as one)", len(recs))
	}
	r := find(recs, "stream", "stderr")
	msg, _ := r["message"].(string)
	for _, part := range []string{
		"about to fail\nTraceback (most recent call last):",
		"ValueError: invalid literal for int() with base 10: 'x'",
		"The above exception was the direct cause of the following exception:",
		"During handling of the above exception, another exception occurred:",
		"RuntimeError: config broken",
	} {
		if !strings.Contains(msg, part) {
			t.Errorf("joined traceback lacks %q", part)
		}
	}
	if r["exception_type"] != "RuntimeError" || r["exception_message"] != "config broken" || r["level"] != "warning" {
		t.Errorf("record: %v", r)
	}
}

func TestGunicornAccessAndErrorLogs(t *testing.T) {
	py := testenv.RequirePython(t, "gunicorn")
	out, _ := runChild(t, Options{}, py, "gunicorn_run.py")
	t.Logf("%s", out)
	recs := decodeLines(t, out)
	var access, booted, boom map[string]any
	for _, r := range recs {
		msg, _ := r["message"].(string)
		switch {
		case r["stream"] == "stdout" && strings.Contains(msg, `"GET / HTTP/1.1" 200`):
			access = r
		case strings.Contains(msg, "[INFO] Booting worker"):
			booted = r
		case r["exception_type"] == "ValueError":
			boom = r
		}
	}
	if access == nil || access["level"] != "info" {
		t.Errorf("access log record: %v", access)
	}
	if booted == nil || booted["level"] != "info" || booted["stream"] != "stderr" {
		t.Errorf("error log record: %v", booted)
	}
	if boom == nil || boom["level"] != "error" || boom["exception_message"] != "boom from the app" ||
		!strings.Contains(boom["message"].(string), "[ERROR] Error handling request /boom\nTraceback") {
		t.Errorf("traceback record: %v", boom)
	}
}
