// Package kubeapi is pysup's small client of the Kubernetes API: the
// in-cluster configuration (KUBERNETES_SERVICE_HOST/PORT, the service
// account's token re-read as the kubelet rotates it, its CA and namespace),
// one HTTP client with timeouts, bounded reads and typed status errors.
// It is the transport under internal/discovery (EndpointSlices) and
// internal/lease (Leases); client-go would weigh more than all of pysup.
package kubeapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultDir is where the kubelet mounts the service account's token,
// ca.crt and namespace.
const DefaultDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// RequestTimeout bounds the response headers of one request.
const RequestTimeout = 30 * time.Second

// Config locates the API server and the credentials. The zero value means
// in-cluster: KUBERNETES_SERVICE_HOST and _PORT, and the files of DefaultDir.
type Config struct {
	// Server is the API server's base URL (https://HOST:PORT); empty:
	// from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.
	Server string
	// Dir holds the service account's token, ca.crt and namespace;
	// empty: DefaultDir.
	Dir string
	// TokenFile, CAFile override Dir's token and ca.crt. The token is
	// re-read on every request, as the kubelet rotates projected tokens.
	TokenFile, CAFile string
	// Getenv reads the environment; nil: os.Getenv.
	Getenv func(string) string
}

func (c Config) getenv(k string) string {
	if c.Getenv != nil {
		return c.Getenv(k)
	}
	return os.Getenv(k)
}

func (c Config) dir() string {
	if c.Dir != "" {
		return c.Dir
	}
	return DefaultDir
}

// Namespace is the pod's namespace: the service account's namespace file,
// else POD_NAMESPACE (the Downward API), else an error.
func (c Config) Namespace() (string, error) {
	b, err := os.ReadFile(filepath.Join(c.dir(), "namespace"))
	if ns := strings.TrimSpace(string(b)); err == nil && ns != "" {
		return ns, nil
	}
	if ns := c.getenv("POD_NAMESPACE"); ns != "" {
		return ns, nil
	}
	return "", fmt.Errorf("namespace unknown: no %s and POD_NAMESPACE unset", filepath.Join(c.dir(), "namespace"))
}

// Client sends requests to one API server with the service account's token.
type Client struct {
	base  *url.URL
	token string // file, re-read per request
	hc    *http.Client
}

// New checks the configuration (server URL, CA, token file present) and
// returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.Server == "" {
		host, port := cfg.getenv("KUBERNETES_SERVICE_HOST"), cfg.getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, errors.New("not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset)")
		}
		cfg.Server = "https://" + net.JoinHostPort(host, port)
	}
	if cfg.TokenFile == "" {
		cfg.TokenFile = filepath.Join(cfg.dir(), "token")
	}
	if cfg.CAFile == "" {
		cfg.CAFile = filepath.Join(cfg.dir(), "ca.crt")
	}
	base, err := url.Parse(cfg.Server)
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("API server %q: want https://HOST:PORT", cfg.Server)
	}
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA %s: no certificate", cfg.CAFile)
	}
	if _, err := os.Stat(cfg.TokenFile); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	tr := &http.Transport{
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: RequestTimeout,
		MaxIdleConns:          2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}
	return &Client{base: base, token: cfg.TokenFile, hc: &http.Client{Transport: tr}}, nil
}

// Errors of requests; a *StatusError matches the one for its code with
// errors.Is.
var (
	ErrNotFound = errors.New("not found (404)")
	ErrConflict = errors.New("conflict (409)")
	ErrGone     = errors.New("resourceVersion too old (410 Gone)")
	ErrAuth     = errors.New("not authorized")
	ErrHTTP     = errors.New("unexpected HTTP status")
	ErrTooLarge = errors.New("response too large")
	ErrDecode   = errors.New("undecodable response")
)

// StatusError is a non-2xx answer with the message of its Status body.
type StatusError struct {
	Code    int
	Status  string // "409 Conflict"
	Reason  string // the Status object's reason: AlreadyExists, Conflict, ...
	Message string
}

func (e *StatusError) Error() string {
	msg := e.Status
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap maps the code to one of the sentinel errors.
func (e *StatusError) Unwrap() error {
	switch e.Code {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	case http.StatusGone:
		return ErrGone
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrAuth
	}
	return ErrHTTP
}

// Status is the API's error object (kind Status).
type Status struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Do sends one request (body JSON, may be nil) to path with query and
// returns the response when its status is 2xx; the caller closes its body.
// Any other status is a *StatusError.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body []byte) (*http.Response, error) {
	tok, err := os.ReadFile(c.token) // re-read: kubelet rotates projected tokens
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	u := *c.base
	u.Path = path
	u.RawQuery = query.Encode()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(tok)))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "pysup")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var st Status
	_ = json.Unmarshal(b, &st)
	return nil, &StatusError{Code: resp.StatusCode, Status: resp.Status, Reason: st.Reason, Message: st.Message}
}

// Call sends a request and reads a 2xx answer of at most max bytes into
// out (unless nil), within timeout.
func (c *Client) Call(ctx context.Context, timeout time.Duration, method, path string, body []byte, max int64, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.Do(ctx, method, path, nil, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return err
	}
	if int64(len(b)) > max {
		return fmt.Errorf("%w (over %d bytes)", ErrTooLarge, max)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: %w", ErrDecode, err)
	}
	return nil
}

// Reason names an error's kind for metrics labels: auth, not_found,
// conflict, gone, http, too_large, decode, timeout or connection.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrGone):
		return "gone"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, ErrDecode):
		return "decode"
	case errors.Is(err, ErrHTTP):
		return "http"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "connection"
}
