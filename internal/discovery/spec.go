package discovery

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options tunes the sources FromSpec makes.
type Options struct {
	// DNSInterval is how often a dns:// name is resolved again. Default 5s.
	DNSInterval time.Duration
	// DNSServer is the HOST:PORT of the DNS server for dns:// specs;
	// empty: the system resolver.
	DNSServer string
	// Kube locates the API server and credentials for k8s:// specs; the
	// zero value means in-cluster.
	Kube KubeConfig
	// Registerer receives the sources' metrics; nil: none.
	Registerer prometheus.Registerer
	// Log receives the sources' diagnostics; nil: discarded.
	Log *slog.Logger
}

// FromSpec returns the source a PYSUP_ZMQ_BACKENDS value describes:
// k8s://NAMESPACE/SERVICE:PORT, dns://NAME:PORT or tcp://A:P,tcp://B:P.
func FromSpec(spec string, opts Options) (Source, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(spec, "k8s://"):
		ref, err := parseKubeSpec(spec)
		if err != nil {
			return nil, err
		}
		return newKube(ref, opts.Kube, m, opts.Log)
	case strings.HasPrefix(spec, "dns://"):
		host, port, err := parseDNSSpec(spec)
		if err != nil {
			return nil, err
		}
		return newDNS(host, port, opts, m), nil
	}
	return ParseStatic(spec)
}

// CheckSpec reports whether spec is well formed, without touching the
// network or the file system.
func CheckSpec(spec string) error {
	var err error
	switch {
	case strings.HasPrefix(spec, "k8s://"):
		_, err = parseKubeSpec(spec)
	case strings.HasPrefix(spec, "dns://"):
		_, _, err = parseDNSSpec(spec)
	default:
		_, err = ParseStatic(spec)
	}
	return err
}

// CheckHostPort reports whether s is HOST:PORT with a numeric port.
func CheckHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("%q: empty host", s)
	}
	_, err = parsePort(port)
	return err
}

func parseDNSSpec(spec string) (host, port string, err error) {
	hp := strings.TrimPrefix(spec, "dns://")
	host, port, err = net.SplitHostPort(hp)
	if err != nil || host == "" {
		return "", "", fmt.Errorf("%q: want dns://NAME:PORT", spec)
	}
	if _, err := parsePort(port); err != nil {
		return "", "", fmt.Errorf("%q: %w", spec, err)
	}
	return host, port, nil
}
