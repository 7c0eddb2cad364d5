package kubeapi

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// saDir writes a service account directory for srv.
func saDir(t *testing.T, srv *httptest.Server, token, ns string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"ca.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
		"token":  []byte(token + "\n"),
	}
	if ns != "" {
		files["namespace"] = []byte(ns)
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The in-cluster configuration from the environment and the service
// account directory; the token re-read on every request, as the kubelet
// rotates it; status errors typed; bodies bounded.
func TestClientInCluster(t *testing.T) {
	var seen []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/conflict":
			w.WriteHeader(409)
			_, _ = w.Write([]byte(`{"kind":"Status","code":409,"reason":"Conflict","message":"the object has been modified"}`))
		case "/forbidden":
			w.WriteHeader(403)
		case "/big":
			_, _ = w.Write([]byte(`{"x":"` + strings.Repeat("a", 2000) + `"}`))
		default:
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	dir := saDir(t, srv, "tok-1", "apps")
	host, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "https://"), ":")
	env := map[string]string{"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port, "POD_NAMESPACE": "other"}
	cfg := Config{Dir: dir, Getenv: func(k string) string { return env[k] }}
	if ns, err := cfg.Namespace(); err != nil || ns != "apps" {
		t.Errorf("namespace %q %v: want the service account's", ns, err)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out struct{ OK bool }
	if err := c.Call(ctx, time.Second, "GET", "/x", nil, 100, &out); err != nil || !out.OK {
		t.Fatalf("call: %v %+v", err, out)
	}
	_ = os.WriteFile(filepath.Join(dir, "token"), []byte("tok-2"), 0o600) // rotated
	_ = c.Call(ctx, time.Second, "GET", "/x", nil, 100, nil)
	if len(seen) != 2 || seen[0] != "Bearer tok-1" || seen[1] != "Bearer tok-2" {
		t.Errorf("tokens sent %q: want the rotated one re-read", seen)
	}
	err = c.Call(ctx, time.Second, "PUT", "/conflict", []byte(`{}`), 100, nil)
	var se *StatusError
	if !errors.Is(err, ErrConflict) || !errors.As(err, &se) || se.Reason != "Conflict" || Reason(err) != "conflict" {
		t.Errorf("409: %v", err)
	}
	if err := c.Call(ctx, time.Second, "GET", "/forbidden", nil, 100, nil); !errors.Is(err, ErrAuth) {
		t.Errorf("403: %v", err)
	}
	if err := c.Call(ctx, time.Second, "GET", "/big", nil, 1000, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("big body: %v", err)
	}

	// Without the namespace file: POD_NAMESPACE; without either: an error.
	_ = os.Remove(filepath.Join(dir, "namespace"))
	if ns, _ := cfg.Namespace(); ns != "other" {
		t.Errorf("namespace %q, want POD_NAMESPACE's", ns)
	}
	delete(env, "POD_NAMESPACE")
	if _, err := cfg.Namespace(); err == nil {
		t.Error("namespace from nowhere")
	}
	delete(env, "KUBERNETES_SERVICE_HOST")
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "KUBERNETES_SERVICE_HOST") {
		t.Errorf("outside a cluster: %v", err)
	}
	if _, err := New(Config{Server: "http://x:1", Dir: dir}); err == nil {
		t.Error("plain http accepted")
	}
}
