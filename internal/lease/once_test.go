package lease

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pysup asked to stop (ctx cancelled) while the holder's commands are still
// stopping: the holder keeps renewing until they are gone, so no other
// replica starts them meanwhile.
func TestOnceRenewsWhileStopping(t *testing.T) {
	_, c := newFakeAPI(t)
	cfg := OnceConfig{Client: c, Key: "k", LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond}
	a := cfg
	a.Identity = "a"
	oa, _ := NewOnce(a)
	b := cfg
	b.Identity = "b"
	ob, _ := NewOnce(b)

	ctx, cancel := context.WithCancel(context.Background())
	var aRunning atomic.Bool
	aDone := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		aDone <- oa.Do(ctx, func(rctx context.Context) error {
			aRunning.Store(true)
			close(started)
			<-rctx.Done()
			// A command trapping the stop signal, taking 5s (longer
			// than the lease duration) to stop.
			time.Sleep(5 * time.Second)
			aRunning.Store(false)
			return rctx.Err()
		})
	}()
	<-started
	time.Sleep(300 * time.Millisecond)
	cancel() // SIGTERM to replica a
	bctx, bcancel := context.WithTimeout(context.Background(), 4500*time.Millisecond)
	defer bcancel()
	var overlap atomic.Bool
	_ = ob.Do(bctx, func(context.Context) error {
		if aRunning.Load() {
			overlap.Store(true)
		}
		return nil
	})
	if overlap.Load() {
		t.Errorf("replica b ran the commands while replica a's were still stopping")
	}
	if err := <-aDone; err == nil {
		t.Errorf("a's Do = nil after a stopped run, want its error")
	}
}

// A replica waiting for the once-key while another holds it, asked to
// stop: Do returns nil (pysup then exits 0, as a standby does) without
// running anything.
func TestOnceWaitingStopReturnsNil(t *testing.T) {
	_, c := newFakeAPI(t)
	cfg := OnceConfig{Client: c, Key: "k", LeaseDuration: 10 * time.Second, RenewDeadline: 5 * time.Second, RetryPeriod: 200 * time.Millisecond}
	a := cfg
	a.Identity = "a"
	oa, _ := NewOnce(a)
	b := cfg
	b.Identity = "b"
	waiting := make(chan struct{}, 1)
	b.Waiting = func(string) {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	ob, _ := NewOnce(b)

	actx, acancel := context.WithCancel(context.Background())
	defer acancel()
	holding := make(chan struct{})
	go func() {
		_ = oa.Do(actx, func(ctx context.Context) error { close(holding); <-ctx.Done(); return ctx.Err() })
	}()
	<-holding
	bctx, bcancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	ran := false
	go func() { errc <- ob.Do(bctx, func(context.Context) error { ran = true; return nil }) }()
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("b never waited for a")
	}
	bcancel()
	select {
	case err := <-errc:
		if err != nil || ran {
			t.Errorf("waiting replica stopped: Do = %v, ran %v; want nil, not run", err, ran)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Do did not return after the stop")
	}
}

// Another replica took the Lease between the holder's last renewal and its
// record of success: nothing is recorded, and the log does not claim it
// was.
func TestOnceRecordNotOurs(t *testing.T) {
	f, c := newFakeAPI(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	o, _ := NewOnce(OnceConfig{Client: c, Key: "k", Identity: "a", Log: log,
		LeaseDuration: 10 * time.Second, RenewDeadline: 5 * time.Second, RetryPeriod: 2 * time.Second})
	err := o.Do(context.Background(), func(context.Context) error {
		f.setHolder(o.Name(), "b", time.Now().UTC().Format(microTime))
		return nil
	})
	if err != nil {
		t.Errorf("Do = %v, want nil (the commands succeeded)", err)
	}
	f.mu.Lock()
	md := f.leases[o.Name()]["metadata"].(map[string]any)
	f.mu.Unlock()
	if ann, _ := md["annotations"].(map[string]any); ann[AnnotationDone] != nil {
		t.Errorf("recorded done in a Lease b holds: %v", ann)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), "done; recorded") || !strings.Contains(logs.String(), "held by b") {
		t.Errorf("log:\n%s\nwant no 'done; recorded', and the holder named", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// The Lease lost while the commands already stop (ctx cancelled first):
// Lost's channel closes all the same, and Do reports the loss.
func TestOnceLostAfterStop(t *testing.T) {
	f, c := newFakeAPI(t)
	o, _ := NewOnce(OnceConfig{Client: c, Key: "k", Identity: "a",
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	running := make(chan struct{})
	errc := make(chan error, 1)
	var lostAfter time.Duration
	go func() {
		errc <- o.Do(ctx, func(rctx context.Context) error {
			close(running)
			<-rctx.Done()
			stopped := time.Now()
			select {
			case <-Lost(rctx):
				lostAfter = time.Since(stopped)
			case <-time.After(10 * time.Second):
				lostAfter = -1
			}
			return rctx.Err()
		})
	}()
	<-running
	if Lost(ctx) != nil {
		t.Error("Lost of a context Do did not make is not nil")
	}
	cancel()
	time.Sleep(300 * time.Millisecond)
	f.setHolder(o.Name(), "b", time.Now().UTC().Format(microTime))
	err := <-errc
	if lostAfter < 0 {
		t.Error("Lost's channel did not close after another replica took the Lease")
	}
	if !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Do = %v, want ErrLeaseLost", err)
	}
}
