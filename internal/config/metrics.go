package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Metrics holds the settings of the metrics part: app scraping,
// prometheus_client's multiprocess directory, Pushgateway and remote write.
type Metrics struct {
	MetricsScrape        []string      `env:"PYSUP_METRICS_SCRAPE" help:"comma list of the app's metrics URLs (http://127.0.0.1:8000/metrics) fetched on each scrape and merged into pysup's /metrics"`
	MetricsScrapeTimeout time.Duration `env:"PYSUP_METRICS_SCRAPE_TIMEOUT" envDefault:"5s" help:"time limit of one fetch of an app metrics URL; a slower app shows as pysup_scrape_up 0"`
	MetricsScrapeMaxSize int64         `env:"PYSUP_METRICS_SCRAPE_MAX_BYTES" envDefault:"33554432" help:"largest app metrics response accepted, in bytes (after decompression)"`
	MultiprocDir         string        `env:"PROMETHEUS_MULTIPROC_DIR" help:"prometheus_client's multiprocess directory: pysup creates and wipes it before starting the child and serves the aggregated .db files"`
	MultiprocCompact     time.Duration `env:"PYSUP_MULTIPROC_COMPACT_INTERVAL" envDefault:"30s" help:"how often the counter, histogram and summary files of dead workers are merged into one file; 0 disables compaction"`
	PushgatewayURL       string        `env:"PYSUP_PUSHGATEWAY_URL" help:"Pushgateway base URL (http://pushgateway:9091); pysup pushes the whole exposition periodically and once more after the child exits"`
	PushInterval         time.Duration `env:"PYSUP_PUSH_INTERVAL" envDefault:"15s" help:"interval between Pushgateway pushes"`
	PushJob              string        `env:"PYSUP_PUSH_JOB" help:"job grouping label of Pushgateway pushes; default: the container name, else pysup"`
	PushDeleteOnExit     bool          `env:"PYSUP_PUSH_DELETE_ON_EXIT" envDefault:"false" help:"at exit, delete the pod's group from the Pushgateway instead of pushing the final values"`
	RemoteWriteURL       string        `env:"PYSUP_REMOTE_WRITE_URL" help:"Prometheus remote-write 1.0 endpoint (http://prometheus:9090/api/v1/write) receiving the exposition's samples"`
	RemoteWriteInterval  time.Duration `env:"PYSUP_REMOTE_WRITE_INTERVAL" envDefault:"15s" help:"interval between remote writes"`
	RemoteWriteBatch     int           `env:"PYSUP_REMOTE_WRITE_BATCH" envDefault:"2000" help:"largest number of series in one remote-write request"`
	RemoteWriteTimeout   time.Duration `env:"PYSUP_REMOTE_WRITE_TIMEOUT" envDefault:"10s" help:"time limit of one remote-write request"`
}

func (m Metrics) validate(vars map[string]string, field func(string) string) []string {
	var p []string
	for _, u := range m.MetricsScrape {
		if err := checkHTTPURL(u); err != nil {
			p = append(p, fmt.Sprintf("%s: %q: %v", field("MetricsScrape"), u, err))
		}
	}
	if m.MetricsScrapeTimeout <= 0 {
		p = append(p, fmt.Sprintf("%s: must be positive", field("MetricsScrapeTimeout")))
	}
	if m.MetricsScrapeMaxSize <= 0 {
		p = append(p, fmt.Sprintf("%s: must be positive", field("MetricsScrapeMaxSize")))
	}
	if m.MultiprocDir != "" && !filepath.IsAbs(m.MultiprocDir) {
		// The child may run in another working directory; a relative path
		// would make pysup and prometheus_client read different directories.
		p = append(p, fmt.Sprintf("%s: must be an absolute path, got %q", field("MultiprocDir"), m.MultiprocDir))
	}
	if m.MultiprocDir != "" && filepath.Clean(m.MultiprocDir) == "/" {
		p = append(p, fmt.Sprintf("%s: refusing to wipe /", field("MultiprocDir")))
	}
	if m.MultiprocCompact < 0 {
		p = append(p, fmt.Sprintf("%s: must not be negative", field("MultiprocCompact")))
	}
	if m.PushgatewayURL != "" {
		if err := checkHTTPURL(m.PushgatewayURL); err != nil {
			p = append(p, fmt.Sprintf("%s: %q: %v", field("PushgatewayURL"), m.PushgatewayURL, err))
		}
	}
	if m.PushInterval <= 0 {
		p = append(p, fmt.Sprintf("%s: must be positive", field("PushInterval")))
	}
	if strings.Contains(m.PushJob, "/") {
		p = append(p, fmt.Sprintf("%s: must not contain /", field("PushJob")))
	}
	if m.RemoteWriteURL != "" {
		if err := checkHTTPURL(m.RemoteWriteURL); err != nil {
			p = append(p, fmt.Sprintf("%s: %q: %v", field("RemoteWriteURL"), m.RemoteWriteURL, err))
		}
	}
	if m.RemoteWriteInterval <= 0 {
		p = append(p, fmt.Sprintf("%s: must be positive", field("RemoteWriteInterval")))
	}
	if m.RemoteWriteBatch <= 0 {
		p = append(p, fmt.Sprintf("%s: must be positive", field("RemoteWriteBatch")))
	}
	if m.RemoteWriteTimeout <= 0 {
		p = append(p, fmt.Sprintf("%s: must be positive", field("RemoteWriteTimeout")))
	}
	return p
}

// checkHTTPURL accepts absolute http and https URLs with a host.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return fmt.Errorf("missing host")
	}
	return nil
}
