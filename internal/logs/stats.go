package logs

// Stats is a snapshot of the pipeline's counters since New, for the
// metrics part.
type Stats struct {
	BytesIn    uint64 // bytes read from the child
	RecordsIn  uint64 // records made from them
	RecordsOut uint64 // records written to stdout
	Partial    uint64 // records that are pieces of over-long lines
	OutErrors  uint64 // failed writes to stdout

	// Fluent shipping; zero when off.
	FluentSent       uint64 // records acknowledged
	FluentSendErrors uint64 // failed attempts to send a batch (each is retried)
	FluentDropped    uint64 // records lost to the buffer and spool bounds
	FluentSpooled    uint64 // records written to the disk spool
	FluentBuffered   int    // records waiting in memory now
	FluentOnDisk     int    // records waiting in the spool now
}

// Stats returns the counters of now. Safe to call from any goroutine.
func (p *Pipeline) Stats() Stats {
	s := Stats{
		BytesIn:    p.bytesIn.Load(),
		RecordsIn:  p.recordsIn.Load(),
		RecordsOut: p.recordsOut.Load(),
		Partial:    p.partial.Load(),
		OutErrors:  p.outErrors.Load(),
	}
	if p.ship != nil {
		f := p.ship.Stats()
		s.FluentSent, s.FluentSendErrors, s.FluentDropped = f.Sent, f.SendErrors, f.Dropped
		s.FluentSpooled, s.FluentBuffered, s.FluentOnDisk = f.Spooled, f.Buffered, f.OnDisk
	}
	return s
}
