package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxHTTPBody is how much of a response is read: enough to quote a failing
// app's reason, and to let the connection close cleanly.
const maxHTTPBody = 10 << 10

// newHTTPClient returns the client of http checks, set up as the kubelet's
// prober: no proxy from the environment (the app is local), no kept
// connections, no certificate verification, redirects not followed (a 3xx
// passes).
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DisableKeepAlives:      true,
			TLSClientConfig:        &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as the kubelet: the app's own certificate
			MaxResponseHeaderBytes: 16 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// httpProbe passes on a 2xx or 3xx answer to GET, as the kubelet's httpGet
// probe does.
func httpProbe(s Spec, client *http.Client) probeFunc {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "pysup-probe")
		req.Header.Set("Accept", "*/*")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody))
		if resp.StatusCode >= 200 && resp.StatusCode < 400 {
			return nil
		}
		if snippet := strings.TrimSpace(boundedText(b, 200)); snippet != "" {
			return fmt.Errorf("HTTP %d: %s", resp.StatusCode, snippet)
		}
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
}
