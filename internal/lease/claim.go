package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pysup/pysup/internal/kubeapi"
)

// checkTiming is the rule every Lease user shares: it renews well within
// its deadline, and gives the Lease up before others may take it.
func checkTiming(who string, retry, renew, dur time.Duration) error {
	if retry <= 0 || renew <= retry || dur <= renew {
		return fmt.Errorf("%s: want 0 < retry period (%s) < renew deadline (%s) < lease duration (%s)", who, retry, renew, dur)
	}
	return nil
}

// newClaim is the claim of identity id on Lease name; a nil now is the
// local clock.
func newClaim(c *Client, name, id string, dur time.Duration, now func() time.Time, m *Metrics) *claim {
	if now == nil {
		now = time.Now
	}
	return &claim{c: c, name: name, id: id, dur: dur, now: now, m: m}
}

// orDiscard is log, or a logger that drops everything.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// claim is one identity's view of one Lease: the record last observed and
// the local time it was observed changing. Expiry is judged only by this
// local clock, never by the timestamps in the record, which another pod's
// clock wrote (client-go's leader election does the same).
type claim struct {
	c        *Client
	name, id string
	dur      time.Duration
	now      func() time.Time
	m        *Metrics
	// keep, if set, says a Lease must only be read, never taken (a
	// once-key already done).
	keep func(*Lease) bool

	observed   *Lease
	observedAt time.Time
}

// observe keeps l as the last record seen; the clock restarts only when
// the record changed.
func (k *claim) observe(l *Lease, now time.Time) {
	if k.observed == nil || !sameSpec(k.observed.Spec, l.Spec) {
		k.observedAt = now
	}
	k.observed = l
}

func sameSpec(a, b Spec) bool {
	return a.HolderIdentity == b.HolderIdentity && a.LeaseDurationSeconds == b.LeaseDurationSeconds &&
		a.AcquireTime.Equal(b.AcquireTime) && a.RenewTime.Equal(b.RenewTime) && a.LeaseTransitions == b.LeaseTransitions
}

// heldByOther reports the holder of the observed record when it is another
// identity whose lease has not expired by the local clock.
func (k *claim) heldByOther(now time.Time) string {
	l := k.observed
	if l == nil || l.Spec.HolderIdentity == "" || l.Spec.HolderIdentity == k.id {
		return ""
	}
	if now.Before(k.observedAt.Add(time.Duration(l.Spec.LeaseDurationSeconds) * time.Second)) {
		return l.Spec.HolderIdentity
	}
	return ""
}

// record makes l's spec say id holds it from now.
func (k *claim) record(l *Lease, now time.Time) {
	s := &l.Spec
	wall := now.Round(0) // informational only: others never trust it
	if s.HolderIdentity != k.id || s.AcquireTime.IsZero() {
		s.AcquireTime = wall
		if s.HolderIdentity != k.id {
			s.LeaseTransitions++
		}
	}
	s.HolderIdentity = k.id
	s.RenewTime = wall
	s.LeaseDurationSeconds = int32((k.dur + time.Second - 1) / time.Second)
}

// try is one round of acquire-or-renew, as client-go's tryAcquireOrRenew:
// create the Lease when missing; take it when free, expired (by the local
// clock) or ours; never when another holder's is still valid. fast (the
// holder renewing) updates from the last record seen without a read first,
// reading only after a conflict. edit, if not nil, changes the record to
// be written. It returns whether id holds the Lease now, and the holder
// seen otherwise; a lost race is not an error.
func (k *claim) try(ctx context.Context, fast bool, edit func(*Lease)) (held bool, holder string, err error) {
	now := k.now()
	if fast && k.observed != nil && k.observed.Spec.HolderIdentity == k.id {
		l := k.observed.clone()
		k.record(l, now)
		if edit != nil {
			edit(l)
		}
		got, err := k.c.Update(ctx, l)
		if err == nil {
			k.observe(got, now)
			return true, k.id, nil
		}
		k.m.count(k.name, err)
		if !errors.Is(err, kubeapi.ErrConflict) {
			return false, "", err
		}
	}
	l, err := k.c.Get(ctx, k.name)
	if errors.Is(err, kubeapi.ErrNotFound) {
		l = &Lease{Name: k.name}
		k.record(l, now)
		l.Spec.LeaseTransitions = 0
		if edit != nil {
			edit(l)
		}
		got, err := k.c.Create(ctx, l)
		if err != nil {
			k.m.count(k.name, err)
			if errors.Is(err, kubeapi.ErrConflict) {
				return false, "", nil // another replica created it first
			}
			return false, "", err
		}
		k.observe(got, now)
		return true, k.id, nil
	}
	if err != nil {
		k.m.count(k.name, err)
		return false, "", err
	}
	k.observe(l, k.now())
	if k.keep != nil && k.keep(l) {
		return false, "", nil
	}
	if h := k.heldByOther(k.now()); h != "" {
		return false, h, nil
	}
	n := l.clone()
	k.record(n, now)
	if edit != nil {
		edit(n)
	}
	got, err := k.c.Update(ctx, n)
	if err != nil {
		k.m.count(k.name, err)
		if errors.Is(err, kubeapi.ErrConflict) {
			return false, l.Spec.HolderIdentity, nil // another replica moved first
		}
		return false, "", err
	}
	k.observe(got, now)
	return true, k.id, nil
}

// ErrNotOurs is a release that found the Lease held by another identity
// (or never held): nothing was written.
var ErrNotOurs = errors.New("the lease is not ours")

// release writes a record that others may take at once (holder empty,
// one-second duration), as client-go's ReleaseOnCancel; edit may add to it.
// When the Lease is no longer ours it writes nothing and returns
// ErrNotOurs (wrapped, naming the holder).
func (k *claim) release(ctx context.Context, edit func(*Lease)) error {
	l := k.observed
	for attempt := 0; attempt < 3; attempt++ {
		if l == nil {
			return ErrNotOurs
		}
		if h := l.Spec.HolderIdentity; h != k.id {
			if h == "" {
				return fmt.Errorf("%w: free", ErrNotOurs)
			}
			return fmt.Errorf("%w: held by %s", ErrNotOurs, h)
		}
		n := l.clone()
		now := k.now().Round(0)
		n.Spec.HolderIdentity = ""
		n.Spec.LeaseDurationSeconds = 1
		n.Spec.AcquireTime, n.Spec.RenewTime = now, now
		if edit != nil {
			edit(n)
		}
		got, err := k.c.Update(ctx, n)
		if err == nil {
			k.observe(got, k.now())
			return nil
		}
		k.m.count(k.name, err)
		if !errors.Is(err, kubeapi.ErrConflict) {
			return err
		}
		if l, err = k.c.Get(ctx, k.name); err != nil {
			k.m.count(k.name, err)
			return err
		}
		k.observe(l, k.now())
	}
	return errors.New("release: conflicts on every attempt")
}
