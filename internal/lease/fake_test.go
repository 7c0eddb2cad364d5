package lease

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pysup/pysup/internal/kubeapi"
)

// fakeAPI is an in-memory Lease endpoint with resourceVersion checks, for
// the cases a real API server does not produce on demand (conflicts at a
// chosen moment, faults, hostile answers). The real server is tested in
// real_test.go.
type fakeAPI struct {
	mu     sync.Mutex
	leases map[string]map[string]any
	rv     int
	// fault, if set, answers a request instead of the store.
	fault func(w http.ResponseWriter, r *http.Request) bool
	reqs  int
	srv   *httptest.Server
}

func newFakeAPI(t *testing.T) (*fakeAPI, *Client) {
	t.Helper()
	f := &fakeAPI{leases: map[string]map[string]any{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	_ = os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}), 0o600)
	tok := filepath.Join(dir, "token")
	_ = os.WriteFile(tok, []byte("tok\n"), 0o600)
	api, err := kubeapi.New(kubeapi.Config{Server: f.srv.URL, TokenFile: tok, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	return f, &Client{API: api, Namespace: "ns"}
}

func status(w http.ResponseWriter, code int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"kind":"Status","code":%d,"reason":%q,"message":"fake"}`, code, reason)
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs++
	fault := f.fault
	f.mu.Unlock()
	if fault != nil && fault(w, r) {
		return
	}
	if r.Header.Get("Authorization") != "Bearer tok" {
		status(w, 401, "Unauthorized")
		return
	}
	const prefix = "/apis/coordination.k8s.io/v1/namespaces/ns/leases"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		status(w, 404, "NotFound")
		return
	}
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, prefix), "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	var obj map[string]any
	if r.Method != http.MethodGet {
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &obj); err != nil {
			status(w, 400, "BadRequest")
			return
		}
	}
	switch r.Method {
	case http.MethodGet:
		l, ok := f.leases[name]
		if !ok {
			status(w, 404, "NotFound")
			return
		}
		_ = json.NewEncoder(w).Encode(l)
	case http.MethodPost:
		md := obj["metadata"].(map[string]any)
		n := md["name"].(string)
		if _, ok := f.leases[n]; ok {
			status(w, 409, "AlreadyExists")
			return
		}
		f.store(n, obj)
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(obj)
	case http.MethodPut:
		old, ok := f.leases[name]
		if !ok {
			status(w, 404, "NotFound")
			return
		}
		if obj["metadata"].(map[string]any)["resourceVersion"] != old["metadata"].(map[string]any)["resourceVersion"] {
			status(w, 409, "Conflict")
			return
		}
		f.store(name, obj)
		_ = json.NewEncoder(w).Encode(obj)
	default:
		status(w, 405, "MethodNotAllowed")
	}
}

func (f *fakeAPI) store(name string, obj map[string]any) {
	f.rv++
	obj["metadata"].(map[string]any)["resourceVersion"] = strconv.Itoa(f.rv)
	f.leases[name] = obj
}

// spec returns a stored Lease's spec field.
func (f *fakeAPI) spec(name, field string) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.leases[name]
	if !ok {
		return nil
	}
	return l["spec"].(map[string]any)[field]
}

// setHolder overwrites a Lease's holder as another pod would.
func (f *fakeAPI) setHolder(name, holder string, renew string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.leases[name]
	if l == nil {
		l = map[string]any{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
			"metadata": map[string]any{"name": name, "namespace": "ns"}, "spec": map[string]any{}}
	}
	sp := l["spec"].(map[string]any)
	sp["holderIdentity"], sp["leaseDurationSeconds"], sp["renewTime"] = holder, 2, renew
	f.rv++
	l["metadata"].(map[string]any)["resourceVersion"] = strconv.Itoa(f.rv)
	f.leases[name] = l
}

func (f *fakeAPI) setFault(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.fault = fn
	f.mu.Unlock()
}
