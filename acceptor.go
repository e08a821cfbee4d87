//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"crypto/tls"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/internal/socket"
	"github.com/mill-io/mill/netpoll"
	"github.com/mill-io/mill/reactor"
)

const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// acceptor accepts on one listening socket. On the main reactor it hands
// each connection to a loop through the balancer; on a sub-reactor (a
// per-loop SO_REUSEPORT socket, home set) it serves each connection on
// that loop. All of its state belongs to the goroutine of the loop that
// runs it.
type acceptor struct {
	e        *engine
	ep       *socket.Endpoint
	loop     *reactor.Loop
	ln       **socket.Listener // the endpoint's slot: nil once closed
	home     *eventLoop        // nil on the main reactor
	tls      *tls.Config       // nil: plaintext
	proxy    *proxyPolicy      // nil: no PROXY protocol header
	paused   bool
	backoff  time.Duration
	logLimit rateLimit
	resume   *reactor.Timer
}

func (a *acceptor) start() {
	if ln := *a.ln; ln != nil {
		if err := a.loop.Register(ln.Fd, a, netpoll.Readable); err != nil {
			a.e.fail(err)
		}
	}
}

// sweepAndStop accepts everything queued on the socket, to serve it,
// then stops (HandOff): nothing in this socket's queue is reset when
// its last holder closes it.
func (a *acceptor) sweepAndStop() {
	if ln := *a.ln; ln != nil {
		// What was queued, not an endless stream of newcomers (the
		// largest backlog Linux allows by default), and nothing past
		// WithMaxConns: a successor holding the socket may serve those.
		for i := 0; i < sweepLimit; i++ {
			if m := a.e.s.opts.maxConns; m > 0 && a.e.countConnections() >= m {
				break
			}
			nfd, sa, err := socket.Accept(ln.Fd)
			if err == unix.EINTR || err == unix.ECONNABORTED {
				continue
			}
			if err != nil {
				break // the queue is empty (EAGAIN), or we cannot take more
			}
			a.e.admit(nfd, sa, a)
		}
	}
	a.stop()
}

// stop closes the listening socket; it accepts nothing more.
func (a *acceptor) stop() {
	ln := *a.ln
	if ln == nil {
		return
	}
	a.loop.StopTimer(a.resume)
	a.loop.Unregister(ln.Fd)
	a.e.lnMu.Lock()
	*a.ln = nil
	ln.Close()
	a.e.lnMu.Unlock()
}

// sweepLimit bounds what a HandOff accepts from one socket's queue.
const sweepLimit = 4096

// maxAcceptsPerEvent bounds what a per-loop listener accepts in one
// readiness event, so that a burst of new connections cannot starve the
// ones its loop serves; the main reactor serves none and accepts until
// the backlog is empty.
const maxAcceptsPerEvent = 64

// HandleEvent accepts until the backlog is empty (on a loop that serves
// connections too, at most maxAcceptsPerEvent).
func (a *acceptor) HandleEvent(fd int, _ netpoll.Flags) {
	for i := 0; *a.ln != nil && (a.home == nil || i < maxAcceptsPerEvent); i++ {
		nfd, sa, err := socket.Accept(fd)
		switch err {
		case nil:
			a.backoff = 0
			a.e.admit(nfd, sa, a)
			continue
		case unix.EAGAIN:
			return
		case unix.EINTR, unix.ECONNABORTED:
			continue
		}
		// Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) or
		// something worse: the pending connection stays in the backlog and
		// the socket stays readable, so stop polling it for a while rather
		// than spin, and keep serving the connections we have.
		a.pause(fd, err)
		return
	}
}

func (a *acceptor) pause(fd int, err error) {
	a.e.acceptErrors.Add(1)
	if a.backoff == 0 {
		a.backoff = minAcceptBackoff
	} else if a.backoff *= 2; a.backoff > maxAcceptBackoff {
		a.backoff = maxAcceptBackoff
	}
	if ok, held := a.logLimit.allow(); ok {
		a.e.log.Warn("accept failed; pausing", zap.Error(err), zap.Duration("backoff", a.backoff),
			zap.Uint64("alsoSinceLastLog", held))
	}
	if err := a.loop.SetInterest(fd, 0); err != nil {
		a.e.fail(err)
		return
	}
	a.paused = true
	a.resume = a.loop.AfterFunc(a.backoff, func() {
		a.resume = nil
		if *a.ln == nil || !a.paused {
			return
		}
		a.paused = false
		if err := a.loop.SetInterest(fd, netpoll.Readable); err != nil {
			a.e.fail(err)
		}
	})
}
