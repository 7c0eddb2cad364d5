package logs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pysup/pysup/internal/config"
	"github.com/pysup/pysup/internal/logs/fluent"
	"github.com/pysup/pysup/internal/podinfo"
	"golang.org/x/sys/unix"
)

// Options configures a Pipeline. FromConfig builds them from pysup's
// configuration.
type Options struct {
	Format           string            // "json" (default) or "console"
	Color            bool              // console: ANSI colors
	MaxLine          int               // longest line kept whole; default 64 KiB
	Fields           map[string]string // static fields (PYSUP_LOG_FIELDS)
	TracebackTimeout time.Duration     // hold time for traceback joining; default 200ms
	Pod              *podinfo.Source   // nil outside Kubernetes
	Output           io.Writer         // default os.Stdout
	Fluent           *fluent.Config    // nil: no shipping
	Diag             *slog.Logger      // pysup's own diagnostics; nil discards
}

// FromConfig turns pysup's logs settings into Options; out is where the
// records go (os.Stdout in main).
func FromConfig(c config.Logs, pod *podinfo.Source, out io.Writer, diag *slog.Logger) Options {
	o := Options{
		Format:           c.LogFormat,
		MaxLine:          int(c.LogMaxLine),
		Fields:           c.LogFields,
		TracebackTimeout: c.LogTraceback,
		Pod:              pod,
		Output:           out,
		Diag:             diag,
	}
	if f, ok := out.(*os.File); ok && c.LogFormat == "console" {
		o.Color = isTerminal(f)
	}
	if c.FluentAddr.Network != "" {
		o.Fluent = &fluent.Config{
			Network:   c.FluentAddr.Network,
			Address:   c.FluentAddr.Address,
			Tag:       c.FluentTag,
			Timeout:   c.FluentTimeout,
			Buffer:    int64(c.LogBufferSize),
			SpoolDir:  c.LogSpoolDir,
			SpoolSize: int64(c.LogSpoolSize),
			Diag:      diag,
		}
	}
	return o
}

// Pipeline reads the child's stdout and stderr through two pipes and
// writes enriched records to its sinks.
//
// Use: New; pass Stdout() and Stderr() as the child's fd 1 and 2 (they stay
// valid across restarts of the child); Run in a goroutine; when the child
// and all its descendants are gone, Shutdown.
type Pipeline struct {
	maxLine   int
	tbTimeout time.Duration
	console   bool
	color     bool
	enr       *enricher
	diag      *slog.Logger
	ship      *fluent.Shipper

	outMu sync.Mutex
	out   io.Writer

	rOut, rErr    int // read ends, raw non-blocking descriptors (see newPipe)
	wOut, wErr    *os.File
	coalesceBelow int // a read of fewer bytes is followed by coalesceWait

	wakeMu sync.Mutex // guards wake against abort racing with Run's close
	wake   int        // eventfd ending the reader's poll; -1 once closed

	// Tagged streams (NewStreams): their readers, which poll wake too.
	extra sync.WaitGroup

	partialPrefix string
	partialSeq    atomic.Uint64

	aborted                                 atomic.Bool
	bytesIn, recordsIn, recordsOut, partial atomic.Uint64
	outErrors                               atomic.Uint64
	runOnce, closeOnce                      sync.Once
	readersDone, shipDone                   chan struct{}
	shipCancel                              context.CancelFunc
}

// New creates the pipes (and the Fluent shipper, recovering its spool).
func New(o Options) (*Pipeline, error) {
	if o.MaxLine <= 0 {
		o.MaxLine = 64 << 10
	}
	if o.TracebackTimeout <= 0 {
		o.TracebackTimeout = 200 * time.Millisecond
	}
	if o.Output == nil {
		o.Output = os.Stdout
	}
	if o.Diag == nil {
		o.Diag = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{
		maxLine:     o.MaxLine,
		tbTimeout:   o.TracebackTimeout,
		console:     o.Format == "console",
		color:       o.Color,
		enr:         newEnricher(o.Fields, o.Pod),
		diag:        o.Diag,
		out:         o.Output,
		readersDone: make(chan struct{}),
		shipDone:    make(chan struct{}),
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	p.partialPrefix = hex.EncodeToString(id[:]) + "-"
	if o.Fluent != nil {
		s, err := fluent.New(*o.Fluent)
		if err != nil {
			return nil, err
		}
		p.ship = s
	}
	var err error
	var outSize, errSize int
	if p.wake, err = newWake(); err != nil {
		return nil, fmt.Errorf("logs: eventfd: %w", err)
	}
	if p.rOut, p.wOut, outSize, err = newPipe(); err != nil {
		unix.Close(p.wake)
		return nil, err
	}
	if p.rErr, p.wErr, errSize, err = newPipe(); err != nil {
		unix.Close(p.wake)
		unix.Close(p.rOut)
		p.wOut.Close()
		return nil, err
	}
	if size := min(outSize, errSize); size >= coalesceMinPipe {
		p.coalesceBelow = size / 4
	}
	return p, nil
}

// Stdout is the write end to give the child as its fd 1.
func (p *Pipeline) Stdout() *os.File { return p.wOut }

// Stderr is the write end to give the child as its fd 2.
func (p *Pipeline) Stderr() *os.File { return p.wErr }

// Run reads both pipes until Shutdown has closed the write ends and the
// pipes are drained (or the read is aborted), and ships in the background
// until Shutdown. Cancelling ctx aborts reading at once (records in the
// pipes are lost): normally let Shutdown end it.
func (p *Pipeline) Run(ctx context.Context) error {
	started := false
	p.runOnce.Do(func() { started = true })
	if !started {
		return errors.New("logs: Run called twice, or after Shutdown")
	}
	if p.ship != nil {
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		p.shipCancel = cancel
		go func() {
			defer close(p.shipDone)
			p.ship.Run(sctx)
		}()
	} else {
		close(p.shipDone)
	}
	p.read(ctx)
	return ctx.Err()
}

// read reads the child's pipes until EOF, or until ctx ends or the
// pipeline is aborted.
func (p *Pipeline) read(ctx context.Context) {
	stop := context.AfterFunc(ctx, p.abort)
	p.readThread([]*streamReader{newStreamReader(p, Stdout, p.rOut), newStreamReader(p, Stderr, p.rErr)})
	stop()
	p.closeReadEnds()
	close(p.readersDone)
}

// abort makes the reader stop without waiting for EOF.
func (p *Pipeline) abort() {
	p.aborted.Store(true)
	p.wakeMu.Lock()
	if p.wake >= 0 {
		signalWake(p.wake)
	}
	p.wakeMu.Unlock()
}

// closeReadEnds closes the child's read ends, once their reader is done
// (or was never started).
func (p *Pipeline) closeReadEnds() {
	p.wakeMu.Lock()
	defer p.wakeMu.Unlock()
	if p.rOut < 0 {
		return
	}
	unix.Close(p.rOut)
	unix.Close(p.rErr)
	p.rOut, p.rErr = -1, -1
}

// closeWake closes the eventfd once no reader polls it any more: the
// child's and every tagged pair's.
func (p *Pipeline) closeWake() {
	p.wakeMu.Lock()
	defer p.wakeMu.Unlock()
	if p.wake >= 0 {
		unix.Close(p.wake)
		p.wake = -1
	}
}

// Result is what Shutdown reports.
type Result struct {
	Records     uint64 // records read from the child
	Undelivered int    // records the Fluent receiver did not acknowledge in time
	Dropped     uint64 // records lost to the Fluent buffer and spool bounds
	Persisted   int    // undelivered records saved to the spool for the next run
}

// Shutdown closes pysup's write ends, lets the readers drain the pipes to
// EOF (the child and its descendants must be gone, or their copies of the
// write ends keep the pipes open until ctx is done), then flushes the
// Fluent shipper until ctx's deadline. It logs and returns what could not
// be delivered.
func (p *Pipeline) Shutdown(ctx context.Context) (Result, error) {
	var res Result
	var errs []error
	p.closeOnce.Do(func() {
		p.wOut.Close()
		p.wErr.Close()
	})
	// Run is started on a goroutine of its own, which may not have run yet
	// when a child that lived a moment is already gone: then Shutdown
	// reads the pipes itself, so that not a line is lost, and a late Run
	// returns at once.
	claimed := false
	p.runOnce.Do(func() {
		claimed = true
		close(p.shipDone)
	})
	if claimed {
		p.read(ctx)
	} else {
		select {
		case <-p.readersDone:
		case <-ctx.Done():
			p.diag.Warn("logs: the child's output did not reach EOF before the deadline; a process may still hold it")
			p.abort()
			<-p.readersDone
		}
	}
	extraDone := make(chan struct{})
	go func() {
		p.extra.Wait()
		close(extraDone)
	}()
	select {
	case <-extraDone:
	case <-ctx.Done():
		p.diag.Warn("logs: a pre-start command's output did not reach EOF before the deadline; a process it left may still hold it")
		p.abort()
		<-extraDone
	}
	p.closeWake()
	res.Records = p.recordsIn.Load()
	if p.ship != nil {
		r, err := p.ship.Close(ctx)
		if p.shipCancel != nil {
			p.shipCancel()
			<-p.shipDone
		}
		res.Undelivered, res.Dropped, res.Persisted = r.Undelivered, r.Dropped, r.Persisted
		if err != nil {
			errs = append(errs, err)
		}
		if r.Undelivered > 0 || r.Dropped > 0 {
			p.diag.Warn("logs: records not delivered to the Fluent receiver",
				"undelivered", r.Undelivered, "kept_in_spool", r.Persisted+0, "dropped", r.Dropped, "records", res.Records)
		} else {
			p.diag.Info("logs: every record delivered to the Fluent receiver", "records", res.Records)
		}
	}
	if n := p.outErrors.Load(); n > 0 {
		errs = append(errs, fmt.Errorf("logs: %d writes to stdout failed", n))
	}
	return res, errors.Join(errs...)
}

// writeOut writes encoded records to the output, serialized between the
// two streams. A failing stdout is counted, not retried: there is nowhere
// else to write.
func (p *Pipeline) writeOut(b []byte) error {
	p.outMu.Lock()
	_, err := p.out.Write(b)
	p.outMu.Unlock()
	if err != nil {
		p.outErrors.Add(1)
	}
	return err
}
