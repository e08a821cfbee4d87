//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill/internal/socket"
	"github.com/mill-io/mill/reactor"
)

// eventLoop is one sub-reactor: a reactor.Loop plus what mill keeps per
// loop. Everything but conns belongs to the loop goroutine.
type eventLoop struct {
	e       *engine
	h       Handler
	set     *connSettings // the server's, shared by every loop; read-only
	log     *zap.Logger
	loop    *reactor.Loop
	readBuf []byte     // every read on this loop lands here first
	vec     socket.Vec // writev scratch
	iov     [2][]byte  // a ring's two halves, for writev
	encBuf  []byte     // WriteFrame's encode scratch
	// tlsScratch gathers a TLS Writev's buffers into one record.
	tlsScratch []byte
	epoch      time.Time     // origin of mono()
	closing    bool          // closeAll ran: refuse new connections
	accs       []*acceptor   // per-loop listening sockets (WithReusePort)
	packets    []*packetConn // UDP sockets this loop serves
	// batchWrites: WithWriteBatching; batched lists the conns whose
	// output waits for the end of the iteration (flushBatched).
	batchWrites bool
	batched     []*conn
	// draining: a graceful shutdown is closing connections as they go
	// quiet; drainDone hears when none is left.
	draining  bool
	drainDone chan<- struct{}
	// freshGrace: a HandOff's drain waits for the first input of
	// connections that have sent none, until its grace ends.
	freshGrace bool
	// shutdown asks the server to shut down (Action Shutdown); set when
	// the loop is made.
	shutdown func()

	_     [64]byte     // keep the counters below off the cache lines above
	conns atomic.Int64 // open connections, including ones in transit to the loop
	ctr   loopCounters
	lag   lagCounters // WithLoopMetrics
}

// Conns reports the loop's connections, for balancers. Any goroutine.
func (l *eventLoop) Conns() int { return int(l.conns.Load()) }

// closeAll stops listening, closes every connection with ErrServerClosed
// and refuses new ones. Loop goroutine (or the goroutine that ran the
// loop, after Run).
func (l *eventLoop) closeAll() {
	l.closing = true
	l.stopListening()
	l.loop.Each(func(_ int, h reactor.Handler) bool {
		if m, ok := h.(member); ok {
			m.closeForShutdown()
		}
		return true
	})
}

// member is what a loop serves besides its listening sockets: a
// connection (*conn), a connection attempt (*dialing) or a UDP socket
// (*packetConn). The loop's shutdown asks the same of each.
type member interface {
	reactor.Handler
	// drainStarted tells it a graceful drain has begun: it closes once
	// quiet (an attempt fails at once). Loop goroutine.
	drainStarted()
	// closeForShutdown closes it at once with ErrServerClosed. Loop
	// goroutine.
	closeForShutdown()
}

func (c *conn) drainStarted()            { c.checkDone() }
func (c *conn) closeForShutdown()        { c.closeNow(ErrServerClosed) }
func (d *dialing) drainStarted()         { d.fail(ErrServerClosed) }
func (d *dialing) closeForShutdown()     { d.fail(ErrServerClosed) }
func (pc *packetConn) drainStarted()     { pc.checkDone() }
func (pc *packetConn) closeForShutdown() { pc.closeNow(ErrServerClosed) }

// startListening registers the loop's own listening and UDP sockets.
// Loop goroutine.
func (l *eventLoop) startListening() {
	for _, a := range l.accs {
		a.start()
	}
	for _, p := range l.packets {
		p.start()
	}
}

// sweepListening accepts what is queued on the loop's own listening
// sockets, then closes them, and its UDP sockets (HandOff). Loop
// goroutine.
func (l *eventLoop) sweepListening() {
	for _, a := range l.accs {
		a.sweepAndStop()
	}
	l.stopListening()
}

// stopListening closes the loop's own listening and UDP sockets. Loop
// goroutine.
func (l *eventLoop) stopListening() {
	for _, a := range l.accs {
		a.stop()
	}
	for _, p := range l.packets {
		p.stop()
	}
}
