package push

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RemoteWriteOptions configure a RemoteWriter.
type RemoteWriteOptions struct {
	URL            string
	ExternalLabels map[string]string
	BatchSize      int           // series per request (default 2000)
	Timeout        time.Duration // per request (default 10s)
	Client         *http.Client
	Gather         GatherFunc
	// Registerer receives pysup_remote_write_* metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Backoff is the first retry delay (default 100ms), doubled up to 5s.
	Backoff time.Duration
}

// RemoteWriter sends the exposition's samples with the remote-write 1.0
// protocol (what Prometheus 2.42 accepts): snappy-compressed protobuf
// WriteRequests, batched, retried with backoff on network errors, 5xx and
// 429, never on other 4xx (the receiver will not accept them later either).
type RemoteWriter struct {
	opts     RemoteWriteOptions
	client   *http.Client
	requests *prometheus.CounterVec
	samples  *prometheus.CounterVec
}

// NewRemoteWriter returns a RemoteWriter.
func NewRemoteWriter(opts RemoteWriteOptions) *RemoteWriter {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 2000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 100 * time.Millisecond
	}
	w := &RemoteWriter{opts: opts, client: opts.Client}
	if w.client == nil {
		w.client = http.DefaultClient
	}
	w.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pysup_remote_write_requests_total",
		Help: "Remote-write requests by result: success, retried (5xx, 429, network) or rejected (other 4xx)."}, []string{"result"})
	w.samples = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pysup_remote_write_samples_total",
		Help: "Samples sent with remote write by result: sent or dropped (rejected, or out of retries)."}, []string{"result"})
	for _, r := range []string{"success", "retried", "rejected"} {
		w.requests.WithLabelValues(r)
	}
	w.samples.WithLabelValues("sent")
	w.samples.WithLabelValues("dropped")
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(w.requests, w.samples)
	}
	return w
}

// errPermanent marks a rejection not worth retrying.
type errPermanent struct{ err error }

func (e errPermanent) Error() string { return e.err.Error() }
func (e errPermanent) Unwrap() error { return e.err }

// Write gathers once and sends every sample, in batches, retrying each
// until it is accepted, rejected, or ctx ends.
func (w *RemoteWriter) Write(ctx context.Context) error {
	mfs, err := w.opts.Gather(ctx)
	if err != nil && len(mfs) == 0 {
		return fmt.Errorf("remote write: gathering: %w", err)
	}
	ss := toSeries(mfs, w.opts.ExternalLabels, time.Now().UnixMilli())
	var errs []error
	var buf []byte
	for start := 0; start < len(ss); start += w.opts.BatchSize {
		end := min(start+w.opts.BatchSize, len(ss))
		buf = encodeWriteRequest(buf[:0], ss[start:end])
		body := snappyEncode(nil, buf)
		if err := w.send(ctx, body); err != nil {
			w.samples.WithLabelValues("dropped").Add(float64(end - start))
			errs = append(errs, err)
			if ctx.Err() != nil {
				w.samples.WithLabelValues("dropped").Add(float64(len(ss) - end))
				break
			}
			continue
		}
		w.samples.WithLabelValues("sent").Add(float64(end - start))
	}
	return errors.Join(errs...)
}

func (w *RemoteWriter) send(ctx context.Context, body []byte) error {
	delay := w.opts.Backoff
	for {
		err := w.post(ctx, body)
		if err == nil {
			w.requests.WithLabelValues("success").Inc()
			return nil
		}
		var perm errPermanent
		if errors.As(err, &perm) {
			w.requests.WithLabelValues("rejected").Inc()
			return fmt.Errorf("remote write: %w", err)
		}
		w.requests.WithLabelValues("retried").Inc()
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("remote write: giving up: %w (last: %v)", ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func (w *RemoteWriter) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.opts.URL, bytes.NewReader(body))
	if err != nil {
		return errPermanent{err}
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "pysup")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode/100 == 5 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("status %s: %s", resp.Status, bytes.TrimSpace(msg))
	default:
		return errPermanent{fmt.Errorf("status %s: %s", resp.Status, bytes.TrimSpace(msg))}
	}
}
