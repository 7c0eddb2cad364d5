package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Logs holds the settings of the logs part: capture of the child's stdout
// and stderr, enrichment, and shipping over the Fluent Forward protocol.
type Logs struct {
	LogCapture       bool              `env:"PYSUP_LOG" envDefault:"true" help:"capture the child's stdout and stderr as enriched records; false passes them through untouched"`
	LogFormat        string            `env:"PYSUP_LOG_FORMAT" envDefault:"json" help:"format of the records on pysup's stdout: json (one object a line) or console (colored, for humans)"`
	LogMaxLine       ByteSize          `env:"PYSUP_LOG_MAX_LINE" envDefault:"64KiB" help:"longest line kept as one record; longer lines are split into records marked partial with a shared partial_id"`
	LogFields        map[string]string `env:"PYSUP_LOG_FIELDS" envKeyValSeparator:"=" help:"static fields added to every record, e.g. app_version=1.2.3,team=search; the app's own fields win"`
	LogTraceback     time.Duration     `env:"PYSUP_LOG_TRACEBACK_TIMEOUT" envDefault:"200ms" help:"how long a line waits for a following Python traceback, and a partial traceback for its end, before being written"`
	PodInfoDir       string            `env:"PYSUP_PODINFO_DIR" envDefault:"/etc/podinfo" help:"directory of the Downward API volume holding the labels and annotations files"`
	FluentAddr       FluentAddr        `env:"PYSUP_FLUENT_ADDR" help:"ship records over the Fluent Forward protocol to tcp://HOST:PORT or unix:///PATH; empty disables shipping"`
	FluentTag        string            `env:"PYSUP_FLUENT_TAG" envDefault:"pysup" help:"Fluent tag of shipped records"`
	FluentTimeout    time.Duration     `env:"PYSUP_FLUENT_TIMEOUT" envDefault:"5s" help:"dial, write and acknowledgement timeout of the Fluent connection"`
	LogBufferSize    ByteSize          `env:"PYSUP_LOG_BUFFER_SIZE" envDefault:"8MiB" help:"memory buffer of records waiting for the Fluent receiver; when full, records spill to PYSUP_LOG_SPOOL_DIR, else the oldest are dropped"`
	LogSpoolDir      string            `env:"PYSUP_LOG_SPOOL_DIR" help:"directory where records waiting for the Fluent receiver spill when the memory buffer is full (e.g. an emptyDir); empty: memory only"`
	LogSpoolSize     ByteSize          `env:"PYSUP_LOG_SPOOL_SIZE" envDefault:"256MiB" help:"size bound of the spool directory; when full, the oldest records are dropped and counted"`
	LogShutdownFlush time.Duration     `env:"PYSUP_LOG_FLUSH_TIMEOUT" envDefault:"10s" help:"longest wait for the Fluent receiver when pysup exits; records still waiting are reported undelivered"`
}

// Reserved field names: pysup writes these itself, so PYSUP_LOG_FIELDS may
// not use them (the app's own fields may, and then win; see internal/logs).
var reservedLogFields = map[string]bool{
	"time": true, "stream": true, "level": true, "message": true, "kubernetes": true,
	"logger": true, "exception_type": true, "exception_message": true,
	"partial_message": true, "partial_id": true, "partial_ordinal": true, "partial_last": true,
}

func (l Logs) validate(vars map[string]string, field func(string) string) []string {
	var p []string
	switch l.LogFormat {
	case "json", "console":
	default:
		p = append(p, fmt.Sprintf("%s: want json or console, got %q", field("LogFormat"), l.LogFormat))
	}
	if l.LogMaxLine < 256 || l.LogMaxLine > 64<<20 {
		p = append(p, fmt.Sprintf("%s: want between 256B and 64MiB, got %d bytes", field("LogMaxLine"), l.LogMaxLine))
	}
	for k := range l.LogFields {
		if k == "" {
			p = append(p, fmt.Sprintf("%s: empty field name", field("LogFields")))
		} else if reservedLogFields[k] {
			p = append(p, fmt.Sprintf("%s: %q is a field pysup writes itself", field("LogFields"), k))
		}
	}
	if l.LogTraceback <= 0 || l.LogTraceback > time.Minute {
		p = append(p, fmt.Sprintf("%s: want a duration between 0 and 1m, got %s", field("LogTraceback"), l.LogTraceback))
	}
	if l.FluentAddr.Network != "" && strings.TrimSpace(l.FluentTag) == "" {
		p = append(p, fmt.Sprintf("%s: must not be empty when %s is set", field("FluentTag"), field("FluentAddr")))
	}
	if l.FluentTimeout <= 0 {
		p = append(p, fmt.Sprintf("%s: must be positive", field("FluentTimeout")))
	}
	if l.LogBufferSize < 64<<10 {
		p = append(p, fmt.Sprintf("%s: want at least 64KiB, got %d bytes", field("LogBufferSize"), l.LogBufferSize))
	}
	if l.LogSpoolDir != "" && l.LogSpoolSize < 1<<20 {
		p = append(p, fmt.Sprintf("%s: want at least 1MiB, got %d bytes", field("LogSpoolSize"), l.LogSpoolSize))
	}
	if l.LogShutdownFlush < 0 {
		p = append(p, fmt.Sprintf("%s: must not be negative", field("LogShutdownFlush")))
	}
	return p
}

// ByteSize is a size in bytes written as 65536, 64KiB, 8MiB, 1GiB (or KB,
// MB, GB, read as the same powers of two: logs people mean them that way).
type ByteSize int64

// UnmarshalText reads a size with an optional unit.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToLower(strings.TrimSpace(s[len(num):]))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return errInvalid("want a size like 65536, 64KiB or 8MiB, got %q", s)
	}
	var mult int64
	switch unit {
	case "", "b":
		mult = 1
	case "k", "kb", "kib":
		mult = 1 << 10
	case "m", "mb", "mib":
		mult = 1 << 20
	case "g", "gb", "gib":
		mult = 1 << 30
	default:
		return errInvalid("unknown size unit %q (want B, KiB, MiB or GiB)", unit)
	}
	if n > (1<<62)/mult {
		return errInvalid("size %q too large", s)
	}
	*b = ByteSize(n * mult)
	return nil
}

// FluentAddr is where the Fluent Forward receiver listens: tcp://HOST:PORT
// or unix:///PATH. The zero value means shipping is off.
type FluentAddr struct {
	Network string // "tcp" or "unix"; empty when unset
	Address string // HOST:PORT or PATH
}

// UnmarshalText parses tcp://HOST:PORT or unix:///PATH.
func (a *FluentAddr) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	if s == "" {
		*a = FluentAddr{}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return errInvalid("want tcp://HOST:PORT or unix:///PATH, got %q", s)
	}
	switch u.Scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || port == "" || u.Path != "" && u.Path != "/" {
			return errInvalid("want tcp://HOST:PORT, got %q", s)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return errInvalid("bad port in %q", s)
		}
		*a = FluentAddr{Network: "tcp", Address: net.JoinHostPort(host, port)}
	case "unix":
		path := u.Path
		if u.Host != "" || path == "" {
			return errInvalid("want unix:///ABSOLUTE/PATH, got %q", s)
		}
		*a = FluentAddr{Network: "unix", Address: path}
	default:
		return errInvalid("want tcp://HOST:PORT or unix:///PATH, got %q", s)
	}
	return nil
}

// String gives the address back in URL form.
func (a FluentAddr) String() string {
	if a.Network == "" {
		return ""
	}
	if a.Network == "unix" {
		return "unix://" + a.Address
	}
	return "tcp://" + a.Address
}
