package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/pysup/pysup/internal/kubeapi"
	"github.com/pysup/pysup/internal/lease"
)

// Lease holds the settings of leader election and of the once-key guard of
// the pre-start commands, both on coordination.k8s.io Leases.
type Lease struct {
	LeaderElection     string        `env:"PYSUP_LEADER_ELECTION" help:"name of a Lease: the child runs only while this pod holds it (a singleton such as celery beat); standby pods wait and take over. The holder identity is POD_NAME, else the hostname with a random suffix"`
	LeaseDuration      time.Duration `env:"PYSUP_LEASE_DURATION" envDefault:"15s" help:"how long a Lease holder that stopped renewing keeps it, as seen by the others' clocks, before another pod takes it over"`
	LeaseRenewDeadline time.Duration `env:"PYSUP_LEASE_RENEW_DEADLINE" envDefault:"10s" help:"the leader gives leadership up (and stops the child) when it could not renew for this long; shorter than PYSUP_LEASE_DURATION"`
	LeaseRetryPeriod   time.Duration `env:"PYSUP_LEASE_RETRY_PERIOD" envDefault:"2s" help:"how often the holder renews and the others try to acquire"`
	LeaseNamespace     string        `env:"PYSUP_LEASE_NAMESPACE" help:"namespace of the Leases; default: the pod's (service account namespace file, else POD_NAMESPACE)"`
	LeaseStandbyReady  bool          `env:"PYSUP_LEASE_STANDBY_READY" envDefault:"true" help:"whether a standby pod (not leading) passes /readyz; true lets rolling updates proceed, false keeps standbys out of a Service's endpoints"`
	PrestartOnceKey    string        `env:"PYSUP_PRESTART_ONCE_KEY" help:"run the pre-start commands once per key (e.g. app name and image tag) across replicas, guarded by a Lease named for the key; replicas that find the key done skip them, others wait for the holder"`
	KubeServiceAccount string        `env:"PYSUP_KUBE_SERVICEACCOUNT_DIR" envDefault:"/var/run/secrets/kubernetes.io/serviceaccount" help:"directory of the service account's token, ca.crt and namespace used for Kubernetes API requests (the API server comes from KUBERNETES_SERVICE_HOST and _PORT)"`
}

// isDNSSubdomain reports whether s is a Kubernetes object name (RFC 1123
// subdomain): dot-separated DNS labels. Checked by hand rather than with a
// regexp, whose compilation at package init would run at every start of
// pysup whether or not a Lease is configured.
func isDNSSubdomain(s string) bool {
	if s == "" {
		return false
	}
	for {
		label, rest, more := strings.Cut(s, ".")
		if !isDNSLabel(label) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// isDNSLabel reports whether s is an RFC 1123 label, such as a namespace
// name: lowercase letters, digits and '-', starting and ending with a
// letter or digit. The length limit is the caller's.
func isDNSLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (l Lease) validate(_ map[string]string, field func(string) string) []string {
	var p []string
	bad := func(goName, format string, args ...any) {
		p = append(p, fmt.Sprintf("%s: %s", field(goName), fmt.Sprintf(format, args...)))
	}
	if n := l.LeaderElection; n != "" && (len(n) > 253 || !isDNSSubdomain(n)) {
		bad("LeaderElection", "%q is not a valid Lease name (lowercase letters, digits, '-' and '.')", n)
	}
	if n := l.LeaseNamespace; n != "" && (len(n) > 63 || !isDNSLabel(n)) {
		bad("LeaseNamespace", "%q is not a valid namespace name", n)
	}
	if l.LeaseRetryPeriod <= 0 {
		bad("LeaseRetryPeriod", "must be positive")
	}
	if l.LeaseDuration < time.Second {
		bad("LeaseDuration", "want at least 1s (the Lease counts whole seconds), got %s", l.LeaseDuration)
	} else if l.LeaseDuration%time.Second != 0 {
		bad("LeaseDuration", "want whole seconds (leaseDurationSeconds), got %s", l.LeaseDuration)
	}
	if l.LeaseRenewDeadline <= l.LeaseRetryPeriod {
		bad("LeaseRenewDeadline", "must be longer than %s (%s)", field("LeaseRetryPeriod"), l.LeaseRetryPeriod)
	}
	if l.LeaseRenewDeadline >= l.LeaseDuration {
		bad("LeaseRenewDeadline", "must be shorter than %s (%s), or two pods may lead at once", field("LeaseDuration"), l.LeaseDuration)
	} else if gap := l.LeaseDuration - l.LeaseRenewDeadline; gap < time.Second {
		// Half the gap is the old holder's child's time to stop before
		// another pod may start its own.
		bad("LeaseRenewDeadline", "must be at least 1s shorter than %s (%s), got a gap of %s: a holder that loses the Lease has half the gap to stop its child",
			field("LeaseDuration"), l.LeaseDuration, gap)
	}
	if len(l.PrestartOnceKey) > 1024 {
		bad("PrestartOnceKey", "longer than 1024 bytes")
	}
	return p
}

// validateOnceKey checks the once-key against the parsed commands: a
// PYSUP_PRESTART of blanks is set but runs nothing.
func (c *Config) validateOnceKey(_ map[string]string, field func(string) string) []string {
	if c.PrestartOnceKey != "" && len(c.PrestartCommands) == 0 {
		return []string{field("PrestartOnceKey") + ": set without PYSUP_PRESTART commands: there is nothing to run once"}
	}
	return nil
}

// UsesLeases reports whether leader election or the once-key is on.
func (l Lease) UsesLeases() bool { return l.LeaderElection != "" || l.PrestartOnceKey != "" }

// KubeAPI is the in-cluster API configuration.
func (l Lease) KubeAPI() kubeapi.Config { return kubeapi.Config{Dir: l.KubeServiceAccount} }

// ElectorConfig returns leader election's timings and name; main adds the
// client, identity and callbacks.
func (l Lease) ElectorConfig() lease.ElectorConfig {
	return lease.ElectorConfig{Name: l.LeaderElection, LeaseDuration: l.LeaseDuration,
		RenewDeadline: l.LeaseRenewDeadline, RetryPeriod: l.LeaseRetryPeriod}
}

// OnceConfig returns the once-key guard's key and timings.
func (l Lease) OnceConfig() lease.OnceConfig {
	return lease.OnceConfig{Key: l.PrestartOnceKey, LeaseDuration: l.LeaseDuration,
		RenewDeadline: l.LeaseRenewDeadline, RetryPeriod: l.LeaseRetryPeriod}
}
