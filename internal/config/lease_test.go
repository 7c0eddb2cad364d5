package config

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLeaseSettings(t *testing.T) {
	cfg, err := Load([]string{"--lease-retry-period=500ms", "--prestart", "true", "--", "app"}, []string{
		"PYSUP_LEADER_ELECTION=celery-beat",
		"PYSUP_PRESTART_ONCE_KEY=shop-1.0",
		"PYSUP_LEASE_NAMESPACE=shop",
	})
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.ElectorConfig()
	if e.Name != "celery-beat" || e.LeaseDuration != 15*time.Second || e.RenewDeadline != 10*time.Second || e.RetryPeriod != 500*time.Millisecond {
		t.Errorf("elector: %+v", e)
	}
	if o := cfg.OnceConfig(); o.Key != "shop-1.0" || !cfg.UsesLeases() || !cfg.LeaseStandbyReady {
		t.Errorf("once: %+v", o)
	}
	if k := cfg.KubeAPI(); k.Dir != "/var/run/secrets/kubernetes.io/serviceaccount" {
		t.Errorf("kube: %+v", k)
	}
}

// Every problem is listed, each naming its variable.
func TestLeaseSettingsErrors(t *testing.T) {
	_, err := Load([]string{"--", "app"}, []string{
		"PYSUP_LEADER_ELECTION=Celery_Beat",
		"PYSUP_LEASE_NAMESPACE=a.b",
		"PYSUP_LEASE_DURATION=1500ms",
		"PYSUP_LEASE_RENEW_DEADLINE=20s",
		"PYSUP_LEASE_RETRY_PERIOD=0s",
		"PYSUP_PRESTART_ONCE_KEY=v1",
	})
	if err == nil {
		t.Fatal("bad settings accepted")
	}
	for _, want := range []string{"PYSUP_LEADER_ELECTION", "PYSUP_LEASE_NAMESPACE", "PYSUP_LEASE_DURATION (--lease-duration): want whole seconds",
		"PYSUP_LEASE_RENEW_DEADLINE (--lease-renew-deadline): must be shorter", "PYSUP_LEASE_RETRY_PERIOD", "PYSUP_PRESTART_ONCE_KEY (--prestart-once-key): set without PYSUP_PRESTART"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	_, err = Load([]string{"--", "app"}, []string{"PYSUP_LEASE_RETRY_PERIOD=10s"})
	if err == nil || !strings.Contains(err.Error(), "PYSUP_LEASE_RENEW_DEADLINE (--lease-renew-deadline): must be longer than PYSUP_LEASE_RETRY_PERIOD") {
		t.Errorf("retry period over the renew deadline: %v", err)
	}

	// A gap under 1s between lease duration and renew deadline: the
	// child would have under 500ms to stop after a lost Lease.
	_, err = Load([]string{"--", "app"}, []string{"PYSUP_LEASE_DURATION=2s", "PYSUP_LEASE_RENEW_DEADLINE=1500ms", "PYSUP_LEASE_RETRY_PERIOD=500ms"})
	if err == nil || !strings.Contains(err.Error(), "PYSUP_LEASE_RENEW_DEADLINE (--lease-renew-deadline): must be at least 1s shorter than PYSUP_LEASE_DURATION (--lease-duration)") {
		t.Errorf("gap of 500ms: %v", err)
	}
	if _, err = Load([]string{"--", "app"}, []string{"PYSUP_LEASE_DURATION=2s", "PYSUP_LEASE_RENEW_DEADLINE=1s", "PYSUP_LEASE_RETRY_PERIOD=500ms"}); err != nil {
		t.Errorf("gap of 1s refused: %v", err)
	}
	// Blanks are no commands.
	_, err = Load([]string{"--", "app"}, []string{"PYSUP_PRESTART=  ", "PYSUP_PRESTART_ONCE_KEY=v1"})
	if err == nil || !strings.Contains(err.Error(), "PYSUP_PRESTART_ONCE_KEY (--prestart-once-key): set without PYSUP_PRESTART") {
		t.Errorf("once-key with a blank PYSUP_PRESTART: %v", err)
	}
}

// The hand-written name checks accept exactly what the Kubernetes API's
// RFC 1123 patterns accept.
func TestDNSNamesMatchRFC1123Patterns(t *testing.T) {
	subdomain := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	label := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	names := []string{"", "a", "-", ".", "a.", ".a", "a..b", "a.b", "a-b", "a-", "-a", "A", "a_b", "beat", "celery-beat.v2",
		"0", "9a-0.x", "a.-b", "a.b-", "ab.c.d.e", "a b", "é", "a/b", "a-.b", "a.b.", "x--y"}
	// Every string of up to 4 characters over a small alphabet, too.
	alphabet := "a0-.A"
	var grow func(prefix string, n int)
	grow = func(prefix string, n int) {
		names = append(names, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			grow(prefix+string(c), n-1)
		}
	}
	grow("", 4)
	for _, n := range names {
		if got, want := isDNSSubdomain(n), subdomain.MatchString(n); got != want {
			t.Errorf("isDNSSubdomain(%q) = %v, the pattern says %v", n, got, want)
		}
		if got, want := isDNSLabel(n), label.MatchString(n); got != want {
			t.Errorf("isDNSLabel(%q) = %v, the pattern says %v", n, got, want)
		}
	}
}
