//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
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

// acceptor is the main reactor's handler for the listening socket. All of
// its state belongs to the main loop goroutine.
type acceptor struct {
	e       *engine
	closed  bool
	paused  bool
	backoff time.Duration
	lastLog time.Time
	resume  *reactor.Timer
}

func (a *acceptor) start() {
	if a.closed {
		return
	}
	if err := a.e.main.Register(a.e.ln.Fd, a, netpoll.Readable); err != nil {
		a.e.fail(err)
	}
}

// stop closes the listener; the server accepts nothing more.
func (a *acceptor) stop() {
	if a.closed {
		return
	}
	a.closed = true
	a.e.main.StopTimer(a.resume)
	a.e.main.Unregister(a.e.ln.Fd)
	a.e.ln.Close()
}

// HandleEvent accepts until the backlog is empty.
func (a *acceptor) HandleEvent(fd int, _ netpoll.Flags) {
	for !a.closed {
		nfd, sa, err := socket.Accept(fd)
		switch err {
		case nil:
			a.backoff = 0
			a.e.dispatch(nfd, sa)
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
		a.pause(err)
		return
	}
}

func (a *acceptor) pause(err error) {
	a.e.acceptErrors.Add(1)
	if a.backoff == 0 {
		a.backoff = minAcceptBackoff
	} else if a.backoff *= 2; a.backoff > maxAcceptBackoff {
		a.backoff = maxAcceptBackoff
	}
	if now := time.Now(); now.Sub(a.lastLog) >= time.Second {
		a.lastLog = now
		a.e.log.Warn("accept failed; pausing", zap.Error(err), zap.Duration("backoff", a.backoff))
	}
	if err := a.e.main.SetInterest(a.e.ln.Fd, 0); err != nil {
		a.e.fail(err)
		return
	}
	a.paused = true
	a.resume = a.e.main.AfterFunc(a.backoff, func() {
		a.resume = nil
		if a.closed || !a.paused {
			return
		}
		a.paused = false
		if err := a.e.main.SetInterest(a.e.ln.Fd, netpoll.Readable); err != nil {
			a.e.fail(err)
		}
	})
}
