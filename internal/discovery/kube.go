package discovery

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pysup/pysup/internal/kubeapi"
)

// kubeRef names a Service port: k8s://NAMESPACE/SERVICE:PORT.
type kubeRef struct {
	namespace, service, port string // port: a number or a port name
}

func parseKubeSpec(spec string) (kubeRef, error) {
	rest := strings.TrimPrefix(spec, "k8s://")
	ns, svcPort, ok := strings.Cut(rest, "/")
	svc, port, ok2 := strings.Cut(svcPort, ":")
	if !ok || !ok2 || !isDNSLabel(ns) || !isDNSLabel(svc) || port == "" {
		return kubeRef{}, fmt.Errorf("%q: want k8s://NAMESPACE/SERVICE:PORT (PORT a number or a port name)", spec)
	}
	if port[0] >= '0' && port[0] <= '9' {
		if _, err := parsePort(port); err != nil {
			return kubeRef{}, fmt.Errorf("%q: %w", spec, err)
		}
	} else if !isDNSLabel(port) || len(port) > 15 {
		return kubeRef{}, fmt.Errorf("%q: port name %q is not a valid IANA service name", spec, port)
	}
	return kubeRef{namespace: ns, service: svc, port: port}, nil
}

// isDNSLabel: lowercase letters, digits and '-', 1-63 long, alphanumeric
// at both ends (RFC 1123), as namespaces and Service names are.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// KubeConfig locates the API server and the credentials; the zero value
// means in-cluster (see kubeapi.Config).
type KubeConfig = kubeapi.Config

// Limits of what the client reads.
const (
	maxListBytes   = 32 << 20 // one page of a list
	maxEventBytes  = 4 << 20  // one watch event (an EndpointSlice holds at most 1000 endpoints)
	listPageSize   = 500
	watchTimeout   = 5 * time.Minute // the server ends a watch after this; we rewatch
	watchIdle      = 2 * time.Minute // no event or bookmark for this long: rewatch
	requestTimeout = kubeapi.RequestTimeout
	backoffMin     = 200 * time.Millisecond
	backoffMax     = 30 * time.Second
)

// Kube follows a Service's EndpointSlices: list, then watch from the
// list's resourceVersion with bookmarks, list again on 410 Gone, reconnect
// with jittered backoff. It needs only get/list/watch on endpointslices.
type Kube struct {
	ref kubeRef
	api *kubeapi.Client
	m   *metrics
	log *slog.Logger

	slices map[string][]Endpoint // by slice name
	rv     string
	last   []Endpoint
	sent   bool
}

func newKube(ref kubeRef, cfg KubeConfig, m *metrics, log *slog.Logger) (*Kube, error) {
	api, err := kubeapi.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("k8s://: %w", err)
	}
	return &Kube{ref: ref, api: api, m: m, log: log}, nil
}

// String names the source for logs.
func (k *Kube) String() string {
	return fmt.Sprintf("k8s %s/%s:%s", k.ref.namespace, k.ref.service, k.ref.port)
}

// Run lists and watches until ctx is done.
func (k *Kube) Run(ctx context.Context, update func([]Endpoint)) error {
	backoff := backoffMin
	for {
		err := k.list(ctx)
		if err == nil {
			k.publish(update)
			for err == nil {
				// A watch ends cleanly when the server times it out; go on
				// from the last resourceVersion without listing again.
				err = k.watch(ctx, update)
			}
			backoff = backoffMin
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errGone) {
			k.log.Info("endpointslice watch expired; listing again", "source", k.String())
			continue
		}
		k.m.errors.WithLabelValues("k8s", errReason(err)).Inc()
		wait := backoff/2 + rand.N(backoff/2+1)
		k.log.Warn("endpointslice list/watch failed; retrying", "source", k.String(), "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(2*backoff, backoffMax)
	}
}

var (
	errGone     = kubeapi.ErrGone
	errAuth     = kubeapi.ErrAuth
	errTooLarge = kubeapi.ErrTooLarge
)

func errReason(err error) string {
	switch {
	case errors.Is(err, errAuth):
		return "auth"
	case errors.Is(err, errBadObject), errors.Is(err, errDecode):
		return "decode"
	case errors.Is(err, errTooLarge):
		return "too_large"
	case errors.Is(err, errHTTP):
		return "http"
	}
	return "connection"
}

var (
	errDecode = kubeapi.ErrDecode
	errHTTP   = kubeapi.ErrHTTP
)

func (k *Kube) get(ctx context.Context, q url.Values) (*http.Response, error) {
	q.Set("labelSelector", "kubernetes.io/service-name="+k.ref.service)
	return k.api.Do(ctx, http.MethodGet, fmt.Sprintf("/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices", k.ref.namespace), q, nil)
}

// list replaces the state with a fresh, paged list.
func (k *Kube) list(ctx context.Context) error {
	state := make(map[string][]Endpoint)
	cont := ""
	for {
		q := url.Values{"limit": {fmt.Sprint(listPageSize)}}
		if cont != "" {
			q.Set("continue", cont)
		}
		lctx, cancel := context.WithTimeout(ctx, requestTimeout)
		resp, err := k.get(lctx, q)
		if err != nil {
			cancel()
			return fmt.Errorf("list: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxListBytes+1))
		resp.Body.Close()
		cancel()
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		if len(body) > maxListBytes {
			return fmt.Errorf("list: %w (over %d bytes)", errTooLarge, maxListBytes)
		}
		var l sliceList
		if err := json.Unmarshal(body, &l); err != nil {
			return fmt.Errorf("list: %w: %w", errDecode, err)
		}
		for _, raw := range l.Items {
			name, _, eps, err := decodeSlice(raw, k.ref.port)
			if err != nil {
				return fmt.Errorf("list: %w", err)
			}
			state[name] = eps
		}
		if l.Metadata.Continue == "" {
			if l.Metadata.ResourceVersion == "" {
				return fmt.Errorf("list: %w: no resourceVersion", errDecode)
			}
			k.slices, k.rv = state, l.Metadata.ResourceVersion
			return nil
		}
		cont = l.Metadata.Continue
	}
}

// watch streams events from k.rv until the stream ends (nil) or fails.
func (k *Kube) watch(ctx context.Context, update func([]Endpoint)) error {
	wctx, cancel := context.WithTimeout(ctx, watchTimeout+time.Minute)
	defer cancel()
	q := url.Values{
		"watch":               {"1"},
		"allowWatchBookmarks": {"true"},
		"resourceVersion":     {k.rv},
		"timeoutSeconds":      {fmt.Sprint(int(watchTimeout.Seconds()))},
	}
	resp, err := k.get(wctx, q)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer resp.Body.Close()
	// A peer that vanished without a reset would hold the watch until TCP
	// keepalive gives up (minutes). The API server sends a bookmark about
	// every minute, so silence for watchIdle ends the watch; it resumes
	// from the last resourceVersion, without a list.
	var idle atomic.Bool
	timer := time.AfterFunc(watchIdle, func() { idle.Store(true); cancel() })
	defer timer.Stop()
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := readLine(r, maxEventBytes)
		if err == io.EOF || (err != nil && idle.Load()) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		timer.Reset(watchIdle)
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		changed, err := k.apply(line)
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		if changed {
			k.publish(update)
		}
	}
}

// apply folds one watch event into the state.
func (k *Kube) apply(line []byte) (changed bool, err error) {
	var ev watchEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		return false, fmt.Errorf("%w: event: %w", errDecode, err)
	}
	switch ev.Type {
	case "ADDED", "MODIFIED", "DELETED":
		name, rv, eps, err := decodeSlice(ev.Object, k.ref.port)
		if err != nil {
			return false, err
		}
		if rv != "" {
			k.rv = rv
		}
		if ev.Type == "DELETED" {
			delete(k.slices, name)
		} else {
			k.slices[name] = eps
		}
		return true, nil
	case "BOOKMARK":
		var obj struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(ev.Object, &obj); err != nil {
			return false, fmt.Errorf("%w: bookmark: %w", errDecode, err)
		}
		if obj.Metadata.ResourceVersion != "" {
			k.rv = obj.Metadata.ResourceVersion
		}
		return false, nil
	case "ERROR":
		var st apiStatus
		_ = json.Unmarshal(ev.Object, &st)
		if st.Code == http.StatusGone || st.Reason == "Expired" || st.Reason == "Gone" {
			return false, errGone
		}
		return false, fmt.Errorf("%w: watch error %d %s: %s", errHTTP, st.Code, st.Reason, st.Message)
	}
	return false, fmt.Errorf("%w: event type %q", errDecode, ev.Type)
}

// publish delivers the union of the slices when it changed.
func (k *Kube) publish(update func([]Endpoint)) {
	var all []Endpoint
	for _, eps := range k.slices {
		all = append(all, eps...)
	}
	all = normalize(all)
	if k.sent && slices.Equal(all, k.last) {
		return
	}
	k.last, k.sent = all, true
	k.m.updates.WithLabelValues("k8s").Inc()
	update(slices.Clone(all))
}

// readLine reads one newline-terminated line of at most max bytes.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > max {
			return nil, fmt.Errorf("%w: event over %d bytes", errTooLarge, max)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(line) > 0:
			return line, nil
		}
		return nil, err
	}
}
