package probe

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a reusable http.ResponseWriter, so what is measured is
// the handler's own work, not the recorder's.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
func (d *discardWriter) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }

// A plain probe answer comes from the cache: the handler allocates
// nothing, so a flood of probes (a load balancer asking often) makes no
// garbage for the collector to stop pysup over.
func TestPlainAnswerAllocatesNothing(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	handler := NewHandler(h, nil)
	req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
	w := &discardWriter{h: http.Header{}}
	handler.ServeHTTP(w, req)
	if w.code != http.StatusServiceUnavailable || w.n == 0 {
		t.Fatalf("/readyz answered %d with %d bytes, want 503 (not started) and a body", w.code, w.n)
	}
	if allocs := testing.AllocsPerRun(1000, func() { handler.ServeHTTP(w, req) }); allocs != 0 {
		t.Errorf("/readyz: %.1f allocations per answer, want 0", allocs)
	}
}
