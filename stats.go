//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"errors"
	"sync/atomic"

	"github.com/mill-io/mill/codec"
)

// loopCounters are one loop's counters. The loop goroutine updates them
// with uncontended atomic adds (a few per message, no lock); Stats reads
// them from any goroutine.
type loopCounters struct {
	accepted, bytesIn, bytesOut, reads, writes atomic.Uint64
	outPending                                 atomic.Int64
	closed                                     [numCauses]atomic.Uint64
}

// closeCause classifies why a connection closed, for Stats.
type closeCause int

const (
	causeClean closeCause = iota
	causeIOError
	causeCodec
	causeIdleTimeout
	causeReadTimeout
	causeWriteTimeout
	causePanic
	causeSlowConsumer
	causeShutdown
	numCauses
)

func causeOf(err error) closeCause {
	switch {
	case err == nil:
		return causeClean
	case errors.Is(err, ErrServerClosed):
		return causeShutdown
	case errors.Is(err, ErrIdleTimeout):
		return causeIdleTimeout
	case errors.Is(err, ErrReadTimeout):
		return causeReadTimeout
	case errors.Is(err, ErrWriteTimeout):
		return causeWriteTimeout
	case errors.Is(err, ErrHandlerPanic):
		return causePanic
	case errors.Is(err, ErrSlowConsumer):
		return causeSlowConsumer
	case errors.Is(err, codec.ErrFrameTooLong), errors.Is(err, codec.ErrCorruptFrame):
		return causeCodec
	}
	return causeIOError
}

// Stats is a snapshot of a server's counters. Counters only grow; the
// gauges (Open, OutboundPending, TasksQueued) are current values. The
// fields of one loop are read one by one, so a snapshot taken under load
// is consistent per field, not across fields.
type Stats struct {
	Loops []LoopStats // one per sub-reactor, in loop order
	Total LoopStats   // the sum over Loops

	AcceptErrors uint64 // failed accepts (EMFILE, ENFILE, ENOBUFS, ...) that paused accepting
	Refused      uint64 // connections closed at accept by WithMaxConns
}

// LoopStats are one event loop's counters (or their sum).
type LoopStats struct {
	Open            int64       // connections open now (including ones on their way to the loop)
	Accepted        uint64      // connections handed to the loop
	Closed          CloseCounts // connections closed, by cause
	BytesIn         uint64      // bytes read from sockets
	BytesOut        uint64      // bytes handed to the kernel
	Reads           uint64      // reads that returned data
	Writes          uint64      // writes and writevs that sent data
	OutboundPending int64       // bytes queued for output now
	TasksQueued     int         // tasks waiting in the loop's queue now (AsyncWrite, Close, ...)
}

// CloseCounts counts closed connections by what closed them. Timeouts
// and panics are here too.
type CloseCounts struct {
	Clean        uint64 // nil error: the peer or the handler closed it
	IOError      uint64 // the socket failed (reset, broken pipe, ...)
	Codec        uint64 // the codec rejected the input
	IdleTimeout  uint64
	ReadTimeout  uint64
	WriteTimeout uint64
	Panic        uint64 // handler code panicked
	SlowConsumer uint64
	Shutdown     uint64 // closed by Shutdown
}

// Total is the number of connections closed for any cause.
func (c CloseCounts) Total() uint64 {
	return c.Clean + c.IOError + c.Codec + c.IdleTimeout + c.ReadTimeout + c.WriteTimeout +
		c.Panic + c.SlowConsumer + c.Shutdown
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
}

func (l *eventLoop) stats() LoopStats {
	k := &l.ctr
	return LoopStats{
		Open:     l.conns.Load(),
		Accepted: k.accepted.Load(),
		Closed: CloseCounts{
			Clean: k.closed[causeClean].Load(), IOError: k.closed[causeIOError].Load(),
			Codec: k.closed[causeCodec].Load(), IdleTimeout: k.closed[causeIdleTimeout].Load(),
			ReadTimeout: k.closed[causeReadTimeout].Load(), WriteTimeout: k.closed[causeWriteTimeout].Load(),
			Panic: k.closed[causePanic].Load(), SlowConsumer: k.closed[causeSlowConsumer].Load(),
			Shutdown: k.closed[causeShutdown].Load(),
		},
		BytesIn:         k.bytesIn.Load(),
		BytesOut:        k.bytesOut.Load(),
		Reads:           k.reads.Load(),
		Writes:          k.writes.Load(),
		OutboundPending: k.outPending.Load(),
		TasksQueued:     l.loop.Queued(),
	}
}

// Stats returns a snapshot of the server's counters. Any goroutine; it
// takes no lock that a loop takes.
func (s *Server) Stats() Stats { return s.eng.stats() }

func (e *engine) stats() Stats {
	st := Stats{Loops: make([]LoopStats, len(e.loops)),
		AcceptErrors: e.acceptErrors.Load(), Refused: e.refused.Load()}
	for i, l := range e.loops {
		ls := l.stats()
		st.Loops[i] = ls
		t := &st.Total
		t.Open += ls.Open
		t.Accepted += ls.Accepted
		t.Closed.add(ls.Closed)
		t.BytesIn += ls.BytesIn
		t.BytesOut += ls.BytesOut
		t.Reads += ls.Reads
		t.Writes += ls.Writes
		t.OutboundPending += ls.OutboundPending
		t.TasksQueued += ls.TasksQueued
	}
	return st
}

// sentBytes counts n bytes handed to the kernel by one write call.
func (c *conn) sentBytes(n int) {
	k := &c.loop.ctr
	k.bytesOut.Add(uint64(n))
	k.writes.Add(1)
}
