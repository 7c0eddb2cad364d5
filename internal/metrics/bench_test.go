package metrics

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// BenchmarkScrape10k is a full /metrics request through pysup's handler
// on 127.0.0.1 with an app endpoint of 10,000 series: fetch, parse,
// merge with pysup's own, encode.
func BenchmarkScrape10k(b *testing.B) {
	var app bytes.Buffer
	fmt.Fprintln(&app, "# HELP app_requests_total Requests.\n# TYPE app_requests_total counter")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&app, "app_requests_total{route=\"/api/v1/items/%d\",code=\"%d\"} %d\n", i/5, 200+i%5, i)
	}
	appAddr := serve(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(app.Bytes()) }))
	e, err := New(Options{Config: testConfig(b, "PYSUP_METRICS_SCRAPE=http://"+appAddr+"/metrics")})
	if err != nil {
		b.Fatal(err)
	}
	addr := serve(b, e.Handler())
	client := &http.Client{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := client.Get("http://" + addr + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n < int64(app.Len()) {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
}
