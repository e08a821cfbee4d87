//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// handshakes runs a server's (or a Client's) TLS handshakes on
// goroutines, never on a loop, within WithTLSHandshakeLimits: at most
// max goroutines at once, each taking the next waiting handshake when
// its own ends; at most max more waiting; and at most cap(cpu) of the
// running ones computing at once (a handshake holds a CPU token from
// when its peer's bytes arrive until it waits for more: tlsWire.Read).
// Every goroutine it starts ends once its handshake and the queue are
// done; wait waits for them.
type handshakes struct {
	cpu     chan struct{}
	max     int
	timeout time.Duration
	log     *zap.Logger

	mu      sync.Mutex
	running int
	queue   []*tlsSession
	wg      sync.WaitGroup

	done, resumed       atomic.Uint64
	inProgress, waiting atomic.Int64
	failed              [numTLSFailures]atomic.Uint64
	logLimit            rateLimit
}

func newHandshakes(o *options, log *zap.Logger) *handshakes {
	return &handshakes{cpu: make(chan struct{}, o.tlsCPU), max: o.tlsMax, timeout: o.tlsTimeout, log: log}
}

// start runs s's handshake on a goroutine, or queues it for the next
// free one; it fails with ErrTLSOverload when the queue is full too.
// Loop goroutine.
func (h *handshakes) start(s *tlsSession) error {
	h.mu.Lock()
	if h.running < h.max {
		h.running++
		h.wg.Add(1)
		h.mu.Unlock()
		go h.run(s)
		return nil
	}
	if len(h.queue) >= h.max {
		h.mu.Unlock()
		return ErrTLSOverload
	}
	h.queue = append(h.queue, s)
	h.waiting.Add(1)
	h.mu.Unlock()
	return nil
}

// run runs handshakes until none waits.
func (h *handshakes) run(s *tlsSession) {
	defer h.wg.Done()
	for s != nil {
		s.handshake()
		s = h.next()
	}
}

// next takes the oldest waiting handshake, or, if none waits, ends the
// calling goroutine's turn.
func (h *handshakes) next() *tlsSession {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.queue) > 0 {
		s := h.queue[0]
		h.queue[0] = nil
		h.queue = h.queue[1:]
		h.waiting.Add(-1)
		return s
	}
	h.running--
	return nil
}

// cancel takes s out of the queue, if it waits there. Loop goroutine.
func (h *handshakes) cancel(s *tlsSession) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, q := range h.queue {
		if q == s {
			h.queue = append(h.queue[:i], h.queue[i+1:]...)
			h.waiting.Add(-1)
			return
		}
	}
}

// wait waits for every handshake goroutine to end: they end soon after
// their connections close, which the loops do on their way out, unless
// a tls.Config callback blocks and ignores its ClientHelloInfo's
// Context, which ends then too. Past ctx, wait logs how many are stuck
// there and returns.
func (h *handshakes) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done:
			return // done as well: nothing stuck
		default:
		}
		h.mu.Lock()
		n := h.running
		h.mu.Unlock()
		h.log.Error("TLS handshakes still running at shutdown: a tls.Config callback blocks and ignores its context",
			zap.Int("goroutines", n))
	}
}

// tlsFailure classifies failed handshakes, for TLSStats.
type tlsFailure int

const (
	tlsFailNotTLS tlsFailure = iota
	tlsFailTimeout
	tlsFailOverload
	tlsFailPeerGone
	tlsFailError
	tlsFailShutdown
	numTLSFailures
)

func failureOf(err error) tlsFailure {
	var errno syscall.Errno
	switch {
	case errors.Is(err, ErrNotTLS):
		return tlsFailNotTLS
	case errors.Is(err, ErrTLSHandshakeTimeout):
		return tlsFailTimeout
	case errors.Is(err, ErrTLSOverload):
		return tlsFailOverload
	case errors.Is(err, ErrServerClosed):
		return tlsFailShutdown
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.As(err, &errno):
		return tlsFailPeerGone
	}
	return tlsFailError
}

// record counts and logs (at most once a second) a failed handshake: at
// Warn for a connection we accepted, at Debug for one we dialled
// (client), whose dialler hears of the failure anyway (DialTLS's error,
// or OnClose). Any goroutine.
func (h *handshakes) record(c *conn, err error, client bool) {
	k := failureOf(err)
	h.failed[k].Add(1)
	if k == tlsFailShutdown {
		return
	}
	lvl := zap.WarnLevel
	if client {
		lvl = zap.DebugLevel
	}
	if !h.log.Core().Enabled(lvl) {
		return
	}
	if ok, dropped := h.logLimit.allow(); ok {
		h.log.Log(lvl, "TLS handshake failed", zap.Stringer("remote", c.RemoteAddr()), zap.Error(err),
			zap.Uint64("alsoSinceLastLog", dropped))
	}
}

func (h *handshakes) stats() TLSStats {
	f := &h.failed
	return TLSStats{
		Handshakes: h.done.Load(), Resumed: h.resumed.Load(),
		InProgress: h.inProgress.Load(), Waiting: h.waiting.Load(),
		Failed: TLSFailures{
			NotTLS: f[tlsFailNotTLS].Load(), Timeout: f[tlsFailTimeout].Load(),
			Overload: f[tlsFailOverload].Load(), PeerGone: f[tlsFailPeerGone].Load(),
			Error: f[tlsFailError].Load(), Shutdown: f[tlsFailShutdown].Load(),
		},
	}
}
