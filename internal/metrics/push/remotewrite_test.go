package push

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

func oneGauge(context.Context) ([]*dto.MetricFamily, error) {
	return []*dto.MetricFamily{{Name: proto.String("g"), Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(1)}}}}}, nil
}

// TestRemoteWriteRetries: 5xx and 429 are retried with backoff, other 4xx
// are not; the request carries remote-write 1.0's headers.
func TestRemoteWriteRetries(t *testing.T) {
	for _, tc := range []struct {
		codes    []int
		requests int32
		ok       bool
	}{
		{[]int{503, 429, 204}, 3, true},
		{[]int{400}, 1, false},
	} {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := n.Add(1) - 1
			if r.Header.Get("Content-Encoding") != "snappy" || r.Header.Get("Content-Type") != "application/x-protobuf" ||
				r.Header.Get("X-Prometheus-Remote-Write-Version") != "0.1.0" {
				t.Errorf("headers %v", r.Header)
			}
			b, _ := io.ReadAll(r.Body)
			if _, err := snappy.Decode(nil, b); err != nil {
				t.Errorf("body is not snappy: %v", err)
			}
			w.WriteHeader(tc.codes[min(int(i), len(tc.codes)-1)])
		}))
		w := NewRemoteWriter(RemoteWriteOptions{URL: srv.URL, Gather: oneGauge, Backoff: time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := w.Write(ctx)
		cancel()
		srv.Close()
		if (err == nil) != tc.ok || n.Load() != tc.requests {
			t.Errorf("codes %v: err %v after %d requests, want ok=%v after %d", tc.codes, err, n.Load(), tc.ok, tc.requests)
		}
	}
}
