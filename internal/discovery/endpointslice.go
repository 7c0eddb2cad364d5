package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
)

// The subset of discovery.k8s.io/v1 we read. Pointers tell absent fields
// from false ones: a nil ready condition means ready (API docs).
type endpointSlice struct {
	Metadata struct {
		Name            string `json:"name"`
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
	AddressType string `json:"addressType"`
	Endpoints   []struct {
		Addresses  []string `json:"addresses"`
		Conditions struct {
			Ready       *bool `json:"ready"`
			Serving     *bool `json:"serving"`
			Terminating *bool `json:"terminating"`
		} `json:"conditions"`
	} `json:"endpoints"`
	Ports []struct {
		Name     *string `json:"name"`
		Port     *int32  `json:"port"`
		Protocol *string `json:"protocol"`
	} `json:"ports"`
}

type sliceList struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
		Continue        string `json:"continue"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// apiStatus is a metav1.Status, as in ERROR watch events and error replies.
type apiStatus struct {
	Kind    string `json:"kind"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

var errBadObject = errors.New("malformed EndpointSlice")

// decodeSlice parses one EndpointSlice and returns its name, resource
// version and the endpoints it gives for port (a number or a port name).
// Input comes from the network: every field is checked, nothing is trusted.
func decodeSlice(raw []byte, port string) (name, rv string, eps []Endpoint, err error) {
	var s endpointSlice
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", "", nil, fmt.Errorf("%w: %w", errBadObject, err)
	}
	if s.Metadata.Name == "" {
		return "", "", nil, fmt.Errorf("%w: no name", errBadObject)
	}
	name, rv = s.Metadata.Name, s.Metadata.ResourceVersion
	if s.AddressType != "IPv4" && s.AddressType != "IPv6" {
		return name, rv, nil, nil // FQDN slices name hosts, not addresses: skipped
	}
	p, ok := slicePort(&s, port)
	if !ok {
		return name, rv, nil, nil
	}
	for _, e := range s.Endpoints {
		if len(e.Addresses) == 0 {
			continue
		}
		// All addresses of an endpoint are fungible; use the first, as kube-proxy does.
		ip, err := netip.ParseAddr(e.Addresses[0])
		if err != nil || ip.Zone() != "" || (s.AddressType == "IPv4") != ip.Is4() {
			return name, rv, nil, fmt.Errorf("%w: address %q", errBadObject, e.Addresses[0])
		}
		c := e.Conditions
		ready := c.Ready == nil || *c.Ready
		serving := ready
		if c.Serving != nil {
			serving = *c.Serving
		}
		eps = append(eps, Endpoint{
			Addr:        netip.AddrPortFrom(ip, p).String(),
			Ready:       ready,
			Serving:     serving,
			Terminating: c.Terminating != nil && *c.Terminating,
		})
	}
	return name, rv, eps, nil
}

// slicePort finds the TCP port to use in s. A name must match a port's
// name. A number is the endpoints' own port (the Service's targetPort):
// used as is, since a client allowed to read only EndpointSlices cannot
// map a Service port number.
func slicePort(s *endpointSlice, want string) (uint16, bool) {
	if n, err := strconv.ParseUint(want, 10, 16); err == nil {
		return uint16(n), n > 0
	}
	for _, p := range s.Ports {
		if p.Name == nil || *p.Name != want || p.Port == nil {
			continue
		}
		if p.Protocol != nil && *p.Protocol != "TCP" {
			continue
		}
		if *p.Port < 1 || *p.Port > 65535 {
			return 0, false
		}
		return uint16(*p.Port), true
	}
	return 0, false
}
