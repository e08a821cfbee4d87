package mill

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/mill-io/mill/balancer"
	"github.com/mill-io/mill/codec"
	"github.com/mill-io/mill/workerpool"
)

// Defaults used when the corresponding option is not given.
const (
	// DefaultReadBufferCap is the size of each loop's read buffer: the
	// most one read takes from a socket.
	DefaultReadBufferCap = 64 << 10
	// DefaultLowWatermark and DefaultHighWatermark bound a connection's
	// queued output for Conn.Writable and flow control (see
	// WithWriteWatermarks).
	DefaultLowWatermark  = 256 << 10
	DefaultHighWatermark = 1 << 20
	// DefaultOutboundLimit is the most output a connection may queue.
	DefaultOutboundLimit = 16 << 20
	// DefaultLingerTimeout bounds a lingering close (Conn.CloseLingering,
	// and the close after a decode error) from when it begins: queued
	// output going out, our FIN, then input read and dropped until the
	// peer's FIN (see WithLingerTimeout).
	DefaultLingerTimeout = 2 * time.Second
	// DefaultInboundLimit is the most unread input a connection without
	// a codec may buffer before mill stops reading it.
	DefaultInboundLimit = 4 << 20
	// DefaultWriteBufferMin is the smallest capacity a connection's
	// output queue takes from the buffer pool when a write cannot be
	// sent at once.
	DefaultWriteBufferMin = 4 << 10
	// DefaultWriteBufferCap is the old name of DefaultWriteBufferMin.
	//
	// Deprecated: it is a minimum, not a cap; use DefaultWriteBufferMin.
	DefaultWriteBufferCap = DefaultWriteBufferMin
	// DefaultDialTimeout bounds a Client's connection attempts.
	DefaultDialTimeout = 30 * time.Second
)

// An Option configures a Server or a Client; NewServer and NewClient
// check them all and fail, naming the option, for one that is invalid.
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	loops          int
	balancer       balancer.Balancer
	lockOSThread   bool
	cpus           []int
	readBufferCap  int
	writeBufferCap int
	tcpNoDelay     bool
	tcpKeepAlive   time.Duration
	recvBuffer     int
	sendBuffer     int
	ticker         bool
	logger         *zap.Logger
	codec          codec.Factory
	workers        *workerpool.Config
	halfOpen       bool
	lowWatermark   int
	highWatermark  int
	outboundLimit  int
	overflow       OverflowPolicy
	flowControl    bool
	totalOutbound  int
	lingerTimeout  time.Duration
	inboundLimit   int
	maxConns       int
	idleTimeout    time.Duration
	readTimeout    time.Duration
	writeTimeout   time.Duration
	addrs          []string
	reusePort      bool
	reuseAddr      bool
	bindToDevice   string
	multicast      []multicastGroup
	dialTimeout    time.Duration
	batchWrites    bool
	busyPoll       time.Duration
	loopMetrics    time.Duration
	// Sockets not opened here (inherit.go).
	inherited  []inheritedFD
	inheritErr error
	// PROXY protocol (proxy.go).
	proxy []proxyAddrs
	// TLS (tls.go).
	tls           []tlsAddrs
	tlsTimeout    time.Duration
	tlsTimeoutSet bool
	tlsMax        int
	tlsCPU        int
}

type multicastGroup struct {
	group netip.Addr
	ifi   *net.Interface
}

func defaultOptions() options {
	return options{
		lockOSThread:   true,
		readBufferCap:  DefaultReadBufferCap,
		writeBufferCap: DefaultWriteBufferMin,
		tcpNoDelay:     true,
		lowWatermark:   DefaultLowWatermark,
		highWatermark:  DefaultHighWatermark,
		outboundLimit:  DefaultOutboundLimit,
		overflow:       CloseSlowConsumer,
		flowControl:    true,
		lingerTimeout:  DefaultLingerTimeout,
		inboundLimit:   DefaultInboundLimit,
		reuseAddr:      true,
		dialTimeout:    DefaultDialTimeout,
		tlsTimeout:     DefaultTLSHandshakeTimeout,
		tlsMax:         DefaultTLSMaxHandshakes,
		tlsCPU:         defaultTLSCPU(),
	}
}

// maxLoops bounds WithLoops: far more loops than any machine has CPUs
// only costs descriptors and threads.
const maxLoops = 4096

// validate checks every option, so that a mistake fails NewServer with
// an error that names the option rather than surfacing later in Serve.
func (o *options) validate() error {
	switch {
	case o.loops < 0 || o.loops > maxLoops:
		return fmt.Errorf("mill: WithLoops(%d): want 0 (one per CPU) to %d", o.loops, maxLoops)
	case o.readBufferCap <= 0:
		return fmt.Errorf("mill: WithReadBufferCap(%d): want > 0", o.readBufferCap)
	case o.writeBufferCap <= 0:
		return fmt.Errorf("mill: WithWriteBufferMin(%d): want > 0", o.writeBufferCap)
	case o.recvBuffer < 0:
		return fmt.Errorf("mill: WithSocketRecvBuffer(%d): want >= 0", o.recvBuffer)
	case o.sendBuffer < 0:
		return fmt.Errorf("mill: WithSocketSendBuffer(%d): want >= 0", o.sendBuffer)
	case o.lowWatermark < 0 || o.highWatermark < o.lowWatermark:
		return fmt.Errorf("mill: WithWriteWatermarks(%d, %d): want 0 <= low <= high", o.lowWatermark, o.highWatermark)
	case o.outboundLimit < o.highWatermark:
		return fmt.Errorf("mill: WithOutboundLimit(%d): below the high watermark %d, so a connection could never turn unwritable before its writes fail",
			o.outboundLimit, o.highWatermark)
	case o.overflow != FailWrite && o.overflow != CloseSlowConsumer:
		return fmt.Errorf("mill: WithOutboundLimit: unknown OverflowPolicy %d", int(o.overflow))
	case o.totalOutbound < 0:
		return fmt.Errorf("mill: WithTotalOutboundLimit(%d): want >= 0", o.totalOutbound)
	case o.totalOutbound > 0 && o.totalOutbound < o.highWatermark:
		return fmt.Errorf("mill: WithTotalOutboundLimit(%d): below the high watermark %d, so one connection could pass it before it is unwritable",
			o.totalOutbound, o.highWatermark)
	case o.inboundLimit <= 0:
		return fmt.Errorf("mill: WithInboundLimit(%d): want > 0", o.inboundLimit)
	case o.maxConns < 0:
		return fmt.Errorf("mill: WithMaxConns(%d): want >= 0", o.maxConns)
	case o.busyPoll < 0:
		return fmt.Errorf("mill: WithBusyPoll(%v): want >= 0", o.busyPoll)
	case o.dialTimeout < 0:
		return fmt.Errorf("mill: WithDialTimeout(%v): want >= 0", o.dialTimeout)
	case o.tcpKeepAlive < 0:
		return fmt.Errorf("mill: WithTCPKeepAlive(%v): want >= 0", o.tcpKeepAlive)
	case o.idleTimeout < 0:
		return fmt.Errorf("mill: WithIdleTimeout(%v): want >= 0", o.idleTimeout)
	case o.readTimeout < 0:
		return fmt.Errorf("mill: WithReadTimeout(%v): want >= 0", o.readTimeout)
	case o.writeTimeout < 0:
		return fmt.Errorf("mill: WithWriteTimeout(%v): want >= 0", o.writeTimeout)
	case o.lingerTimeout < 0:
		return fmt.Errorf("mill: WithLingerTimeout(%v): want >= 0", o.lingerTimeout)
	case o.loopMetrics < 0:
		return fmt.Errorf("mill: WithLoopMetrics(%v): want >= 0", o.loopMetrics)
	case o.tlsTimeout < 0:
		return fmt.Errorf("mill: WithTLSHandshakeTimeout(%v): want >= 0", o.tlsTimeout)
	}
	if o.inheritErr != nil {
		return o.inheritErr
	}
	for _, c := range o.cpus {
		if err := checkCPU(c); err != nil {
			return fmt.Errorf("mill: WithCPUAffinity(%d): %w", c, err)
		}
	}
	if o.workers != nil {
		if err := o.workers.Validate(); err != nil {
			return fmt.Errorf("mill: WithWorkerPool: %w", err)
		}
	}
	return nil
}

// defaultLogger writes warnings and errors to standard error in zap's
// console format, one readable line each (time, level, message, fields);
// for JSON, pass WithLogger a production logger instead.
func defaultLogger() *zap.Logger {
	cfg := zap.NewDevelopmentEncoderConfig()
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.StacktraceKey = "" // panics carry their own stack as a field
	enc := zapcore.NewConsoleEncoder(cfg)
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(os.Stderr), zap.WarnLevel)).Named("mill")
}

// WithLoops sets how many sub-reactor event loops serve connections.
// Zero, the default, means one per CPU the process may use.
func WithLoops(n int) Option {
	return optionFunc(func(o *options) { o.loops = n })
}

// WithLoadBalancer sets how accepted connections (and a Client's
// dialled and adopted ones) are spread over the loops. The default is
// balancer.NewRoundRobin(). It is not consulted for connections accepted
// on WithReusePort's per-loop sockets; an index out of range picks loop
// 0.
func WithLoadBalancer(b balancer.Balancer) Option {
	return optionFunc(func(o *options) { o.balancer = b })
}

// WithLockOSThread sets whether each loop goroutine is locked to its own
// OS thread (default true), which keeps the loop's thread hot. Loops
// pinned by WithCPUAffinity are locked whatever this says.
func WithLockOSThread(on bool) Option {
	return optionFunc(func(o *options) { o.lockOSThread = on })
}

// WithBusyPoll makes each sub-reactor loop keep polling without blocking
// for up to d after it last had work (events or tasks), before it sleeps
// in the poller again. Default 0: a loop sleeps as soon as it has nothing
// to do.
//
// A sleeping loop has to be woken, and the waker pays: a peer on another
// CPU whose write wakes the loop spends a few microseconds of kernel time
// on it. When that peer is the bottleneck (a load generator, a proxy in
// front), the wake-ups are its throughput: on one core each, a loop
// serving redis-benchmark -P 16 slept and was woken ~17,000 times a
// second, and the benchmark ran ~10 % slower against it than against a
// server too busy to sleep (docs/benchmarks.md). A loop under steady
// load with busy polling never sleeps. The price is CPU: up to d of
// spinning after every burst, on a thread that holds a Go P meanwhile,
// so a loop's CPU use no longer says how busy it is. Tens of
// microseconds is the useful range.
func WithBusyPoll(d time.Duration) Option {
	return optionFunc(func(o *options) { o.busyPoll = d })
}

// WithCPUAffinity pins sub-reactor loop i to CPU cpus[i%len(cpus)]
// (Linux only; NewServer fails elsewhere, and for a CPU outside the
// process's affinity mask). The accepting main loop is not pinned.
func WithCPUAffinity(cpus ...int) Option {
	return optionFunc(func(o *options) { o.cpus = append([]int(nil), cpus...) })
}

// WithReadBufferCap sets the size of each loop's read buffer, the most
// one read takes from a socket (default DefaultReadBufferCap). It is
// also the longest UDP datagram delivered: longer ones are dropped and
// reported (ErrDatagramTruncated).
func WithReadBufferCap(n int) Option {
	return optionFunc(func(o *options) { o.readBufferCap = n })
}

// WithWriteBufferMin sets the smallest capacity of a connection's output
// queue, taken from the buffer pool only while output is pending
// (default DefaultWriteBufferMin). The queue grows past it as needed, up
// to the outbound limit (WithOutboundLimit).
func WithWriteBufferMin(n int) Option {
	return optionFunc(func(o *options) { o.writeBufferCap = n })
}

// WithWriteBufferCap is the old name of WithWriteBufferMin.
//
// Deprecated: the size is a minimum, not a cap; use WithWriteBufferMin.
func WithWriteBufferCap(n int) Option { return WithWriteBufferMin(n) }

// WithWriteBatching makes writes to stream connections (TCP, Unix) from
// handler code (OnOpen, OnTraffic, write callbacks, Do and the other
// callbacks) wait in the connection's output queue until its loop has
// handled every event and task it woke up for; then each connection's
// output goes out with one writev, just before the loop polls again.
// Default false: a write is sent at once.
//
// A handler that writes several times per callback then makes one
// system call instead of several, and the replies to all the
// connections that were ready go out together, as redis-server sends
// them. The cost is a copy of every byte into the queue, and a reply
// held back for the rest of the iteration's work.
// Writes outside callbacks (AsyncWrite's and AsyncWriteFrame's own
// write) are not held back; OnOpen's returned bytes are, like its other
// writes. A plaintext write of 8 KiB or more made while nothing waits
// in the queue goes out at once, uncopied (a system call of its own is
// worth it). A connection holds back at most 64 KiB, and Conn.Flush sends
// at once. A write made in a callback then reports a
// socket error only through OnClose, as a queued write always did.
func WithWriteBatching(on bool) Option {
	return optionFunc(func(o *options) { o.batchWrites = on })
}

// WithTCPNoDelay sets TCP_NODELAY on accepted, dialled and enrolled TCP
// connections (default true: small writes are sent at once).
func WithTCPNoDelay(on bool) Option {
	return optionFunc(func(o *options) { o.tcpNoDelay = on })
}

// WithTCPKeepAlive enables TCP keep-alive on accepted, dialled and
// enrolled TCP connections, probing after d of silence and every d
// thereafter (rounded up to whole seconds). Zero, the default, leaves
// the system's setting.
func WithTCPKeepAlive(d time.Duration) Option {
	return optionFunc(func(o *options) { o.tcpKeepAlive = d })
}

// WithSocketRecvBuffer sets SO_RCVBUF on accepted, dialled and enrolled
// connections and on UDP sockets (0, the default, leaves the system's
// size). A UDP server under bursts wants it large.
func WithSocketRecvBuffer(n int) Option {
	return optionFunc(func(o *options) { o.recvBuffer = n })
}

// WithSocketSendBuffer sets SO_SNDBUF on accepted, dialled and enrolled
// connections and on UDP sockets (0, the default, leaves the system's
// size).
func WithSocketSendBuffer(n int) Option {
	return optionFunc(func(o *options) { o.sendBuffer = n })
}

// WithTicker turns Handler.OnTick on.
func WithTicker(on bool) Option {
	return optionFunc(func(o *options) { o.ticker = on })
}

// WithLogger sets the logger for what the server handles itself (accept
// failures, broken loops, recovered panics, slow consumers and refused
// writes, dropped datagrams) and, unless its Config has one, the worker
// pool's. The default logs warnings and errors to standard error, one
// readable line each; pass zap.NewNop() for silence.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithCodec frames every connection's byte stream with a codec made by f
// when the connection opens (see Conn.ReadFrame and Conn.WriteFrame).
// Use codec.Shared for a stateless codec; a connection can switch codecs
// later with Conn.SetCodec.
func WithCodec(f codec.Factory) Option {
	return optionFunc(func(o *options) { o.codec = f })
}

// WithWorkerPool configures the pool that runs blocking work handed over
// with Conn.Submit (see package workerpool for the fields; the zero Config
// gives 256 workers and room for 16,384 waiting tasks, and the server's
// logger is used when Config.Logger is nil). Without this option a pool
// with the defaults is created on the first Submit. Do not set Blocking
// if tasks are submitted from event loops: a full blocking pool would
// stall every connection on the loop. NewServer fails for an invalid
// Config (see workerpool.Config.Validate). The pool is released when the
// server shuts down, after its connections close.
func WithWorkerPool(cfg workerpool.Config) Option {
	return optionFunc(func(o *options) { o.workers = &cfg })
}

// WithHalfOpen keeps a connection open after the peer shuts its sending
// side, so the handler can go on writing (see HalfCloseHandler). By
// default such a connection closes (OnClose sees nil) once nothing is
// pending for it: its queued output has gone out, and no asynchronous
// write, Do function, worker-pool task or writability notice is in
// flight; a connection paused with Conn.PauseReading stays open. Work
// mill has not been told of — a goroutine of your own that will call Do
// or AsyncWrite later — cannot be waited for: start such work with
// Conn.Submit, or hold the connection with PauseReading until it
// answers, or use WithHalfOpen.
func WithHalfOpen(on bool) Option {
	return optionFunc(func(o *options) { o.halfOpen = on })
}

// OverflowPolicy says what happens to a write that would take a
// connection's queued output past its limit.
type OverflowPolicy int

const (
	// FailWrite refuses the write with ErrOutboundFull (an asynchronous
	// write's callback gets it); the connection stays open. A handler
	// that chooses it must check every write's error: a refused write
	// followed by a later one that succeeds leaves a gap in the stream.
	// Refused writes are counted (Stats' WritesRefused) and logged, at
	// most once a second.
	FailWrite OverflowPolicy = iota
	// CloseSlowConsumer, the default, closes the connection with
	// ErrSlowConsumer (counted and logged), so that the stream never
	// goes on with a piece missing; the write returns ErrSlowConsumer,
	// and so does every later write in the same callback.
	CloseSlowConsumer
)

// WithWriteWatermarks sets when a connection turns unwritable (queued
// output above high) and writable again (below low); defaults
// DefaultLowWatermark and DefaultHighWatermark. See Conn.Writable and
// WritabilityHandler.
func WithWriteWatermarks(low, high int) Option {
	return optionFunc(func(o *options) { o.lowWatermark, o.highWatermark = low, high })
}

// WithOutboundLimit caps each connection's queued output at limit bytes
// (default DefaultOutboundLimit) and sets what a write past it does
// (default CloseSlowConsumer). A single write larger than the limit is
// always refused, per the policy. limit must be at least the high
// watermark. With flow control on (the default) a handler that only
// answers what it reads stays near the high watermark and never meets
// the limit; writers that ignore Writable (asynchronous producers, say)
// do.
func WithOutboundLimit(limit int, p OverflowPolicy) Option {
	return optionFunc(func(o *options) { o.outboundLimit, o.overflow = limit, p })
}

// WithTotalOutboundLimit caps the output queued on all the server's
// connections together (0, the default, is no cap), so that many slow
// consumers cannot add up to more memory than you can spare: a write
// that would take the total past n on a connection that already has
// output waiting gets the OverflowPolicy of WithOutboundLimit, as a
// write past the connection's own limit does. A connection whose peer
// keeps up (its queue is empty) can always write. n must be at least the
// high watermark.
func WithTotalOutboundLimit(n int) Option {
	return optionFunc(func(o *options) { o.totalOutbound = n })
}

// WithFlowControl sets whether mill stops reading a connection while its
// queued output is past the high watermark, until it falls below the low
// one (default true; see WithWriteWatermarks). Then TCP pushes back on a
// peer that sends faster than it reads, as it would against a blocking
// server, and a handler whose output answers its input (an echo, a
// request/response or pipelined protocol) is bounded in memory and loses
// nothing. Turn it off for handlers that pace themselves with
// Conn.Writable, a WritabilityHandler or PauseReading, and in particular
// for a proxy: there a connection's output is the other direction's
// traffic, and stopping its input because of it ties the two directions
// together, so that a peer which stops reading until it can write would
// wait forever (examples/client paces each direction itself).
func WithFlowControl(on bool) Option {
	return optionFunc(func(o *options) { o.flowControl = on })
}

// WithLingerTimeout bounds a lingering close (Conn.CloseLingering, and
// the close that follows a decode error), so that the peer reads our
// final reply instead of a reset: queued output goes out, then our FIN,
// then input is read and dropped until the peer's FIN. d (default
// DefaultLingerTimeout) counts from when the lingering close begins;
// when it passes, the connection closes whatever is left, output still
// queued included. 0 closes as soon as the FIN is out.
func WithLingerTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.lingerTimeout = d })
}

// WithInboundLimit caps the unread input a connection without a codec may
// buffer (default DefaultInboundLimit): past it, mill stops reading the
// connection until the handler consumes input (in a callback for that
// connection, such as an AsyncWrite callback or a Do function). If
// nothing is left that could run such a callback (no queued output, no
// asynchronous write, Do, worker-pool task or writability notice in
// flight), the input can never be consumed, and the connection closes
// with ErrInboundLimit rather than hang; a handler that keeps input on
// purpose until some other event says so uses Conn.PauseReading. Set it
// from your protocol's largest message. With a codec, the codec's frame
// limit bounds the input instead.
func WithInboundLimit(n int) Option {
	return optionFunc(func(o *options) { o.inboundLimit = n })
}

// WithMaxConns caps the number of open connections (0, the default, is no
// cap). Connections accepted beyond it are closed at once, without
// OnOpen, and counted in Stats.Refused. A Client's connections are not
// capped.
func WithMaxConns(n int) Option {
	return optionFunc(func(o *options) { o.maxConns = n })
}

// WithIdleTimeout closes connections that send and receive nothing for d
// (ErrIdleTimeout in OnClose). 0, the default, is no timeout. Timeouts
// do not apply to UDP sockets, and cost no goroutine and no timer per
// connection event: see docs/robustness.md.
func WithIdleTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.idleTimeout = d })
}

// WithReadTimeout closes connections whose partial input — bytes left
// unread by the handler, such as an incomplete frame or request head —
// waits d without the handler making progress on it (ErrReadTimeout):
// the clock starts when input is left unread, starts again whenever the
// handler consumes some (Next, Read, Discard, ReadFrame), and is off
// while no input waits or mill itself holds reading off (flow control,
// the inbound limit, PauseReading). It is the defence against slowloris,
// which never completes a request; a client that keeps completing them,
// however its writes are cut, is not closed. 0, the default, is no
// timeout.
func WithReadTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.readTimeout = d })
}

// WithWriteTimeout closes connections whose queued output is not all
// sent within d (ErrWriteTimeout): the clock starts when output is first
// queued and stops only when the queue is empty. 0, the default, is no
// timeout. A connection that streams without pause keeps output queued;
// give it a generous timeout or none.
func WithWriteTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.writeTimeout = d })
}

// WithLoopMetrics makes every loop measure itself, for Stats and a
// metrics exporter: its busy time (LoopStats.Busy: the time it spends
// handling events, tasks and timers rather than waiting, at the cost of
// two clock reads per loop iteration), and its lag (LoopStats.Lag: a
// goroutine gives each loop a probe task every interval and the loop
// records how late it ran it, so a handler that blocks its loop shows
// up). 0, the default, measures nothing and costs nothing.
func WithLoopMetrics(interval time.Duration) Option {
	return optionFunc(func(o *options) { o.loopMetrics = interval })
}

// WithAddrs adds addresses for the server to listen on besides the one
// given to NewServer, in the same forms (tcp://, tcp4://, tcp6://,
// unix://, udp://, udp4://, udp6://). Connections from every address
// are balanced over the same loops and served by the same handler; see
// docs/listeners.md.
func WithAddrs(addrs ...string) Option {
	return optionFunc(func(o *options) { o.addrs = append(o.addrs, addrs...) })
}

// WithReusePort(true) gives every event loop its own SO_REUSEPORT
// listening socket for each TCP address, on which the loop accepts for
// itself: the kernel spreads new connections over the loops (by a hash
// of the connection's addresses) and there is no main reactor in the way.
// The default (false) is one listening socket, accepted on by the main
// reactor and spread by the load balancer, which then has no say.
// Unix-socket addresses always use the main reactor, and so does
// everything on systems whose SO_REUSEPORT does not spread connections
// (macOS, NetBSD, OpenBSD). UDP addresses get a socket per loop wherever
// the kernel spreads datagrams (Linux, FreeBSD, DragonFly), whatever
// this option says. With more than one socket per port, another process
// of the same user may bind the port too and take a share. See
// docs/listeners.md for when to choose which.
func WithReusePort(on bool) Option {
	return optionFunc(func(o *options) { o.reusePort = on })
}

// WithReuseAddr sets SO_REUSEADDR on TCP listening sockets (default
// true), so that a restarted server can bind while connections of its
// previous run linger in TIME_WAIT. UDP sockets never get it (another
// socket could then bind their port and take their datagrams), except
// with WithMulticastGroup, whose receivers share the group's port.
func WithReuseAddr(on bool) Option {
	return optionFunc(func(o *options) { o.reuseAddr = on })
}

// WithBindToDevice binds listening, UDP and dialled sockets to the
// network interface named iface (SO_BINDTODEVICE), so that they send and
// receive only through it. Linux only: elsewhere NewServer and Dial fail.
func WithBindToDevice(iface string) Option {
	return optionFunc(func(o *options) { o.bindToDevice = iface })
}

// WithMulticastGroup makes the server's UDP sockets join the multicast
// group on interface ifi (nil: the system's choice). Give it once per
// group. Bind the UDP address to the wildcard host (or the group) and
// the group's port to receive the group's datagrams. Each UDP address
// then has one socket, served by the first loop, since every socket on
// the port would receive every datagram of the group.
func WithMulticastGroup(group netip.Addr, ifi *net.Interface) Option {
	return optionFunc(func(o *options) { o.multicast = append(o.multicast, multicastGroup{group, ifi}) })
}

// WithDialTimeout bounds how long a Client's connection attempt may take
// before it fails with ErrDialTimeout (default DefaultDialTimeout; 0 is
// no bound other than the caller's context and the system's own). The
// name lookup, if the address needs one, and the connect are each
// bounded by d.
func WithDialTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.dialTimeout = d })
}
