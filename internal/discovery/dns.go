package discovery

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"time"
)

// DNS resolves a name's A and AAAA records periodically: the endpoints of
// a headless Service. Every address is ready; a failed lookup keeps the
// last set (a DNS hiccup must not empty the backends), a name that does not
// exist gives none.
type DNS struct {
	host, port string
	interval   time.Duration
	resolver   *net.Resolver
	m          *metrics
	log        *slog.Logger
}

func newDNS(host, port string, opts Options, m *metrics) *DNS {
	d := &DNS{host: host, port: port, interval: opts.DNSInterval, resolver: net.DefaultResolver, m: m, log: opts.Log}
	if d.interval <= 0 {
		d.interval = 5 * time.Second
	}
	if opts.DNSServer != "" {
		server := opts.DNSServer
		d.resolver = &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var dl net.Dialer
				return dl.DialContext(ctx, network, server)
			},
		}
	}
	return d
}

// Run resolves at once, then every interval.
func (d *DNS) Run(ctx context.Context, update func([]Endpoint)) error {
	var last []Endpoint
	first := true
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		eps, err := d.resolve(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			d.m.errors.WithLabelValues("dns", "lookup").Inc()
			d.log.Warn("dns lookup failed; keeping the last endpoints", "name", d.host, "err", err)
		case first || !slices.Equal(eps, last):
			d.m.updates.WithLabelValues("dns").Inc()
			update(slices.Clone(eps))
			last, first = eps, false
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (d *DNS) resolve(ctx context.Context) ([]Endpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, min(d.interval, 5*time.Second))
	defer cancel()
	ips, err := d.resolver.LookupIPAddr(ctx, d.host)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return []Endpoint{}, nil
	}
	if err != nil {
		return nil, err
	}
	eps := make([]Endpoint, 0, len(ips))
	for _, ip := range ips {
		eps = append(eps, Endpoint{Addr: net.JoinHostPort(ip.IP.String(), d.port), Ready: true, Serving: true})
	}
	return normalize(eps), nil
}

// String names the source for logs.
func (d *DNS) String() string { return "dns " + net.JoinHostPort(d.host, d.port) }
