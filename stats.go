package mill

import "time"

// Stats is a snapshot of a server's counters. Counters only grow; the
// gauges (Open, OutboundPending, TasksQueued) are current values. The
// fields of one loop are read one by one, so a snapshot taken under load
// is consistent per field, not across fields.
type Stats struct {
	Loops []LoopStats // one per sub-reactor, in loop order
	Total LoopStats   // the sum over Loops

	AcceptErrors uint64 // failed accepts (EMFILE, ENFILE, ENOBUFS, ...) that paused accepting
	Refused      uint64 // connections closed at accept by WithMaxConns

	TLS   TLSStats   // TLS handshakes, on every TLS address (and a Client's TLS dials)
	Proxy ProxyStats // PROXY protocol headers, on every address that takes them
}

// LoopStats are one event loop's counters (or their sum).
type LoopStats struct {
	Open            int64       // connections open now, including ones on their way to the loop and a Client's attempts under way
	Accepted        uint64      // connections handed to the loop: accepted, adopted or established
	Closed          CloseCounts // connections closed, by cause
	BytesIn         uint64      // bytes read from sockets
	BytesOut        uint64      // bytes handed to the kernel
	Reads           uint64      // reads that returned data, datagrams received included
	Writes          uint64      // writes and writevs that sent data, datagrams sent included
	OutboundPending int64       // bytes queued for output now
	TasksQueued     int         // tasks waiting in the loop's queue now (AsyncWrite, Close, ...), not counting a batch the loop is running
	Truncated       uint64      // datagrams dropped for being longer than the read buffer
	WritesRefused   uint64      // writes refused whole by the outbound limits under FailWrite (ErrOutboundFull)
	FlowPauses      uint64      // times flow control stopped reading a connection whose queued output passed the high watermark
	LingerDropped   uint64      // input bytes read and dropped by lingering closes
	OutputDropped   uint64      // output bytes accepted by writes but still queued when their connection closed (a close's last flush could not send them; a linger timeout)

	// With WithLoopMetrics (zero without): how long the loop has spent
	// working rather than waiting for events, and how late it ran the
	// probe tasks it was given, one every interval.
	Busy time.Duration
	Lag  LagHistogram
}

// LagHistogram counts how late a loop ran the tasks it was given (see
// WithLoopMetrics): Counts[i] is how many were late by at most
// Bounds[i] (and more than the bound before); the last count, past the
// last bound.
type LagHistogram struct {
	Bounds []time.Duration // ascending upper bounds, the same for every loop
	Counts []uint64        // len(Bounds)+1, not cumulative
	Count  uint64          // the probes, the sum of Counts
	Sum    time.Duration   // their lateness, summed
}

func (h *LagHistogram) add(o LagHistogram) {
	if h.Bounds == nil {
		h.Bounds = o.Bounds
		h.Counts = make([]uint64, len(o.Counts))
	}
	for i, n := range o.Counts {
		h.Counts[i] += n
	}
	h.Count += o.Count
	h.Sum += o.Sum
}

// CloseCounts counts closed connections by what closed them. Timeouts
// and panics are here too.
type CloseCounts struct {
	Clean        uint64 // nil error: the peer or the handler closed it (CloseLingering included)
	IOError      uint64 // the socket failed (reset, broken pipe, ...)
	Codec        uint64 // the codec rejected the input
	IdleTimeout  uint64 // ErrIdleTimeout
	ReadTimeout  uint64 // ErrReadTimeout
	WriteTimeout uint64 // ErrWriteTimeout
	Panic        uint64 // handler code panicked
	SlowConsumer uint64 // queued output would have passed its limit (CloseSlowConsumer)
	Shutdown     uint64 // closed by a shutdown (ErrServerClosed)
	InboundLimit uint64 // unread input stuck at the inbound limit (ErrInboundLimit)
	TLS          uint64 // a TLS handshake failed (ErrTLSHandshake; Stats.TLS says why), or TLS failed after it (ErrTLS)
	Proxy        uint64 // refused for its PROXY protocol header (ErrProxyProtocol; Stats.Proxy says why)
}

// Total is the number of connections closed for any cause.
func (c CloseCounts) Total() uint64 {
	return c.Clean + c.IOError + c.Codec + c.IdleTimeout + c.ReadTimeout + c.WriteTimeout +
		c.Panic + c.SlowConsumer + c.Shutdown + c.InboundLimit + c.TLS + c.Proxy
}

func (c *CloseCounts) add(o CloseCounts) {
	c.Clean += o.Clean
	c.IOError += o.IOError
	c.Codec += o.Codec
	c.IdleTimeout += o.IdleTimeout
	c.ReadTimeout += o.ReadTimeout
	c.WriteTimeout += o.WriteTimeout
	c.Panic += o.Panic
	c.SlowConsumer += o.SlowConsumer
	c.Shutdown += o.Shutdown
	c.InboundLimit += o.InboundLimit
	c.TLS += o.TLS
	c.Proxy += o.Proxy
}

// Stats returns a snapshot of the server's counters. Any goroutine; it
// takes no lock that a loop takes.
func (s *Server) Stats() Stats { return s.eng.stats() }
