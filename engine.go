//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill/balancer"
	"github.com/mill-io/mill/bufferpool"
	"github.com/mill-io/mill/internal/socket"
	"github.com/mill-io/mill/reactor"
	"github.com/mill-io/mill/workerpool"
)

// engine is the running machinery behind a Server (or a Client): the
// sockets it listens on, the main reactor that accepts on shared
// listening sockets, and the sub-reactor loops.
type engine struct {
	s     *Server
	h     Handler
	log   *zap.Logger
	set   *connSettings // the connections' settings, handed to every loop
	eps   []*socket.Endpoint
	names []string // each endpoint's address as written, or its inherited name
	// lnMu guards the endpoints' listener slots against ListenerFiles
	// while they close (acceptor.stop, closeEndpoints).
	lnMu  sync.Mutex
	local net.Addr // every connection's local address, nil if it varies

	pool  bufferpool.Pool
	main  *reactor.Loop // nil when no listening socket is shared
	accs  []*acceptor   // the main reactor's
	loops []*eventLoop
	bal   balancer.Balancer
	view  []balancer.Loop

	errMu sync.Mutex
	err   error

	refused      atomic.Uint64 // connections closed at accept by WithMaxConns
	acceptErrors atomic.Uint64 // accepts that failed and paused accepting
	// draining: a graceful drain has begun; new asynchronous writes and
	// worker-pool tasks are refused.
	draining    atomic.Bool
	overflowLog rateLimit // writes past the outbound limits

	hs       *handshakes          // TLS handshakes (tls_handshake.go)
	tlsFor   map[int]*tls.Config  // TLS addresses: index in eps -> configuration
	proxyFor map[int]*proxyPolicy // PROXY protocol addresses: index in eps -> policy
	proxy    proxyCounters

	poolMu       sync.Mutex
	workerPool   *workerpool.Pool // nil until WithWorkerPool or the first Conn.Submit
	poolReleased bool
}

func newEngine(s *Server, addrs []string) (_ *engine, err error) {
	o := &s.opts
	n := o.loops
	if n == 0 {
		n = runtime.NumCPU()
	}
	all, err := allAddrs(addrs, o.inherited)
	if err != nil {
		return nil, err
	}
	byAddr, err := o.validateTLS(all)
	if err != nil {
		return nil, err
	}
	proxyByAddr, err := o.validateProxy(all)
	if err != nil {
		return nil, err
	}
	tlsFor, proxyFor := make(map[int]*tls.Config), make(map[int]*proxyPolicy)
	for i, a := range all {
		if cfg := byAddr[a]; cfg != nil {
			tlsFor[i] = cfg
		}
		if pol := proxyByAddr[a]; pol != nil {
			proxyFor[i] = pol
		}
	}
	// e is not the named result: a failed return sets that to nil, and
	// the deferred clean-up needs what was opened.
	e := &engine{s: s, h: s.h, log: o.logger, bal: o.balancer, set: o.connSettings(),
		hs: newHandshakes(o, o.logger), tlsFor: tlsFor, proxyFor: proxyFor}
	if e.bal == nil {
		e.bal = balancer.NewRoundRobin()
	}
	if e.eps, err = openEndpoints(addrs, o, n); err != nil {
		return nil, err
	}
	for _, ep := range e.eps {
		// Sockets opened here (not inherited ones, which a restart
		// hands on rather than leaving a group).
		if ep.TCP && len(ep.PerLoop) > 1 {
			warnMigrateReq(e.log)
			break
		}
	}
	adopted, err := adoptEndpoints(o.inherited)
	if err != nil {
		e.closeEndpoints()
		return nil, err
	}
	e.eps = append(e.eps, adopted...)
	e.names = all
	if len(e.eps) == 1 {
		switch a := e.eps[0].Addr.(type) {
		case *net.TCPAddr:
			if !a.IP.IsUnspecified() {
				e.local = a
			}
		case *net.UnixAddr:
			e.local = a
		}
	}
	defer func() {
		if err != nil {
			e.closeUnstarted()
		}
	}()
	for i, ep := range e.eps {
		// The main reactor accepts on shared sockets, and on per-loop
		// ones beyond the loops (inherited from a server with more).
		slots := []**socket.Listener{&ep.Shared}
		if ep.Shared == nil {
			slots = nil
			for j := n; j < len(ep.PerLoop) && (ep.TCP || ep.Network == "unix"); j++ {
				slots = append(slots, &ep.PerLoop[j])
			}
		}
		for _, slot := range slots {
			if e.main == nil {
				if e.main, err = reactor.New(reactor.Config{LockOSThread: o.lockOSThread, CPU: reactor.NoCPU}); err != nil {
					return nil, err
				}
			}
			e.accs = append(e.accs, &acceptor{e: e, ep: ep, loop: e.main, ln: slot, tls: e.tlsFor[i], proxy: e.proxyFor[i]})
		}
	}
	if o.workers != nil {
		if e.workerPool, err = workerpool.New(e.workerConfig(*o.workers)); err != nil {
			return nil, err
		}
	}
	set := e.set
	for i := 0; i < n; i++ {
		cfg := reactor.Config{LockOSThread: o.lockOSThread, CPU: reactor.NoCPU, BusyPoll: o.busyPoll, Metrics: o.loopMetrics > 0}
		if len(o.cpus) > 0 {
			cfg.Pin, cfg.CPU = true, o.cpus[i%len(o.cpus)]
		}
		l := &eventLoop{e: e, h: s.h, set: set, log: e.log, readBuf: make([]byte, o.readBufferCap),
			epoch: time.Now(), batchWrites: o.batchWrites, shutdown: s.requestShutdown}
		if o.batchWrites {
			cfg.BeforeWait = l.flushBatched
		}
		rl, err := reactor.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("mill: WithLoops(%d): making loop %d: %w (each loop takes two descriptors and a thread)", n, i, err)
		}
		l.loop = rl
		e.loops = append(e.loops, l)
		e.view = append(e.view, l)
		for j, ep := range e.eps {
			if i >= len(ep.PerLoop) {
				continue
			}
			if ep.TCP || ep.Network == "unix" {
				l.accs = append(l.accs, &acceptor{e: e, ep: ep, loop: rl, ln: &ep.PerLoop[i], home: l, tls: e.tlsFor[j], proxy: e.proxyFor[j]})
			} else {
				l.packets = append(l.packets, newPacketConn(l, &ep.PerLoop[i]))
			}
		}
	}
	return e, nil
}

// addr is the first address the server listens on, or nil.
func (e *engine) addr() net.Addr {
	if len(e.eps) == 0 {
		return nil
	}
	return e.eps[0].Addr
}

// checkCPU reports whether a loop can be pinned to cpu.
func checkCPU(cpu int) error { return reactor.CheckCPU(cpu) }

// outPending is the output queued on every loop now. Any goroutine.
func (e *engine) outPending() int64 {
	var n int64
	for _, l := range e.loops {
		n += l.ctr.outPending.Load()
	}
	return n
}

// onLoop reports whether the caller runs on one of the engine's loops
// (the main one included), where a call that waits for a loop would
// wait for itself. Any goroutine; about a microsecond per loop.
func (e *engine) onLoop() bool {
	if e.main != nil && e.main.OnLoop() {
		return true
	}
	for _, l := range e.loops {
		if l.loop != nil && l.loop.OnLoop() {
			return true
		}
	}
	return false
}

func (e *engine) countConnections() int {
	n := 0
	for _, l := range e.loops {
		n += l.Conns()
	}
	return n
}

// run serves until a shutdown is requested, then tears everything down.
// It runs on the goroutine that called Serve.
func (e *engine) run() error {
	var wg sync.WaitGroup
	for i, l := range e.loops {
		wg.Add(1)
		go func(l *eventLoop) {
			defer wg.Done()
			// A profile says which loop did what: mill.loop=<index>.
			pprof.Do(context.Background(), pprof.Labels("mill.loop", strconv.Itoa(i)), func(context.Context) {
				if err := l.loop.Run(); err != nil {
					e.fail(err)
				}
				l.closeAll() // nothing left unless Run failed
			})
		}(l)
	}
	// Ready once every loop (and the main reactor) has run its start
	// tasks: each marks itself after them.
	var starting atomic.Int32
	starting.Store(int32(len(e.loops)))
	if e.main != nil {
		starting.Add(1)
	}
	started := func() {
		if starting.Add(-1) == 0 {
			e.s.markReady()
		}
	}
	for _, l := range e.loops {
		l.loop.Post(l.startListening)
		l.loop.Post(started)
	}
	mainDone := make(chan struct{})
	if e.main != nil {
		go func() {
			defer close(mainDone)
			pprof.Do(context.Background(), pprof.Labels("mill.loop", "main"), func(context.Context) {
				if err := e.main.Run(); err != nil {
					e.fail(err)
				}
			})
		}()
		for _, a := range e.accs {
			e.main.Post(a.start)
		}
		e.main.Post(started)
	} else {
		close(mainDone)
	}
	lagDone := make(chan struct{})
	if d := e.s.opts.loopMetrics; d > 0 {
		go func() { defer close(lagDone); e.sampleLag(d, e.s.stopReq) }()
	} else {
		close(lagDone)
	}
	if e.s.opts.ticker {
		// The ticker runs on the first sub-reactor, not the main one: a
		// main-reactor wake-up would make a busy sub-reactor wait for the
		// CPU when the process has a single P (see docs/benchmarks.md).
		e.loops[0].loop.Post(e.tick)
	}

	<-e.s.stopReq
	<-lagDone
	// 1. Stop accepting, and wait for the main loop so that every
	// connection it accepted has been handed to a loop. The loops stop
	// their own listening sockets before any drain task runs.
	handOff := e.s.handOff.Load()
	for _, l := range e.loops {
		if handOff {
			l.loop.Post(l.sweepListening)
		} else {
			l.loop.Post(l.stopListening)
		}
	}
	if e.main != nil {
		for _, a := range e.accs {
			stop := a.stop
			if handOff {
				stop = a.sweepAndStop
			}
			if e.main.Post(stop) != nil {
				a.stop() // the main loop died; nothing else touches the listener
			}
		}
		e.main.Stop()
	}
	<-mainDone
	// 2. Let the handler say goodbye.
	e.onShutdown()
	// 3. Drain: close connections as they go quiet, until Shutdown's
	// context ends. (A shutdown asked for by a handler has no context and
	// skips this.)
	if ctx, ok := e.s.drainContext(); ok {
		e.drain(ctx)
	}
	// 4. Close every connection left on its own loop, then stop the loops.
	for _, l := range e.loops {
		l.loop.Post(l.closeAll)
		l.loop.Stop()
	}
	wg.Wait()
	e.hs.wait(e.s.shutdownContext()) // their conns are closed: the handshakes end
	e.closeEndpoints()               // what a loop that died left open
	// 5. Let tasks already handed to the worker pool finish.
	e.releaseWorkers(e.s.shutdownContext())
	e.errMu.Lock()
	defer e.errMu.Unlock()
	return e.err
}

// fail records the first error that broke a loop and shuts the server
// down. Any goroutine.
func (e *engine) fail(err error) {
	e.log.Error("event loop failed", zap.Error(err))
	e.errMu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.errMu.Unlock()
	e.s.requestShutdown()
}

// closeUnstarted releases a server that never served.
func (e *engine) closeUnstarted() {
	e.releaseWorkers(context.Background())
	e.closeEndpoints()
	if e.main != nil {
		e.main.Close()
	}
	for _, l := range e.loops {
		l.closing = true // the queued tasks run now, on this goroutine: refuse their conns
		l.loop.Close()
	}
}

// tick runs OnTick on the first sub-reactor and schedules the next one. A panic
// in OnTick is logged and stops the ticker; the server carries on.
func (e *engine) tick() {
	var d time.Duration
	a, pe := guard(e.log, "OnTick", func() Action {
		var a Action
		d, a = e.h.OnTick()
		return a
	})
	if pe != nil {
		d = 0
	}
	if a == Shutdown {
		e.s.requestShutdown()
		return
	}
	select {
	case <-e.s.stopReq: // shutting down: tick no more
	default:
		if d > 0 {
			e.loops[0].loop.AfterFunc(d, e.tick)
		}
	}
}

// onShutdown runs OnShutdown; a panic in it is logged and the shutdown
// goes on.
func (e *engine) onShutdown() {
	guard(e.log, "OnShutdown", func() Action { e.h.OnShutdown(e.s); return None })
}

// boot runs OnBoot on Serve's goroutine. A panic in it is logged and
// shuts the server down (so that what NewServer opened is released) and
// is what Serve returns.
func (e *engine) boot() error {
	a, pe := guard(e.log, "OnBoot", func() Action { return e.h.OnBoot(e.s) })
	if pe != nil || a == Shutdown {
		e.s.requestShutdown()
	}
	if pe != nil {
		return pe
	}
	return nil
}
