package config

import (
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
