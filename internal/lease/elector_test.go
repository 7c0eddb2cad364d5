package lease

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// value reads a counter's or gauge's value.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Counter != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// clock is a settable local clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newMetrics(t *testing.T) *Metrics {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Expiry is judged by the local clock from the moment the record was seen
// changing, whatever the remote timestamps say: an ancient renewTime (a
// clock behind, or a dead holder) is not taken at once, a renewTime in the
// future (a clock ahead) does not keep it forever, and a renewal seen
// restarts the wait.
func TestClaimJudgesExpiryByLocalClock(t *testing.T) {
	for _, renew := range []string{"2000-01-01T00:00:00.000000Z", "2100-01-01T00:00:00.000000Z"} {
		t.Run(renew[:4], func(t *testing.T) {
			f, c := newFakeAPI(t)
			f.setHolder("l", "other", renew) // leaseDurationSeconds 2
			clk := &clock{t: time.Unix(1000, 0)}
			k := &claim{c: c, name: "l", id: "me", dur: 2 * time.Second, now: clk.now, m: newMetrics(t)}
			ctx := context.Background()
			try := func(want bool) {
				t.Helper()
				held, holder, err := k.try(ctx, false, nil)
				if err != nil || held != want {
					t.Fatalf("at +%s: held %v (holder %q, err %v), want %v", clk.now().Sub(time.Unix(1000, 0)), held, holder, err, want)
				}
				if !held && holder != "other" {
					t.Fatalf("holder %q, want other", holder)
				}
			}
			try(false)
			clk.add(1500 * time.Millisecond)
			try(false)
			// The holder renews: the wait starts again.
			f.setHolder("l", "other", "2050-01-01T00:00:00.000000Z")
			try(false)
			clk.add(1900 * time.Millisecond)
			try(false)
			clk.add(200 * time.Millisecond)
			try(true)
			if h := f.spec("l", "holderIdentity"); h != "me" {
				t.Fatalf("holder after take-over %v", h)
			}
			if n := f.spec("l", "leaseTransitions"); n != float64(1) {
				t.Errorf("leaseTransitions %v, want 1", n)
			}
			if f.spec("l", "acquireTime") == nil {
				t.Error("no acquireTime")
			}
		})
	}
}

// A write that loses a race (409 on update, AlreadyExists on create) is
// not leadership and not an error, only counted.
func TestClaimLosesRaces(t *testing.T) {
	f, c := newFakeAPI(t)
	m := newMetrics(t)
	k := &claim{c: c, name: "l", id: "me", dur: 2 * time.Second, now: time.Now, m: m}
	ctx := context.Background()
	// Another replica creates it between our read and our create.
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost {
			f.setFault(nil)
			f.setHolder("l", "other", "2026-01-01T00:00:00.000000Z")
		}
		return false
	})
	if held, _, err := k.try(ctx, false, nil); held || err != nil {
		t.Fatalf("create race: held %v err %v", held, err)
	}
	// Expired by our clock; another replica takes it between our read and
	// our update.
	if held, holder, _ := k.try(ctx, false, nil); held || holder != "other" {
		t.Fatalf("held %v holder %q", held, holder)
	}
	k.observedAt = time.Now().Add(-time.Minute)
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut {
			f.setFault(nil)
			f.setHolder("l", "third", "2026-01-01T00:00:01.000000Z")
		}
		return false
	})
	if held, _, err := k.try(ctx, false, nil); held || err != nil {
		t.Fatalf("update race: held %v err %v", held, err)
	}
	if got := f.spec("l", "holderIdentity"); got != "third" {
		t.Fatalf("holder %v: the loser overwrote the winner", got)
	}
	if n := value(m.errors.WithLabelValues("l", "conflict")); n != 2 {
		t.Errorf("conflicts counted %v, want 2", n)
	}
	// The leader's fast path hits a conflict: it reads and sees it lost.
	k.observed.Spec.HolderIdentity = "me"
	if held, holder, err := k.try(ctx, true, nil); held || err != nil || holder != "third" {
		t.Fatalf("fast path after a conflict: held %v holder %q err %v", held, holder, err)
	}
}

func quick() ElectorConfig {
	return ElectorConfig{Name: "l", LeaseDuration: 4 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 100 * time.Millisecond}
}

func waitLead(t *testing.T, e *Elector, within time.Duration) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	lost, err := e.Wait(ctx)
	if err != nil {
		t.Fatalf("not leading after %s: %v", within, err)
	}
	return lost
}

func closedWithin(t *testing.T, ch <-chan struct{}, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-ch:
		return time.Since(start)
	case <-time.After(d):
		t.Fatalf("leadership not lost within %s", d)
		return 0
	}
}

// The leader gives up RenewDeadline after its last renewal when the API
// server fails, and stays standby until it can acquire again.
func TestElectorLosesWhenRenewalsFail(t *testing.T) {
	f, c := newFakeAPI(t)
	cfg := quick()
	cfg.Client, cfg.Identity, cfg.Metrics = c, "me", newMetrics(t)
	var mu sync.Mutex
	var states []State
	cfg.OnChange = func(s State) { mu.Lock(); states = append(states, s); mu.Unlock() }
	e, err := NewElector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lost := waitLead(t, e, 5*time.Second)
	if v := value(cfg.Metrics.leader.WithLabelValues("l")); v != 1 {
		t.Errorf("pysup_leader %v while leading", v)
	}
	time.Sleep(300 * time.Millisecond) // a few renewals
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool { status(w, 500, "InternalError"); return true })
	took := closedWithin(t, lost, 6*time.Second)
	// Lost at the deadline, not before (renewals were < RetryPeriod old)
	// and not much after.
	if took < 1500*time.Millisecond || took > 3500*time.Millisecond {
		t.Errorf("lost %s after the failures began, want about the renew deadline (%s)", took, cfg.RenewDeadline)
	}
	if e.State().Leading || value(cfg.Metrics.leader.WithLabelValues("l")) != 0 {
		t.Error("still leading after the loss")
	}
	if value(cfg.Metrics.errors.WithLabelValues("l", "http")) < 2 {
		t.Error("failed renewals not counted")
	}
	f.setFault(nil)
	waitLead(t, e, 5*time.Second) // still ours in the store: taken again
	mu.Lock()
	defer mu.Unlock()
	if len(states) != 3 || !states[0].Leading || states[1].Leading || !states[2].Leading {
		t.Errorf("state changes %+v", states)
	}
}

// Another holder in the record ends leadership at the next renewal, not
// only at the deadline.
func TestElectorLosesToAnotherHolderAtOnce(t *testing.T) {
	f, c := newFakeAPI(t)
	cfg := quick()
	cfg.Client, cfg.Identity = c, "me"
	e, _ := NewElector(cfg)
	lost := waitLead(t, e, 5*time.Second)
	f.setHolder("l", "other", time.Now().UTC().Format(microTime))
	if took := closedWithin(t, lost, 5*time.Second); took > cfg.RenewDeadline {
		t.Errorf("lost after %s, want at the next renewal", took)
	}
	if s := e.State(); s.Leading || s.Holder != "other" {
		t.Errorf("state %+v", s)
	}
}

// Release empties the holder (one-second duration) so a standby takes
// over on its next try, without waiting for expiry.
func TestElectorReleaseHandsOverAtOnce(t *testing.T) {
	f, c := newFakeAPI(t)
	cfg := quick()
	cfg.Client, cfg.Identity = c, "a"
	a, _ := NewElector(cfg)
	cfg.Identity = "b"
	b, _ := NewElector(cfg)
	lostA := waitLead(t, a, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if _, err := b.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b acquired a held lease: %v", err)
	}
	cancel()
	if s := b.State(); s.Holder != "a" {
		t.Errorf("b sees holder %q", s.Holder)
	}
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	closedWithin(t, lostA, time.Second)
	if h, d := f.spec("l", "holderIdentity"), f.spec("l", "leaseDurationSeconds"); h != "" || d != float64(1) {
		t.Errorf("released record: holder %v duration %v", h, d)
	}
	start := time.Now()
	waitLead(t, b, 2*time.Second)
	if took := time.Since(start); took > time.Second {
		t.Errorf("hand-over after release took %s", took)
	}
	if n := f.spec("l", "leaseTransitions"); n != float64(1) {
		t.Errorf("leaseTransitions %v, want 1", n)
	}
	_ = b.Release(context.Background())
}

// A hostile or broken API server (garbage, a huge body, a stalled answer,
// an object without resourceVersion) costs counted errors, never
// leadership, a crash or unbounded memory; a sane answer after it is
// used.
func TestElectorHostileAPIServer(t *testing.T) {
	f, c := newFakeAPI(t)
	c.Timeout = 300 * time.Millisecond
	cfg := quick()
	cfg.Client, cfg.Identity, cfg.Metrics = c, "me", newMetrics(t)
	e, _ := NewElector(cfg)
	var mu sync.Mutex
	n := 0
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		switch i % 4 {
		case 0:
			_, _ = w.Write([]byte("<html>garbage"))
		case 1:
			_, _ = w.Write([]byte(`{"metadata":{"name":"l"},"pad":"` + strings.Repeat("A", 5<<20) + `"}`))
		case 2:
			time.Sleep(time.Second)
		case 3:
			_, _ = w.Write([]byte(`{"metadata":{"name":"l"},"spec":{"holderIdentity":"me"}}`))
		}
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	if _, err := e.Wait(ctx); err == nil {
		t.Fatal("leading on a hostile server")
	}
	cancel()
	for _, r := range []string{"decode", "too_large", "timeout"} {
		if v := value(cfg.Metrics.errors.WithLabelValues("l", r)); v < 1 {
			t.Errorf("%s errors %v, want counted", r, v)
		}
	}
	f.setFault(nil)
	waitLead(t, e, 5*time.Second)
	_ = e.Release(context.Background())
}

func TestNewElectorRefusesBadTimings(t *testing.T) {
	_, c := newFakeAPI(t)
	for _, cfg := range []ElectorConfig{
		{Name: "l", Identity: "me", LeaseDuration: 10 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: time.Second},
		{Name: "l", Identity: "me", LeaseDuration: 10 * time.Second, RenewDeadline: time.Second, RetryPeriod: time.Second},
		{Name: "l", LeaseDuration: 10 * time.Second, RenewDeadline: 5 * time.Second, RetryPeriod: time.Second},
	} {
		cfg.Client = c
		if _, err := NewElector(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestOnceName(t *testing.T) {
	for key, prefix := range map[string]string{
		"shop-1.2.3":            "pysup-once-shop-1-2-3-",
		"Shop/Migrations@abc":   "pysup-once-shop-migrations-abc-",
		"":                      "pysup-once-",
		strings.Repeat("x", 99): "pysup-once-" + strings.Repeat("x", 30) + "-",
		"---":                   "pysup-once-",
	} {
		n := OnceName(key)
		if !strings.HasPrefix(n, prefix) || len(n) > 63 || len(n) != len(prefix)+10 {
			t.Errorf("OnceName(%q) = %q, want %q + 10 hex", key, n, prefix)
		}
	}
	if OnceName("a b") == OnceName("a-b") {
		t.Error("keys with the same slug share a Lease")
	}
}
