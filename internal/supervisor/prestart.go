package supervisor

import (
	"context"
	"errors"
	"os"
	"syscall"

	"github.com/pysup/pysup/internal/signals"
)

// exitCoder is an error that knows the status pysup exits with
// (*prestart.Error is one).
type exitCoder interface{ ExitCode() int }

// prestart runs Options.Prestart, turning a TERM or INT into the
// cancellation of its context. It reports whether the child may start and,
// when not, the status to exit with.
func (s *Supervisor) prestart(ctx context.Context, sigs <-chan os.Signal) (int, bool) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.opts.Prestart(pctx) }()
	var stopSig signals.Signal
	ctxDone := ctx.Done()
	for {
		select {
		case err := <-done:
			if stopSig == 0 && ctx.Err() != nil {
				// ctx ended (a stop) as the phase returned: the child
				// must not start, whatever select saw first.
				stopSig = signals.Signal(syscall.SIGTERM)
			}
			return s.prestartEnded(err, stopSig)
		case <-ctxDone:
			ctxDone = nil
			if stopSig == 0 {
				stopSig = signals.Signal(syscall.SIGTERM)
			}
		case osSig := <-sigs:
			sig := signals.Signal(osSig.(syscall.Signal))
			if !isStopRequest(osSig) {
				s.log.Debug("signal ignored: no child yet (pre-start phase)", "signal", sig.String())
				continue
			}
			if stopSig == 0 {
				stopSig = sig
				s.log.Info("stop requested during the pre-start phase: the child will not start", "signal", sig.String())
				cancel()
			}
		}
	}
}

func (s *Supervisor) prestartEnded(err error, stopSig signals.Signal) (int, bool) {
	var ec exitCoder
	code := 1
	if errors.As(err, &ec) && ec.ExitCode() > 0 {
		code = ec.ExitCode()
	} else if stopSig != 0 {
		code = 128 + int(stopSig)
	}
	switch {
	case stopSig != 0:
		if err == nil {
			code = 0
		}
		s.log.Info("stopped in the pre-start phase: child not started", "exit_code", code)
		return code, false
	case err != nil:
		s.log.Error("pre-start phase failed: child not started", "error", err.Error(), "exit_code", code)
		return code, false
	}
	return 0, true
}
