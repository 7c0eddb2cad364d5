package lease

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// ElectorConfig configures leader election on one Lease.
type ElectorConfig struct {
	Client *Client
	// Name is the Lease's; Identity this pod's (POD_NAME or the hostname).
	Name, Identity string
	// LeaseDuration: how long a standby waits, from the last change of
	// the record it observed, before taking the Lease over.
	LeaseDuration time.Duration
	// RenewDeadline: the leader gives leadership up when it could not
	// renew for this long; shorter than LeaseDuration.
	RenewDeadline time.Duration
	// RetryPeriod: how often the leader renews and a standby tries.
	RetryPeriod time.Duration
	// OnChange is called (not concurrently) when this pod starts or stops
	// leading, or another holder is seen; it must not block.
	OnChange func(State)
	Metrics  *Metrics
	Log      *slog.Logger
	// Now is the local clock; nil: time.Now. Only differences are used.
	Now func() time.Time
}

// State is what an Elector knows.
type State struct {
	Leading bool
	// Holder is the identity holding the Lease as last seen ("" none).
	Holder string
}

// Elector is leader election with client-go's semantics (acquire when
// free or expired by the local clock, renew every RetryPeriod, give up
// after RenewDeadline without a renewal, release on the way out), shaped as
// a supervisor gate: Wait returns once this pod leads.
type Elector struct {
	cfg ElectorConfig
	log *slog.Logger

	mu      sync.Mutex // serialises Wait, the renew loop's rounds and Release
	claim   *claim
	smu     sync.Mutex // guards state alone: State never waits on a request
	state   State
	lost    chan struct{} // closed when leadership ends; nil: not leading
	stopRen context.CancelFunc
	renDone chan struct{}
}

// NewElector checks cfg and returns an Elector.
func NewElector(cfg ElectorConfig) (*Elector, error) {
	if cfg.Client == nil || cfg.Name == "" || cfg.Identity == "" {
		return nil, errors.New("lease: client, name and identity are required")
	}
	if err := checkTiming("lease", cfg.RetryPeriod, cfg.RenewDeadline, cfg.LeaseDuration); err != nil {
		return nil, err
	}
	c := newClaim(cfg.Client, cfg.Name, cfg.Identity, cfg.LeaseDuration, cfg.Now, cfg.Metrics)
	cfg.Now = c.now
	cfg.Metrics.standby(cfg.Name)
	return &Elector{cfg: cfg, log: orDiscard(cfg.Log).With("lease", cfg.Name), claim: c}, nil
}

// State returns what the Elector knows now.
func (e *Elector) State() State {
	e.smu.Lock()
	defer e.smu.Unlock()
	return e.state
}

// setLocked changes the state; callers hold e.mu, which keeps OnChange
// calls in order.
func (e *Elector) setLocked(s State) {
	e.smu.Lock()
	old := e.state
	e.state = s
	e.smu.Unlock()
	if s == old {
		return
	}
	if s.Leading != old.Leading {
		e.cfg.Metrics.leading(e.cfg.Name, s.Leading)
	}
	if e.cfg.OnChange != nil {
		e.cfg.OnChange(s)
	}
}

// Wait blocks until this pod holds the Lease, trying every RetryPeriod
// (jittered), or until ctx ends (ctx's error). The channel returned is
// closed when leadership ends. While leading it returns at once.
func (e *Elector) Wait(ctx context.Context) (<-chan struct{}, error) {
	logged := ""
	for {
		e.mu.Lock()
		if e.lost != nil {
			ch := e.lost
			e.mu.Unlock()
			return ch, nil
		}
		start := e.cfg.Now()
		held, holder, err := e.claim.try(ctx, false, nil)
		switch {
		case held:
			e.lost, e.renDone = make(chan struct{}), make(chan struct{})
			rctx, cancel := context.WithCancel(context.Background())
			e.stopRen = cancel
			e.setLocked(State{Leading: true, Holder: e.cfg.Identity})
			e.log.Info("leader election: acquired the lease; this pod leads", "identity", e.cfg.Identity,
				"transitions", e.claim.observed.Spec.LeaseTransitions)
			go e.renew(rctx, start, e.lost, e.renDone)
			ch := e.lost
			e.mu.Unlock()
			return ch, nil
		case err != nil:
			if ctx.Err() == nil && logged != err.Error() {
				e.log.Warn("leader election: lease not readable; retrying", "error", err.Error())
				logged = err.Error()
			}
		default:
			if holder != e.State().Holder {
				e.log.Info("leader election: standby", "leader", holder)
			}
			e.setLocked(State{Holder: holder})
		}
		e.mu.Unlock()
		p := e.cfg.RetryPeriod
		wait := p + time.Duration(rand.Float64()*1.2*float64(p)) // client-go's JitterFactor
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// renew keeps the Lease every RetryPeriod until rctx ends (Release), or
// until it could not for RenewDeadline or another holder took it.
func (e *Elector) renew(rctx context.Context, last time.Time, lost chan struct{}, done chan struct{}) {
	defer close(done)
	for {
		deadline := last.Add(e.cfg.RenewDeadline)
		wait := min(e.cfg.RetryPeriod, max(deadline.Sub(e.cfg.Now()), 0))
		select {
		case <-rctx.Done():
			return
		case <-time.After(wait):
		}
		e.mu.Lock()
		if rctx.Err() != nil {
			e.mu.Unlock()
			return
		}
		start := e.cfg.Now()
		var held bool
		var holder string
		var err error
		if start.Before(deadline) {
			actx, cancel := context.WithTimeout(rctx, deadline.Sub(start))
			held, holder, err = e.claim.try(actx, true, nil)
			cancel()
		}
		switch {
		case held:
			last = start
			e.mu.Unlock()
			continue
		case holder != "" && holder != e.cfg.Identity:
			e.loseLocked(lost, holder, "another pod holds the lease", "leader", holder)
		case !e.cfg.Now().Before(deadline):
			attrs := []any{"renew_deadline", e.cfg.RenewDeadline.String()}
			if err != nil {
				attrs = append(attrs, "error", err.Error())
			}
			e.loseLocked(lost, "", "lease not renewed within the renew deadline", attrs...)
		default:
			if err != nil {
				e.log.Warn("leader election: renewal failed; retrying", "error", err.Error(),
					"deadline_in", deadline.Sub(e.cfg.Now()).Round(time.Millisecond).String())
			}
			e.mu.Unlock()
			continue
		}
		e.mu.Unlock()
		return
	}
}

// loseLocked ends leadership; holder is who holds the Lease now, if known.
func (e *Elector) loseLocked(lost chan struct{}, holder, why string, attrs ...any) {
	if e.lost != lost {
		return
	}
	// State first: whoever the closed channel wakes must see standby.
	e.setLocked(State{Holder: holder})
	close(lost)
	e.lost = nil
	e.log.Warn("leader election: leadership lost: "+why, attrs...)
}

// Release ends leadership, if held: it stops renewing and writes a record
// others take at once (holder empty), so hand-over does not wait for the
// lease to expire. Call it after the child stopped.
func (e *Elector) Release(ctx context.Context) error {
	e.mu.Lock()
	stop, done := e.stopRen, e.renDone
	e.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	<-done
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopRen = nil
	if e.lost == nil {
		return nil // lost before: not ours to release
	}
	e.setLocked(State{})
	close(e.lost)
	e.lost = nil
	err := e.claim.release(ctx, nil)
	switch {
	case err == nil:
		e.log.Info("leader election: lease released")
	case errors.Is(err, ErrNotOurs):
		// Taken over since the last renewal: nothing of ours to give up.
		e.log.Info("leader election: lease not released: " + err.Error())
		return nil
	}
	return err
}
