package config

import (
	"fmt"
	"time"

	"github.com/pysup/pysup/internal/discovery"
	"github.com/pysup/pysup/internal/zmqlb"
)

// ZMQ holds the settings of the ZeroMQ balancer. It runs when
// PYSUP_ZMQ_BACKENDS is set.
type ZMQ struct {
	ZMQFrontend    string        `env:"PYSUP_ZMQ_FRONTEND" envDefault:"tcp://127.0.0.1:5555" help:"where the app's REQ or DEALER sockets connect: tcp://HOST:PORT or ipc:///PATH (keep it on 127.0.0.1: anyone who can connect can send to the backends)"`
	ZMQBackends    string        `env:"PYSUP_ZMQ_BACKENDS" help:"where the servers are; enables the balancer: k8s://NAMESPACE/SERVICE:PORT (PORT a number or the port's name), dns://NAME:PORT, or a comma list of tcp://HOST:PORT"`
	ZMQRetry       int           `env:"PYSUP_ZMQ_RETRY" envDefault:"0" help:"how many times a request already sent to a backend that then failed (connection lost, reply timeout) is sent to another one; 0: never, as requests need not be idempotent (requests not yet sent always move)"`
	ZMQTimeout     time.Duration `env:"PYSUP_ZMQ_TIMEOUT" envDefault:"30s" help:"reply timeout: a request unanswered this long is dropped and its backend taken out with backoff; also bounds each send"`
	ZMQMaxInflight int           `env:"PYSUP_ZMQ_MAX_INFLIGHT" envDefault:"64" help:"most requests in flight to one backend endpoint; more wait for room"`
	ZMQMaxMessage  ByteSize      `env:"PYSUP_ZMQ_MAX_MESSAGE" envDefault:"1MiB" help:"largest message, all frames together, accepted from the app or a backend; checked before it is read, a bigger one closes that connection"`
	ZMQMaxFrames   int           `env:"PYSUP_ZMQ_MAX_FRAMES" envDefault:"64" help:"most frames in one message"`
	ZMQQueue       int           `env:"PYSUP_ZMQ_QUEUE" envDefault:"4096" help:"most requests accepted and not yet answered; when full the frontend stops reading (backpressure)"`
	ZMQMaxConns    int           `env:"PYSUP_ZMQ_MAX_CONNS" envDefault:"1024" help:"most app connections to the frontend"`
	ZMQDialTimeout time.Duration `env:"PYSUP_ZMQ_DIAL_TIMEOUT" envDefault:"2s" help:"time limit of a backend's connect and ZMTP handshake"`
	ZMQDNSInterval time.Duration `env:"PYSUP_ZMQ_DNS_INTERVAL" envDefault:"5s" help:"how often dns:// backends are resolved again"`
	ZMQDNSServer   string        `env:"PYSUP_ZMQ_DNS_SERVER" help:"HOST:PORT of the DNS server for dns:// backends; default: the system resolver"`
}

func (z ZMQ) validate(vars map[string]string, field func(string) string) []string {
	var p []string
	bad := func(goName, format string, args ...any) {
		p = append(p, fmt.Sprintf("%s: %s", field(goName), fmt.Sprintf(format, args...)))
	}
	if _, _, err := zmqlb.ParseEndpoint(z.ZMQFrontend); err != nil {
		bad("ZMQFrontend", "%v", err)
	}
	if z.ZMQBackends != "" {
		if err := discovery.CheckSpec(z.ZMQBackends); err != nil {
			bad("ZMQBackends", "%v", err)
		}
	}
	if z.ZMQRetry < 0 {
		bad("ZMQRetry", "must not be negative")
	}
	if z.ZMQTimeout <= 0 {
		bad("ZMQTimeout", "must be positive")
	}
	if z.ZMQMaxInflight < 1 {
		bad("ZMQMaxInflight", "must be at least 1")
	}
	if z.ZMQMaxMessage < 256 {
		bad("ZMQMaxMessage", "want at least 256 bytes, got %d", z.ZMQMaxMessage)
	}
	if z.ZMQMaxFrames < 2 {
		bad("ZMQMaxFrames", "must be at least 2 (a REQ message has a delimiter and a body)")
	}
	if z.ZMQQueue < 1 {
		bad("ZMQQueue", "must be at least 1")
	}
	if z.ZMQMaxConns < 1 {
		bad("ZMQMaxConns", "must be at least 1")
	}
	if z.ZMQDialTimeout <= 0 {
		bad("ZMQDialTimeout", "must be positive")
	}
	if z.ZMQDNSInterval < 100*time.Millisecond {
		bad("ZMQDNSInterval", "want at least 100ms, got %s", z.ZMQDNSInterval)
	}
	if z.ZMQDNSServer != "" {
		if err := discovery.CheckHostPort(z.ZMQDNSServer); err != nil {
			bad("ZMQDNSServer", "%v", err)
		}
	}
	return p
}

// ZMQOptions returns the balancer's options.
func (z ZMQ) ZMQOptions() zmqlb.Options {
	return zmqlb.Options{
		Frontend:    z.ZMQFrontend,
		Timeout:     z.ZMQTimeout,
		MaxInflight: z.ZMQMaxInflight,
		MaxMessage:  int64(z.ZMQMaxMessage),
		MaxFrames:   z.ZMQMaxFrames,
		Retry:       z.ZMQRetry,
		Queue:       z.ZMQQueue,
		MaxConns:    z.ZMQMaxConns,
		DialTimeout: z.ZMQDialTimeout,
	}
}

// ZMQDiscovery returns the endpoint sources' options (without metrics
// registerer and logger, which main adds).
func (z ZMQ) ZMQDiscovery() discovery.Options {
	return discovery.Options{DNSInterval: z.ZMQDNSInterval, DNSServer: z.ZMQDNSServer}
}
