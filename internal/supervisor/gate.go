package supervisor

import (
	"context"
	"os"
	"time"
)

// Gate holds the child back until it may run, and takes that permission
// back: leader election's "only while this pod holds the Lease".
type Gate interface {
	// Wait blocks until the child may start, or until ctx ends (then it
	// returns ctx's error). The returned channel is closed when the
	// permission ends. Called again while permitted, it returns at once.
	Wait(ctx context.Context) (revoked <-chan struct{}, err error)
}

// PhaseStandby is while the child waits for the gate: after pysup started
// and after each revocation.
const PhaseStandby Phase = 100

// awaitGate waits for the gate, forwarding nothing (there is no child) and
// ending on a stop request. ok is false when pysup should exit.
func (s *Supervisor) awaitGate(ctx context.Context, sigs <-chan os.Signal) (revoked <-chan struct{}, ok bool) {
	s.phase(PhaseStandby)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		ch  <-chan struct{}
		err error
	}
	res := make(chan result, 1)
	go func() {
		ch, err := s.opts.Gate.Wait(wctx)
		res <- result{ch, err}
	}()
	for {
		select {
		case r := <-res:
			if r.err != nil {
				if ctx.Err() == nil {
					s.log.Error("child gate failed", "error", r.err.Error())
				}
				return nil, false
			}
			// A stop request may have arrived with the permission (select
			// picks either): it wins, and the child does not start. The
			// Lease is released at exit.
		pending:
			for {
				select {
				case sig := <-sigs:
					if isStopRequest(sig) {
						s.log.Info("stop requested while standby", "signal", sig.String())
						return nil, false
					}
				default:
					break pending
				}
			}
			if ctx.Err() != nil {
				return nil, false
			}
			return r.ch, true
		case <-ctx.Done():
			cancel()
			<-res
			return nil, false
		case sig := <-sigs:
			if isStopRequest(sig) {
				s.log.Info("stop requested while standby", "signal", sig.String())
				cancel()
				<-res
				return nil, false
			}
			s.log.Debug("signal ignored: no child while standby", "signal", sig.String())
		}
	}
}

// revokeTimeout is the stop deadline when the gate takes the permission
// back.
func (s *Supervisor) revokeTimeout() time.Duration {
	if t := s.opts.RevokeStopTimeout; t > 0 && t < s.opts.StopTimeout {
		return t
	}
	return s.opts.StopTimeout
}
