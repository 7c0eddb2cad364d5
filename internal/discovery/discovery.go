// Package discovery follows the endpoints of a service: a static list, the
// A/AAAA records of a DNS name, or a Kubernetes Service's EndpointSlices.
// Every source delivers full snapshots, so consumers never merge deltas.
package discovery

import (
	"context"
	"slices"
	"strings"
)

// Endpoint is one address of a service with its Kubernetes conditions.
// Static and DNS endpoints are always ready and serving.
type Endpoint struct {
	// Addr is host:port, the host an IP address or a name.
	Addr string
	// Ready: the endpoint should receive new traffic.
	Ready bool
	// Serving: the endpoint still answers, even if terminating.
	Serving bool
	// Terminating: the endpoint's pod is being deleted.
	Terminating bool
}

// Source delivers the current endpoints of one service.
type Source interface {
	// Run calls update with a full snapshot each time the set changes (the
	// first snapshot as soon as it is known), never concurrently, until ctx
	// is done. It returns ctx's error then, or an error that makes further
	// updates impossible (for example a configuration it cannot use).
	Run(ctx context.Context, update func([]Endpoint)) error
	// String describes the source for logs.
	String() string
}

// Usable returns the endpoints that should receive new requests: the ready
// ones, or when none is ready the serving ones, as kube-proxy does, so that
// a service whose pods are all terminating keeps answering while it can.
func Usable(eps []Endpoint) []Endpoint {
	var ready, serving []Endpoint
	for _, e := range eps {
		switch {
		case e.Ready:
			ready = append(ready, e)
		case e.Serving:
			serving = append(serving, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return serving
}

// normalize sorts a snapshot by address and merges duplicates (one address
// may appear in several EndpointSlices during a rollout), keeping the most
// favourable conditions, so equal sets compare equal.
func normalize(eps []Endpoint) []Endpoint {
	out := slices.Clone(eps)
	slices.SortFunc(out, func(a, b Endpoint) int { return strings.Compare(a.Addr, b.Addr) })
	merged := out[:0]
	for _, e := range out {
		if n := len(merged); n > 0 && merged[n-1].Addr == e.Addr {
			m := &merged[n-1]
			m.Ready = m.Ready || e.Ready
			m.Serving = m.Serving || e.Serving
			m.Terminating = m.Terminating && e.Terminating
			continue
		}
		merged = append(merged, e)
	}
	return merged
}
