package discovery

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pysup/pysup/internal/discovery/kubetest"
)

// snapshots collects a source's updates.
type snapshots struct {
	mu   sync.Mutex
	all  [][]Endpoint
	cond chan struct{}
}

func (s *snapshots) update(eps []Endpoint) {
	s.mu.Lock()
	s.all = append(s.all, eps)
	s.mu.Unlock()
	select {
	case s.cond <- struct{}{}:
	default:
	}
}

// waitFor waits for a snapshot equal to want.
func (s *snapshots) waitFor(t *testing.T, want ...Endpoint) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		s.mu.Lock()
		var last []Endpoint
		if n := len(s.all); n > 0 {
			last = s.all[n-1]
		}
		s.mu.Unlock()
		if slices.Equal(last, want) || (len(last) == 0 && len(want) == 0 && last != nil) {
			return
		}
		select {
		case <-s.cond:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("never got %v; last %v", want, last)
		}
	}
}

func runSource(t *testing.T, src Source) *snapshots {
	t.Helper()
	s := &snapshots{cond: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, s.update) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

func ep(addr string, ready, serving, terminating bool) Endpoint {
	return Endpoint{Addr: addr, Ready: ready, Serving: serving, Terminating: terminating}
}

// The k8s source against a real kube-apiserver, with a ServiceAccount
// token bound to the minimal Role: list, watch, conditions, several
// slices, deletion; and the token is refused everything else.
func TestKubeSourceRealAPIServer(t *testing.T) {
	c := kubetest.Start(t)
	const ns = "zmq"
	token := c.ServiceAccountToken(ns, "client")
	if code, _, _ := c.Do(token, "GET", "/api/v1/namespaces/"+ns+"/pods", nil); code != 403 {
		t.Errorf("the minimal Role should not list pods: got %d", code)
	}
	c.Service(ns, "backend", "zmq", 5555)
	c.Slice(ns, "backend", "backend-a", "zmq", 6000,
		kubetest.Endpoint{IP: "10.201.0.2", Ready: true, Serving: true},
		kubetest.Endpoint{IP: "10.201.0.3", Ready: true, Serving: true})
	// A slice of another Service is ignored.
	c.Slice(ns, "other", "other-a", "zmq", 6000, kubetest.Endpoint{IP: "10.201.0.9", Ready: true, Serving: true})

	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	src, err := FromSpec("k8s://"+ns+"/backend:zmq", Options{Kube: KubeConfig{Server: c.URL, TokenFile: tokFile, CAFile: c.CAFile}, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	s := runSource(t, src)
	s.waitFor(t, ep("10.201.0.2:6000", true, true, false), ep("10.201.0.3:6000", true, true, false))

	// Flip one not ready (terminating, still serving).
	c.Slice(ns, "backend", "backend-a", "zmq", 6000,
		kubetest.Endpoint{IP: "10.201.0.2", Ready: false, Serving: true, Terminating: true},
		kubetest.Endpoint{IP: "10.201.0.3", Ready: true, Serving: true})
	s.waitFor(t, ep("10.201.0.2:6000", false, true, true), ep("10.201.0.3:6000", true, true, false))

	// A second slice adds an endpoint; the same address in two slices merges.
	c.Slice(ns, "backend", "backend-b", "zmq", 6000,
		kubetest.Endpoint{IP: "10.201.0.4", Ready: true, Serving: true},
		kubetest.Endpoint{IP: "10.201.0.3", Ready: false, Serving: false})
	s.waitFor(t, ep("10.201.0.2:6000", false, true, true), ep("10.201.0.3:6000", true, true, false), ep("10.201.0.4:6000", true, true, false))

	c.DeleteSlice(ns, "backend-a")
	s.waitFor(t, ep("10.201.0.3:6000", false, false, false), ep("10.201.0.4:6000", true, true, false))
	c.DeleteSlice(ns, "backend-b")
	s.waitFor(t)

	// A port name the slices lack gives no endpoints; a number is used as is.
	if got := Usable([]Endpoint{ep("a", false, true, true), ep("b", false, false, false)}); len(got) != 1 || got[0].Addr != "a" {
		t.Errorf("Usable fallback to serving: %v", got)
	}
	if n := counterValue(src.(*Kube).m.errors.WithLabelValues("k8s", "auth")); n != 0 {
		t.Errorf("auth errors: %v", n)
	}
}

// A wrong token is counted as an auth error and retried, never fatal.
func TestKubeSourceForbidden(t *testing.T) {
	c := kubetest.Start(t)
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	_ = os.WriteFile(tokFile, []byte("not-a-token"), 0o600)
	reg := prometheus.NewRegistry()
	src, err := FromSpec("k8s://default/backend:5555", Options{Kube: KubeConfig{Server: c.URL, TokenFile: tokFile, CAFile: c.CAFile}, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	runSource(t, src)
	k := src.(*Kube)
	deadline := time.Now().Add(10 * time.Second)
	for counterValue(k.m.errors.WithLabelValues("k8s", "auth")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("auth failures not counted and retried")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A hostile or broken API server (garbage, huge events, 410 Gone,
// unknown event types) costs counted errors and re-lists, never a crash
// or unbounded memory; good data after it is still followed.
func TestKubeSourceHostileAPIServer(t *testing.T) {
	var mu sync.Mutex
	lists, watches := 0, 0
	slice := func(name, rv, ip string) string {
		return fmt.Sprintf(`{"metadata":{"name":%q,"resourceVersion":%q},"addressType":"IPv4","endpoints":[{"addresses":[%q],"conditions":{"ready":true}}],"ports":[{"name":"zmq","port":7000,"protocol":"TCP"}]}`, name, rv, ip)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Query().Get("labelSelector") != "kubernetes.io/service-name=svc" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "bad request", 400)
			return
		}
		if r.URL.Query().Get("watch") == "" {
			lists++
			switch lists {
			case 1:
				fmt.Fprint(w, "<html>garbage</html>")
			default:
				fmt.Fprintf(w, `{"metadata":{"resourceVersion":"10"},"items":[%s]}`, slice("a", "9", "10.0.0.1"))
			}
			return
		}
		watches++
		if r.URL.Query().Get("allowWatchBookmarks") != "true" {
			http.Error(w, "want bookmarks", 400)
			return
		}
		switch watches {
		case 1:
			fmt.Fprintf(w, "{\"type\":\"ADDED\",\"object\":%s}\n", slice("b", "11", "10.0.0.2"))
			fmt.Fprint(w, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n")
		case 2:
			w.Write([]byte(`{"type":"ADDED","object":{"metadata":{"name":"x"},"pad":"` + strings.Repeat("A", 5<<20) + "\"}}\n"))
		case 3:
			fmt.Fprint(w, "{\"type\":\"WEIRD\",\"object\":{}}\n")
		case 4:
			fmt.Fprintf(w, "{\"type\":\"ADDED\",\"object\":%s}\n", strings.Replace(slice("c", "12", "10.0.0.3"), "10.0.0.3", "127.0.0.999", 1))
		default:
			fmt.Fprintf(w, "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"20\"}}}\n")
			fmt.Fprintf(w, "{\"type\":\"MODIFIED\",\"object\":%s}\n", slice("a", "21", "10.0.0.5"))
			time.Sleep(100 * time.Millisecond)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	_ = os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	tok := filepath.Join(dir, "token")
	_ = os.WriteFile(tok, []byte("tok\n"), 0o600)
	src, err := FromSpec("k8s://ns/svc:zmq", Options{Kube: KubeConfig{Server: srv.URL, TokenFile: tok, CAFile: ca}})
	if err != nil {
		t.Fatal(err)
	}
	s := runSource(t, src)
	s.waitFor(t, ep("10.0.0.5:7000", true, true, false))
	k := src.(*Kube)
	for _, r := range []string{"decode", "too_large"} {
		if n := counterValue(k.m.errors.WithLabelValues("k8s", r)); n < 1 {
			t.Errorf("%s errors = %v, want counted", r, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if lists < 4 {
		t.Errorf("lists = %d: want a re-list after 410 and after each bad stream", lists)
	}
}

func TestParseSpecs(t *testing.T) {
	good := []string{"k8s://ns/svc:5555", "k8s://ns/svc:zmq", "dns://backend.ns.svc:5555", "tcp://a:1,tcp://b:2", "ipc:///tmp/x"}
	bad := []string{"k8s://ns/svc", "k8s://NS/svc:1", "k8s://ns/svc:0", "k8s://ns/svc:toolongportname1", "dns://x", "dns://x:y", "tcp://a", "udp://a:1", "", "tcp://a:70000"}
	for _, s := range good {
		if err := CheckSpec(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range bad {
		if err := CheckSpec(s); err == nil {
			t.Errorf("%q: accepted", s)
		}
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
