package lease

import (
	"testing"
	"time"
)

// FuzzDecodeLease: any bytes from the API server decode to an error or to
// a Lease that encodes and decodes back to the same record (times at the
// microsecond the wire carries), never a panic.
func FuzzDecodeLease(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"beat","namespace":"apps","resourceVersion":"7","annotations":{"a":"b"},"labels":{"x":"y"}},"spec":{"holderIdentity":"pod-a","leaseDurationSeconds":15,"acquireTime":"2026-12-01T21:00:00.123456Z","renewTime":"2026-12-01T21:00:10.000001Z","leaseTransitions":3,"preferredHolder":"z"}}`))
	f.Add([]byte(`{"metadata":{"name":"l","resourceVersion":"1"},"spec":{}}`))
	f.Add([]byte(`{"metadata":{"name":"l","resourceVersion":"1"},"spec":{"renewTime":"not a time"}}`))
	f.Add([]byte(`{"metadata":"x","spec":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		l, err := decode(raw)
		if err != nil {
			return
		}
		b, err := l.encode()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		back, err := decode(b)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
		want := l.Spec
		want.AcquireTime = micro(want.AcquireTime)
		want.RenewTime = micro(want.RenewTime)
		if !sameSpec(back.Spec, want) || back.Name != l.Name || back.ResourceVersion != l.ResourceVersion {
			t.Fatalf("round trip changed %+v into %+v", l, back)
		}
	})
}

func micro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Truncate(time.Microsecond)
}
