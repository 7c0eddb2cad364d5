package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pysup/pysup/internal/config"
	"github.com/pysup/pysup/internal/kubeapi"
	"github.com/pysup/pysup/internal/lease"
	"github.com/pysup/pysup/internal/probe"
	"github.com/pysup/pysup/internal/supervisor"
)

// releaseTimeout bounds the Lease release at exit.
const releaseTimeout = 5 * time.Second

// leases are leader election and the once-key guard, when configured.
type leases struct {
	elector *lease.Elector
	once    *lease.Once
	health  *probe.Health
	name    string
	ready   bool // a standby passes readiness

	mu      sync.Mutex
	standby bool // the supervisor waits for the gate
}

// leaseIdentity names this pysup in Leases: POD_NAME (Downward API), else
// the hostname and a random suffix, as client-go appends a UUID: pods with
// hostNetwork on one node, or containers given the same hostname, share a
// hostname, and two holders of one identity would both lead.
func leaseIdentity() (string, error) {
	if n := os.Getenv("POD_NAME"); n != "" {
		return n, nil
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "", err
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return h + "_" + hex.EncodeToString(b[:]), nil
}

// setupLeases builds what cfg asks for; nil when it asks for nothing.
func setupLeases(cfg *config.Config, health *probe.Health, reg prometheus.Registerer, log *slog.Logger) (*leases, error) {
	if !cfg.UsesLeases() {
		return nil, nil
	}
	// The error names the setting that needs the API, and where the
	// credentials come from: "CA: open …" alone says neither.
	var uses []string
	if cfg.LeaderElection != "" {
		uses = append(uses, "PYSUP_LEADER_ELECTION (--leader-election)")
	}
	if cfg.PrestartOnceKey != "" {
		uses = append(uses, "PYSUP_PRESTART_ONCE_KEY (--prestart-once-key)")
	}
	which := strings.Join(uses, " and ")
	kcfg := cfg.KubeAPI()
	api, err := kubeapi.New(kcfg)
	if err != nil {
		return nil, fmt.Errorf("%s: Kubernetes API for Leases: %w (the service account's files come from PYSUP_KUBE_SERVICEACCOUNT_DIR (--kube-serviceaccount-dir), %s)",
			which, err, cfg.KubeServiceAccount)
	}
	ns := cfg.LeaseNamespace
	if ns == "" {
		if ns, err = kcfg.Namespace(); err != nil {
			return nil, fmt.Errorf("%s: PYSUP_LEASE_NAMESPACE (--lease-namespace) unset and %w", which, err)
		}
	}
	id, err := leaseIdentity()
	if err != nil || id == "" {
		return nil, fmt.Errorf("%s: lease identity: POD_NAME unset and no hostname: %v", which, err)
	}
	m, err := lease.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	client := &lease.Client{API: api, Namespace: ns}
	ls := &leases{health: health, name: cfg.LeaderElection, ready: cfg.LeaseStandbyReady}
	if cfg.LeaderElection != "" {
		ec := cfg.ElectorConfig()
		ec.Client, ec.Identity, ec.Metrics, ec.Log, ec.OnChange = client, id, m, log, ls.changed
		if ls.elector, err = lease.NewElector(ec); err != nil {
			return nil, err
		}
		health.Election(ls.name, "standby", "")
	}
	if cfg.PrestartOnceKey != "" {
		oc := cfg.OnceConfig()
		oc.Client, oc.Identity, oc.Metrics, oc.Log = client, id, m, log
		oc.Waiting = func(holder string) {
			health.StartPhase("prestart", fmt.Sprintf("waiting for %s, which runs the pre-start commands (once-key %q)", holder, cfg.PrestartOnceKey))
		}
		if ls.once, err = lease.NewOnce(oc); err != nil {
			return nil, err
		}
	}
	log.Info("using Leases", "namespace", ns, "identity", id, "leader_election", cfg.LeaderElection, "once_lease", ls.onceName())
	return ls, nil
}

func (ls *leases) onceName() string {
	if ls.once == nil {
		return ""
	}
	return ls.once.Name()
}

// changed follows the election in the probe bodies.
func (ls *leases) changed(s lease.State) {
	role := "standby"
	if s.Leading {
		role = "leader"
	}
	ls.health.Election(ls.name, role, s.Holder)
	ls.mu.Lock()
	standby := ls.standby
	ls.mu.Unlock()
	if standby && !s.Leading {
		ls.health.Standby(standbyReason(s.Holder), ls.ready)
	}
}

func standbyReason(holder string) string {
	if holder == "" {
		return "standby: not leading; trying to acquire the lease"
	}
	return "standby: " + holder + " leads"
}

// gate is the supervisor's gate, nil without leader election.
func (ls *leases) gate() supervisor.Gate {
	if ls == nil || ls.elector == nil {
		return nil
	}
	return ls.elector
}

// phase marks standby in the probes while the supervisor waits to lead.
func (ls *leases) phase(p supervisor.Phase) {
	if ls == nil || ls.elector == nil {
		return
	}
	ls.mu.Lock()
	ls.standby = p == supervisor.PhaseStandby
	ls.mu.Unlock()
	if p == supervisor.PhaseStandby {
		ls.health.Standby(standbyReason(ls.elector.State().Holder), ls.ready)
	}
}

// childExited reports whether the child stopped because leadership was
// lost; the pod is then standby, not failing, and stays live.
func (ls *leases) childExited() bool {
	if ls == nil || ls.elector == nil || ls.elector.State().Leading {
		return false
	}
	ls.health.Standby(standbyReason(ls.elector.State().Holder), ls.ready)
	return true
}

// revokeStopTimeout is the stop deadline on losing the lease: the old
// leader gives up RenewDeadline after its last renewal, another pod may
// start LeaseDuration after it, and the child must be gone in between.
// The configuration makes the gap at least 1s.
func revokeStopTimeout(cfg *config.Config) time.Duration {
	return (cfg.LeaseDuration - cfg.LeaseRenewDeadline) / 2
}

// release gives the Lease up after the child stopped, for a fast
// hand-over.
func (ls *leases) release(log *slog.Logger) {
	if ls == nil || ls.elector == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if err := ls.elector.Release(ctx); err != nil {
		log.Warn("leader election: lease not released; others take over when it expires", "error", err.Error())
	}
}

// wrapPrestart guards the pre-start commands with the once-key.
func (ls *leases) wrapPrestart(run func(context.Context) error) func(context.Context) error {
	if ls == nil || ls.once == nil || run == nil {
		return run
	}
	return func(ctx context.Context) error { return ls.once.Do(ctx, run) }
}
