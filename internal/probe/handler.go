package probe

import (
	"net/http"
	"time"
)

// NewHandler serves GET and HEAD /livez, /readyz and /startupz from h's
// cached state, and /metrics from metrics when it is not nil. ?verbose
// adds thresholds, counters and notify details to the JSON body.
func NewHandler(h *Health, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	for path, role := range map[string]Role{"/livez": RoleLive, "/readyz": RoleReady, "/startupz": RoleStartup} {
		mux.Handle("GET "+path, probeHandler(h, role))
	}
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	return mux
}

func probeHandler(h *Health, role Role) http.Handler {
	// The headers' values are shared by every response of this handler
	// (net/http only reads them), so a plain answer allocates nothing of
	// ours: a load balancer may ask far more often than the kubelet.
	headerJSON, headerNoStore, headerNoSniff := []string{"application/json"}, []string{"no-store"}, []string{"nosniff"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Parse the query only when there is one: the plain answer is
		// served from the cache without allocating.
		verbose := false
		if r.URL.RawQuery != "" {
			_, verbose = r.URL.Query()["verbose"]
		}
		a := h.answerFor(role, verbose)
		hd := w.Header()
		hd["Content-Type"] = headerJSON
		hd["Cache-Control"] = headerNoStore
		hd["X-Content-Type-Options"] = headerNoSniff
		w.WriteHeader(a.code)
		if r.Method != http.MethodHead {
			_, _ = w.Write(a.body)
		}
	})
}

// Server timeouts. A probe answer is ready in microseconds; the write
// timeout leaves room for /metrics, which may scrape the app.
const (
	ReadHeaderTimeout = 2 * time.Second
	ReadTimeout       = 5 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 60 * time.Second
	MaxHeaderBytes    = 16 << 10
)

// NewServer returns the *http.Server for addr (PYSUP_HTTP_ADDR) with
// pysup's timeouts, so a slow or idle client cannot hold a connection.
func NewServer(addr string, handler http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}
