package lease

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"
)

// Annotations the once-guard writes on its Lease.
const (
	AnnotationKey    = "pysup.io/once-key"     // the key, verbatim
	AnnotationDone   = "pysup.io/once-done"    // RFC3339 time of the successful run
	AnnotationDoneBy = "pysup.io/once-done-by" // identity that ran it
)

// OnceName is the Lease name for key: "pysup-once-", a slug of the key and
// a hash of it, a valid DNS subdomain of at most 63 characters.
func OnceName(key string) string {
	sum := sha256.Sum256([]byte(key))
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(key) {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		switch {
		case ok:
			b.WriteRune(c)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 30 {
			break
		}
	}
	slug := strings.Trim(b.String(), "-")
	if slug != "" {
		slug += "-"
	}
	return "pysup-once-" + slug + hex.EncodeToString(sum[:])[:10]
}

// OnceConfig configures the once-guard of one key.
type OnceConfig struct {
	Client        *Client
	Key, Identity string
	// LeaseDuration, RenewDeadline, RetryPeriod as for leader election:
	// a holder that dies loses the Lease LeaseDuration after its last
	// renewal, as seen by the waiting replicas' clocks.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Waiting is called when another replica holds the Lease (its
	// identity); it must not block.
	Waiting func(holder string)
	Metrics *Metrics
	Log     *slog.Logger
	Now     func() time.Time
}

// ErrLeaseLost ends a run whose holder could no longer renew its Lease:
// another replica may take over, so this one must not go on.
var ErrLeaseLost = errors.New("once-key lease lost")

// lostKey is the context key of the channel Lost returns.
type lostKey struct{}

// Lost returns, for the context Do passes to its function, a channel
// closed when the Lease is lost, also after ctx was cancelled for another
// reason (pysup stopping while the commands still stop): whatever still
// runs must then be gone before another replica may start it. Nil for any
// other context.
func Lost(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(lostKey{}).(<-chan struct{})
	return ch
}

// Once runs a function at most once successfully per key across replicas:
// Do takes the key's Lease (waiting while another replica holds it), runs
// the function unless the Lease says the key is done, and records success
// in its annotations. A failure is not recorded, so the next replica (or
// restart) tries again. The Lease is renewed while the function runs.
type Once struct {
	cfg   OnceConfig
	log   *slog.Logger
	claim *claim
}

// NewOnce checks cfg and returns the guard.
func NewOnce(cfg OnceConfig) (*Once, error) {
	if cfg.Client == nil || cfg.Key == "" || cfg.Identity == "" {
		return nil, errors.New("once: client, key and identity are required")
	}
	if err := checkTiming("once", cfg.RetryPeriod, cfg.RenewDeadline, cfg.LeaseDuration); err != nil {
		return nil, err
	}
	name := OnceName(cfg.Key)
	c := newClaim(cfg.Client, name, cfg.Identity, cfg.LeaseDuration, cfg.Now, cfg.Metrics)
	cfg.Now = c.now
	o := &Once{cfg: cfg, log: orDiscard(cfg.Log).With("lease", name), claim: c}
	o.claim.keep = func(*Lease) bool { _, _, done := o.done(); return done }
	return o, nil
}

// Name is the Lease's name.
func (o *Once) Name() string { return o.claim.name }

// done reports whether the observed Lease records the key as done.
func (o *Once) done() (at, by string, ok bool) {
	l := o.claim.observed
	if l == nil || l.Annotations[AnnotationKey] != o.cfg.Key || l.Annotations[AnnotationDone] == "" {
		return "", "", false
	}
	return l.Annotations[AnnotationDone], l.Annotations[AnnotationDoneBy], true
}

// Do runs run once per key across replicas (see Once). It returns nil when
// the key was done already (run not called) or run succeeded, run's error
// when it failed, ErrLeaseLost (wrapped) when the Lease was lost while run
// ran. When ctx ends before this replica holds the Lease it returns nil
// too, run not called: a replica stopped while waiting stopped nothing of
// its own, and exits 0 as a standby does; the caller, asked to stop, does
// not go on.
func (o *Once) Do(ctx context.Context, run func(context.Context) error) error {
	logged, waitingFor := "", ""
	mark := func(l *Lease) {
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[AnnotationKey] = o.cfg.Key
	}
	for {
		start := o.cfg.Now()
		held, holder, err := o.claim.try(ctx, false, func(l *Lease) {
			// A Lease the key is done in is never taken: only read.
			mark(l)
		})
		if at, by, ok := o.done(); ok && !held {
			o.log.Info("pre-start commands skipped: once-key already done", "once_key", o.cfg.Key, "done_at", at, "done_by", by)
			return nil
		}
		switch {
		case held:
			return o.hold(ctx, start, run)
		case err != nil:
			if ctx.Err() != nil {
				o.log.Info("stop requested while waiting for the once-key lease", "once_key", o.cfg.Key)
				return nil
			}
			if logged != err.Error() {
				o.log.Warn("once-key lease not readable; retrying", "once_key", o.cfg.Key, "error", err.Error())
				logged = err.Error()
			}
		case holder != "":
			if holder != waitingFor {
				o.log.Info("pre-start commands running on another replica: waiting", "once_key", o.cfg.Key, "holder", holder)
				waitingFor = holder
			}
			if o.cfg.Waiting != nil {
				o.cfg.Waiting(holder)
			}
		}
		p := o.cfg.RetryPeriod
		select {
		case <-ctx.Done():
			o.log.Info("stop requested while waiting for the once-key lease", "once_key", o.cfg.Key)
			return nil
		case <-time.After(p/2 + rand.N(p)):
		}
	}
}

// hold runs run while renewing the Lease, then records the outcome.
func (o *Once) hold(ctx context.Context, acquired time.Time, run func(context.Context) error) error {
	o.log.Info("once-key lease acquired: running the pre-start commands", "once_key", o.cfg.Key)
	lost := make(chan struct{})
	rctx, cancel := context.WithCancelCause(context.WithValue(ctx, lostKey{}, (<-chan struct{})(lost)))
	defer cancel(nil)
	loseLease := func() {
		close(lost)
		cancel(ErrLeaseLost)
	}
	renewed := make(chan struct{})
	stop := make(chan struct{})
	// Renewals go on after ctx ends (pysup asked to stop) until run has
	// returned: commands still stopping must keep the Lease, or another
	// replica starts them meanwhile.
	renewCtx := context.WithoutCancel(ctx)
	go func() {
		defer close(renewed)
		last := acquired
		for {
			deadline := last.Add(o.cfg.RenewDeadline)
			select {
			case <-stop:
				return
			case <-time.After(min(o.cfg.RetryPeriod, max(deadline.Sub(o.cfg.Now()), 0))):
			}
			start := o.cfg.Now()
			if !start.Before(deadline) {
				o.log.Error("once-key lease not renewed within the renew deadline: stopping the pre-start commands", "once_key", o.cfg.Key)
				loseLease()
				return
			}
			actx, c := context.WithTimeout(renewCtx, deadline.Sub(start))
			held, holder, err := o.claim.try(actx, true, nil)
			c()
			switch {
			case held:
				last = start
			case holder != "" && holder != o.cfg.Identity:
				o.log.Error("once-key lease taken by another replica: stopping the pre-start commands", "holder", holder)
				loseLease()
				return
			case err != nil:
				o.log.Warn("once-key lease renewal failed; retrying", "error", err.Error())
			}
		}
	}()
	err := run(rctx)
	close(stop)
	<-renewed
	select {
	case <-lost:
		// Also when ctx ended first: the Lease is another's now.
		return fmt.Errorf("%w (pre-start commands stopped: %v)", ErrLeaseLost, err)
	default:
	}
	// Record within a bounded time even when ctx ended (pysup stopping).
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*o.cfg.RenewDeadline)
	defer wcancel()
	if err != nil {
		// Not done: let the next replica try at once.
		switch rerr := o.claim.release(wctx, nil); {
		case errors.Is(rerr, ErrNotOurs):
			o.log.Info("once-key lease not released after the failure: "+rerr.Error(), "once_key", o.cfg.Key)
		case rerr != nil:
			o.log.Warn("once-key lease not released after the failure; others take it over when it expires", "error", rerr.Error())
		}
		return err
	}
	now := o.cfg.Now().Round(0)
	rerr := o.claim.release(wctx, func(l *Lease) {
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[AnnotationKey] = o.cfg.Key
		l.Annotations[AnnotationDone] = now.UTC().Format(time.RFC3339)
		l.Annotations[AnnotationDoneBy] = o.cfg.Identity
	})
	if errors.Is(rerr, ErrNotOurs) {
		// Taken over since the last renewal: the new holder runs them
		// again (they must be idempotent).
		o.log.Error("pre-start commands succeeded but not recorded in the once-key lease: "+rerr.Error(), "once_key", o.cfg.Key)
		return nil
	}
	if rerr != nil {
		// The commands succeeded; another replica will run them again
		// (they must be idempotent, as migrations are) rather than none.
		o.log.Error("pre-start commands succeeded but the once-key lease could not record it", "error", rerr.Error())
		return nil
	}
	o.log.Info("pre-start commands done; recorded in the once-key lease", "once_key", o.cfg.Key)
	return nil
}
