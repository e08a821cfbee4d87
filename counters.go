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
	truncated                                  atomic.Uint64 // datagrams dropped as too long
	refused                                    atomic.Uint64 // writes refused by the outbound limits (FailWrite)
	flowPauses                                 atomic.Uint64 // times flow control stopped reading a conn
	lingerDropped                              atomic.Uint64 // input read and dropped by lingering closes
	outDropped                                 atomic.Uint64 // queued output a close discarded
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
	causeInboundLimit
	causeTLS
	causeProxy
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
	case errors.Is(err, ErrProxyProtocol):
		return causeProxy
	case errors.Is(err, ErrTLSHandshake), errors.Is(err, ErrTLS):
		return causeTLS // before the rest: a handshake error may wrap a panic in a tls.Config callback
	case errors.Is(err, ErrHandlerPanic):
		return causePanic
	case errors.Is(err, ErrSlowConsumer):
		return causeSlowConsumer
	case errors.Is(err, ErrInboundLimit):
		return causeInboundLimit
	case errors.Is(err, codec.ErrFrameTooLong), errors.Is(err, codec.ErrCorruptFrame):
		return causeCodec
	}
	return causeIOError
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
			Shutdown: k.closed[causeShutdown].Load(), InboundLimit: k.closed[causeInboundLimit].Load(),
			TLS: k.closed[causeTLS].Load(), Proxy: k.closed[causeProxy].Load(),
		},
		BytesIn:         k.bytesIn.Load(),
		BytesOut:        k.bytesOut.Load(),
		Reads:           k.reads.Load(),
		Writes:          k.writes.Load(),
		OutboundPending: k.outPending.Load(),
		TasksQueued:     l.loop.Queued(),
		Truncated:       k.truncated.Load(),
		WritesRefused:   k.refused.Load(),
		FlowPauses:      k.flowPauses.Load(),
		LingerDropped:   k.lingerDropped.Load(),
		OutputDropped:   k.outDropped.Load(),
		Busy:            l.loop.Busy(),
		Lag:             l.lag.snapshot(),
	}
}

func (e *engine) stats() Stats {
	st := Stats{Loops: make([]LoopStats, len(e.loops)),
		AcceptErrors: e.acceptErrors.Load(), Refused: e.refused.Load(), TLS: e.hs.stats(), Proxy: e.proxy.stats()}
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
		t.Truncated += ls.Truncated
		t.WritesRefused += ls.WritesRefused
		t.FlowPauses += ls.FlowPauses
		t.LingerDropped += ls.LingerDropped
		t.OutputDropped += ls.OutputDropped
		t.Busy += ls.Busy
		if ls.Lag.Count > 0 {
			t.Lag.add(ls.Lag)
		}
	}
	return st
}

// sentBytes counts n bytes handed to the kernel by one write call.
func (c *conn) sentBytes(n int) {
	k := &c.loop.ctr
	k.bytesOut.Add(uint64(n))
	k.writes.Add(1)
}
