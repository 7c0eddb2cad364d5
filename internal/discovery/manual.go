package discovery

import (
	"context"
	"slices"
	"sync"
)

// Manual is a source whose endpoints are set by its owner, for programs
// that learn endpoints some other way (and for tests of consumers).
// The zero value has no endpoints and is ready to use.
type Manual struct {
	mu      sync.Mutex
	eps     []Endpoint
	version uint64
	changed chan struct{} // closed on Set
}

// Set replaces the endpoints; Run delivers them promptly.
func (m *Manual) Set(eps []Endpoint) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.eps = normalize(eps)
	m.version++
	if m.changed != nil {
		close(m.changed)
		m.changed = nil
	}
}

// Run delivers the current endpoints and each later Set.
func (m *Manual) Run(ctx context.Context, update func([]Endpoint)) error {
	var seen uint64
	first := true
	for {
		m.mu.Lock()
		eps, v := slices.Clone(m.eps), m.version
		if m.changed == nil {
			m.changed = make(chan struct{})
		}
		ch := m.changed
		m.mu.Unlock()
		if first || v != seen {
			update(eps)
			seen, first = v, false
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// String names the source for logs.
func (m *Manual) String() string { return "manual" }
