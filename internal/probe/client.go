package probe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// ClientTimeout bounds one `pysup probe` request: pysup answers from cached
// state, so anything slower means pysup itself is in trouble.
const ClientTimeout = 2 * time.Second

// endpoints maps `pysup probe` arguments to paths.
var endpoints = map[string]string{"live": "/livez", "ready": "/readyz", "startup": "/startupz"}

// ClientAddr turns a listen address (PYSUP_HTTP_ADDR) into one to connect
// to: an empty or unspecified host becomes loopback (":9180" ->
// "127.0.0.1:9180").
func ClientAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0", "::", "[::]":
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Ask asks the running pysup at addr (HOST:PORT or a URL) for the probe
// which (live, ready or startup). It returns the exit code for an exec
// probe, 0 when the answer is 200 and 1 otherwise, and the reason: the
// response body, or what went wrong.
func Ask(ctx context.Context, addr, which string) (int, string) {
	path, ok := endpoints[which]
	if !ok {
		return 2, fmt.Sprintf("unknown probe %q: want live, ready or startup", which)
	}
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	ctx, cancel := context.WithTimeout(ctx, ClientTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return 1, err.Error()
	}
	// Loopback only: no proxy from the environment, no kept connection.
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 1, fmt.Sprintf("asking pysup: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	reason := strings.TrimSpace(string(b))
	if resp.StatusCode != http.StatusOK {
		return 1, fmt.Sprintf("%s: %s", resp.Status, reason)
	}
	return 0, reason
}

// Main is `pysup probe live|ready|startup [--addr HOST:PORT]`. listen is
// PYSUP_HTTP_ADDR, the default address. The reason goes to stderr on
// failure; the result is the exit code.
func Main(ctx context.Context, args []string, listen string, stderr io.Writer) int {
	usage := "usage: pysup probe live|ready|startup [--addr HOST:PORT]"
	addr := ClientAddr(listen)
	var which string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--addr" || a == "-addr":
			if i+1 >= len(args) {
				fmt.Fprintln(stderr, usage)
				return 2
			}
			i++
			addr = args[i]
		case strings.HasPrefix(a, "--addr=") || strings.HasPrefix(a, "-addr="):
			_, addr, _ = strings.Cut(a, "=")
		case which == "" && !strings.HasPrefix(a, "-"):
			which = a
		default:
			fmt.Fprintln(stderr, usage)
			return 2
		}
	}
	if which == "" || addr == "" {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	code, reason := Ask(ctx, addr, which)
	if code != 0 {
		fmt.Fprintf(stderr, "pysup probe %s: %s\n", which, reason)
	}
	return code
}
