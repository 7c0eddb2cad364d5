package main

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pysup/pysup/internal/config"
)

// The Lease identity is POD_NAME when set; without it, the hostname with a
// random suffix, different in every pysup, so two pods sharing a hostname
// (hostNetwork on one node) never both hold a Lease.
func TestLeaseIdentity(t *testing.T) {
	t.Setenv("POD_NAME", "web-0")
	if id, err := leaseIdentity(); err != nil || id != "web-0" {
		t.Errorf("with POD_NAME: %q, %v; want web-0", id, err)
	}
	t.Setenv("POD_NAME", "")
	host, _ := os.Hostname()
	a, err := leaseIdentity()
	b, _ := leaseIdentity()
	if err != nil || a == b || !strings.HasPrefix(a, host+"_") || len(a) <= len(host)+1 {
		t.Errorf("without POD_NAME: %q and %q (%v); want %s_ and a different suffix each", a, b, err, host)
	}
}

// A Lease setting that cannot work fails at start naming the setting and
// where the credentials come from, not only "CA: open …".
func TestSetupLeasesErrorsNameTheSetting(t *testing.T) {
	for _, c := range []struct {
		name, host string
		env        []string
		want       []string
	}{
		{"not in a cluster", "", []string{"PYSUP_LEADER_ELECTION=beat"},
			[]string{"PYSUP_LEADER_ELECTION (--leader-election): ", "not in a cluster", "PYSUP_KUBE_SERVICEACCOUNT_DIR (--kube-serviceaccount-dir)"}},
		{"no CA", "10.0.0.1", []string{"PYSUP_PRESTART_ONCE_KEY=shop-1", "PYSUP_PRESTART=true", "PYSUP_KUBE_SERVICEACCOUNT_DIR=/nonexistent"},
			[]string{"PYSUP_PRESTART_ONCE_KEY (--prestart-once-key): ", "CA: open /nonexistent/ca.crt", "PYSUP_KUBE_SERVICEACCOUNT_DIR (--kube-serviceaccount-dir), /nonexistent"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("KUBERNETES_SERVICE_HOST", c.host)
			t.Setenv("KUBERNETES_SERVICE_PORT", "443")
			cfg, err := config.Load([]string{"--", "app"}, c.env)
			if err != nil {
				t.Fatal(err)
			}
			_, err = setupLeases(cfg, nil, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v lacks %q", err, w)
				}
			}
		})
	}
}
