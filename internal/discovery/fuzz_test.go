package discovery

import (
	"log/slog"
	"net/netip"
	"testing"
)

// FuzzDecodeSlice: any bytes from the API server decode to an error or to
// endpoints with valid IP:port addresses, never a panic.
func FuzzDecodeSlice(f *testing.F) {
	f.Add([]byte(`{"metadata":{"name":"a","resourceVersion":"1"},"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true,"serving":true,"terminating":false}}],"ports":[{"name":"zmq","port":5555,"protocol":"TCP"}]}`), "zmq")
	f.Add([]byte(`{"metadata":{"name":"a"},"addressType":"IPv6","endpoints":[{"addresses":["fd00::1"]}],"ports":[{"port":1}]}`), "5555")
	f.Add([]byte(`{"metadata":{"name":"a"},"addressType":"FQDN","endpoints":[{"addresses":["x.y"]}]}`), "zmq")
	f.Add([]byte(`{"metadata":{"name":"a"},"addressType":"IPv4","endpoints":[{"addresses":[]},{"conditions":{"ready":null}}],"ports":[{"name":"zmq","port":99999}]}`), "zmq")
	f.Fuzz(func(t *testing.T, raw []byte, port string) {
		_, _, eps, err := decodeSlice(raw, port)
		if err != nil {
			return
		}
		for _, e := range eps {
			ap, perr := netip.ParseAddrPort(e.Addr)
			if perr != nil || ap.Port() == 0 {
				t.Fatalf("bad endpoint address %q", e.Addr)
			}
			if e.Ready && !e.Serving && e.Terminating {
				continue // conditions are reported as given
			}
		}
	})
}

// FuzzWatchEvent: any watch line is applied or refused, never a panic,
// and the state keeps valid endpoints only.
func FuzzWatchEvent(f *testing.F) {
	f.Add([]byte(`{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"5"},"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"]}],"ports":[{"name":"zmq","port":5555}]}}`))
	f.Add([]byte(`{"type":"DELETED","object":{"metadata":{"name":"a"}}}`))
	f.Add([]byte(`{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}`))
	f.Add([]byte(`{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}`))
	f.Add([]byte(`{"type":"ERROR","object":"x"}`))
	m, _ := newMetrics(nil)
	f.Fuzz(func(t *testing.T, line []byte) {
		k := &Kube{ref: kubeRef{"ns", "svc", "zmq"}, slices: map[string][]Endpoint{}, m: m, log: slog.New(slog.DiscardHandler)}
		_, _ = k.apply(line)
		k.publish(func(eps []Endpoint) {
			for _, e := range eps {
				if _, err := netip.ParseAddrPort(e.Addr); err != nil {
					t.Fatalf("bad endpoint %q", e.Addr)
				}
			}
		})
	})
}
