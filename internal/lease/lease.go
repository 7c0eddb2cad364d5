// Package lease coordinates pods through coordination.k8s.io/v1 Leases:
// leader election with client-go's semantics (Elector) and a once-per-key
// guard for pre-start commands (Once). It needs get, create and update on
// leases in the pod's namespace, nothing else.
package lease

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/pysup/pysup/internal/kubeapi"
)

// maxLeaseBytes bounds one Lease read: etcd refuses objects over 1.5 MiB.
const maxLeaseBytes = 2 << 20

// microTime is metav1.MicroTime's wire format.
const microTime = "2006-01-02T15:04:05.000000Z07:00"

// Spec is a Lease's spec, the leader election record.
type Spec struct {
	HolderIdentity       string
	LeaseDurationSeconds int32
	AcquireTime          time.Time // zero: absent
	RenewTime            time.Time
	LeaseTransitions     int32
}

// Lease is one Lease object as read. Update writes back every field it
// does not know as it was read.
type Lease struct {
	Name, Namespace, ResourceVersion string
	Annotations                      map[string]string
	Spec                             Spec

	raw map[string]any // the whole object as read
}

// wire is the typed view of the fields pysup reads.
type wire struct {
	Metadata struct {
		Name            string            `json:"name"`
		Namespace       string            `json:"namespace"`
		ResourceVersion string            `json:"resourceVersion"`
		Annotations     map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		HolderIdentity       *string `json:"holderIdentity"`
		LeaseDurationSeconds *int32  `json:"leaseDurationSeconds"`
		AcquireTime          *string `json:"acquireTime"`
		RenewTime            *string `json:"renewTime"`
		LeaseTransitions     *int32  `json:"leaseTransitions"`
	} `json:"spec"`
}

func decode(b []byte) (*Lease, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: lease: %w", kubeapi.ErrDecode, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: lease: %w", kubeapi.ErrDecode, err)
	}
	if w.Metadata.Name == "" || w.Metadata.ResourceVersion == "" {
		return nil, fmt.Errorf("%w: lease without name or resourceVersion", kubeapi.ErrDecode)
	}
	l := &Lease{Name: w.Metadata.Name, Namespace: w.Metadata.Namespace, ResourceVersion: w.Metadata.ResourceVersion,
		Annotations: w.Metadata.Annotations, raw: raw}
	s := &l.Spec
	if w.Spec.HolderIdentity != nil {
		s.HolderIdentity = *w.Spec.HolderIdentity
	}
	if w.Spec.LeaseDurationSeconds != nil {
		s.LeaseDurationSeconds = *w.Spec.LeaseDurationSeconds
	}
	if w.Spec.LeaseTransitions != nil {
		s.LeaseTransitions = *w.Spec.LeaseTransitions
	}
	for _, f := range []struct {
		in  *string
		out *time.Time
	}{{w.Spec.AcquireTime, &s.AcquireTime}, {w.Spec.RenewTime, &s.RenewTime}} {
		if f.in == nil || *f.in == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, *f.in)
		if err != nil {
			return nil, fmt.Errorf("%w: lease time %q", kubeapi.ErrDecode, *f.in)
		}
		*f.out = t
	}
	return l, nil
}

// encode renders l for create or update: the object as read with the
// known fields set from l.
func (l *Lease) encode() ([]byte, error) {
	obj := map[string]any{}
	for k, v := range l.raw {
		obj[k] = v
	}
	obj["apiVersion"], obj["kind"] = "coordination.k8s.io/v1", "Lease"
	md, _ := obj["metadata"].(map[string]any)
	md = cloneMap(md)
	md["name"], md["namespace"] = l.Name, l.Namespace
	if l.ResourceVersion != "" {
		md["resourceVersion"] = l.ResourceVersion
	}
	if len(l.Annotations) > 0 {
		md["annotations"] = l.Annotations
	} else {
		delete(md, "annotations")
	}
	obj["metadata"] = md
	spec, _ := obj["spec"].(map[string]any)
	spec = cloneMap(spec)
	s := l.Spec
	spec["holderIdentity"] = s.HolderIdentity
	spec["leaseDurationSeconds"] = s.LeaseDurationSeconds
	spec["leaseTransitions"] = s.LeaseTransitions
	for k, t := range map[string]time.Time{"acquireTime": s.AcquireTime, "renewTime": s.RenewTime} {
		if t.IsZero() {
			delete(spec, k)
		} else {
			spec[k] = t.UTC().Format(microTime)
		}
	}
	obj["spec"] = spec
	return json.Marshal(obj)
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// clone copies l deeply enough to change its spec and annotations.
func (l *Lease) clone() *Lease {
	c := *l
	c.Annotations = make(map[string]string, len(l.Annotations))
	for k, v := range l.Annotations {
		c.Annotations[k] = v
	}
	return &c
}

// Client reads and writes the Leases of one namespace.
type Client struct {
	API       *kubeapi.Client
	Namespace string
	// Timeout bounds each request (headers and body); 0: 10s.
	Timeout time.Duration
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 10 * time.Second
}

func (c *Client) path(name string) string {
	p := "/apis/coordination.k8s.io/v1/namespaces/" + c.Namespace + "/leases"
	if name != "" {
		p += "/" + name
	}
	return p
}

func (c *Client) call(ctx context.Context, method, path string, body []byte) (*Lease, error) {
	var raw json.RawMessage
	if err := c.API.Call(ctx, c.timeout(), method, path, body, maxLeaseBytes, &raw); err != nil {
		return nil, err
	}
	return decode(raw)
}

// Get reads Lease name; a missing one is kubeapi.ErrNotFound.
func (c *Client) Get(ctx context.Context, name string) (*Lease, error) {
	return c.call(ctx, http.MethodGet, c.path(name), nil)
}

// Create makes a new Lease; one that exists already is a 409
// (kubeapi.ErrConflict, reason AlreadyExists).
func (c *Client) Create(ctx context.Context, l *Lease) (*Lease, error) {
	l = l.clone()
	l.Namespace, l.ResourceVersion = c.Namespace, ""
	b, err := l.encode()
	if err != nil {
		return nil, err
	}
	return c.call(ctx, http.MethodPost, c.path(""), b)
}

// Update replaces the Lease if its resourceVersion is still l's; else the
// server answers 409 (kubeapi.ErrConflict) and nothing changes.
func (c *Client) Update(ctx context.Context, l *Lease) (*Lease, error) {
	l = l.clone()
	l.Namespace = c.Namespace
	b, err := l.encode()
	if err != nil {
		return nil, err
	}
	return c.call(ctx, http.MethodPut, c.path(l.Name), b)
}
