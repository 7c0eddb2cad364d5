package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// acceptText asks for the classic text format: common v0.72 has no
// OpenMetrics parser, and prometheus_client answers it with text 0.0.4.
const acceptText = "text/plain;version=0.0.4;q=1,*/*;q=0.1"

// errTooLarge is a response beyond the configured size.
var errTooLarge = errors.New("response too large")

// scraper fetches the app's metrics URLs.
type scraper struct {
	urls    []string
	client  *http.Client
	timeout time.Duration
	maxSize int64

	up        *prometheus.GaugeVec
	duration  *prometheus.GaugeVec
	samples   *prometheus.GaugeVec
	errors    *prometheus.CounterVec
	conflicts *prometheus.CounterVec
}

func newScraper(urls []string, client *http.Client, timeout time.Duration, maxSize int64, reg prometheus.Registerer) *scraper {
	s := &scraper{
		urls: urls, client: client, timeout: timeout, maxSize: maxSize,
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pysup_scrape_up",
			Help: "1 if the last fetch of the app metrics URL succeeded and parsed, else 0."}, []string{"target"}),
		duration: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pysup_scrape_duration_seconds",
			Help: "Time the last fetch of the app metrics URL took."}, []string{"target"}),
		samples: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pysup_scrape_series",
			Help: "Series the app metrics URL returned on the last fetch."}, []string{"target"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pysup_scrape_errors_total",
			Help: "Failed fetches of the app metrics URL, by reason: request, status, size, parse."}, []string{"target", "reason"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pysup_scrape_conflicts_total",
			Help: "Series dropped from a source because they collide with pysup's own or an earlier source's."}, []string{"target"}),
	}
	for _, u := range urls {
		// Present from the start, so that rate() and absence alerts work.
		s.up.WithLabelValues(u)
		for _, r := range []string{"request", "status", "size", "parse"} {
			s.errors.WithLabelValues(u, r)
		}
		s.conflicts.WithLabelValues(u)
	}
	reg.MustRegister(s.up, s.duration, s.samples, s.errors, s.conflicts)
	return s
}

// scrapeAll fetches every URL concurrently; result i is URL i's families,
// nil when it failed.
func (s *scraper) scrapeAll(ctx context.Context) [][]*dto.MetricFamily {
	out := make([][]*dto.MetricFamily, len(s.urls))
	var wg sync.WaitGroup
	for i, u := range s.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.scrape(ctx, u)
		}()
	}
	wg.Wait()
	return out
}

func (s *scraper) scrape(ctx context.Context, url string) []*dto.MetricFamily {
	start := time.Now()
	mfs, reason, err := s.fetch(ctx, url)
	s.duration.WithLabelValues(url).Set(time.Since(start).Seconds())
	if err != nil {
		s.up.WithLabelValues(url).Set(0)
		s.errors.WithLabelValues(url, reason).Inc()
		return nil
	}
	n := 0
	for _, mf := range mfs {
		n += len(mf.Metric)
	}
	s.up.WithLabelValues(url).Set(1)
	s.samples.WithLabelValues(url).Set(float64(n))
	return mfs
}

func (s *scraper) fetch(ctx context.Context, url string) ([]*dto.MetricFamily, string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "request", err
	}
	req.Header.Set("Accept", acceptText)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, "request", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, "status", fmt.Errorf("status %s", resp.Status)
	}
	// The transport undoes gzip; the limit applies to what is parsed.
	body := &limitedReader{r: resp.Body, left: s.maxSize}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(body)
	if body.exceeded {
		return nil, "size", errTooLarge
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, "request", ctx.Err()
		}
		return nil, "parse", err
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, mf := range fams {
		out = append(out, mf)
	}
	return out, "", nil
}

// limitedReader fails once more than left bytes were read, so that a
// truncated body is not mistaken for a complete one.
type limitedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		l.exceeded = true
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		l.exceeded = true
		return 0, errTooLarge
	}
	return n, err
}
