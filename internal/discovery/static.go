package discovery

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// Static is a fixed list of endpoints, all ready.
type Static []Endpoint

// ParseStatic reads `tcp://A:P,tcp://B:P` (ipc:///PATH entries too).
func ParseStatic(spec string) (Static, error) {
	var out Static
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		switch {
		case strings.HasPrefix(item, "tcp://"):
			hp := strings.TrimPrefix(item, "tcp://")
			host, port, err := net.SplitHostPort(hp)
			if err != nil || host == "" || port == "" {
				return nil, fmt.Errorf("%q: want tcp://HOST:PORT", item)
			}
			if _, err := parsePort(port); err != nil {
				return nil, fmt.Errorf("%q: %w", item, err)
			}
			out = append(out, Endpoint{Addr: net.JoinHostPort(host, port), Ready: true, Serving: true})
		case strings.HasPrefix(item, "ipc://") && len(item) > len("ipc://"):
			out = append(out, Endpoint{Addr: item, Ready: true, Serving: true})
		default:
			return nil, fmt.Errorf("%q: want tcp://HOST:PORT or ipc:///PATH", item)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no endpoint in %q", spec)
	}
	return Static(normalize(out)), nil
}

// Run reports the list once and waits for ctx.
func (s Static) Run(ctx context.Context, update func([]Endpoint)) error {
	update(append([]Endpoint(nil), s...))
	<-ctx.Done()
	return ctx.Err()
}

// String names the source for logs.
func (s Static) String() string {
	addrs := make([]string, len(s))
	for i, e := range s {
		addrs[i] = e.Addr
	}
	return "static " + strings.Join(addrs, ",")
}

// parsePort accepts a port number 1-65535.
func parsePort(s string) (int, error) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' || n > 65535 {
			return 0, fmt.Errorf("port %q: want a number 1-65535", s)
		}
		n = n*10 + int(c-'0')
	}
	if s == "" || n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %q: want a number 1-65535", s)
	}
	return n, nil
}
