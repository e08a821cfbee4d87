package mill

import (
	"fmt"
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
	// DefaultWriteBufferCap is the smallest capacity a connection's
	// output queue takes from the buffer pool when a write cannot be
	// sent at once.
	DefaultWriteBufferCap = 4 << 10
)

// An Option configures a Server.
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
}

func defaultOptions() options {
	return options{
		lockOSThread:   true,
		readBufferCap:  DefaultReadBufferCap,
		writeBufferCap: DefaultWriteBufferCap,
		tcpNoDelay:     true,
	}
}

func (o *options) validate() error {
	switch {
	case o.loops < 0:
		return fmt.Errorf("mill: WithLoops(%d): want >= 0", o.loops)
	case o.readBufferCap <= 0:
		return fmt.Errorf("mill: WithReadBufferCap(%d): want > 0", o.readBufferCap)
	case o.writeBufferCap <= 0:
		return fmt.Errorf("mill: WithWriteBufferCap(%d): want > 0", o.writeBufferCap)
	case o.recvBuffer < 0 || o.sendBuffer < 0:
		return fmt.Errorf("mill: socket buffer sizes must be >= 0")
	}
	for _, c := range o.cpus {
		if c < 0 {
			return fmt.Errorf("mill: WithCPUAffinity: negative CPU %d", c)
		}
	}
	return nil
}

// defaultLogger writes warnings and errors to standard error as JSON.
func defaultLogger() *zap.Logger {
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(os.Stderr), zap.WarnLevel)).Named("mill")
}

// WithLoops sets how many sub-reactor event loops serve connections.
// Zero, the default, means one per CPU the process may use.
func WithLoops(n int) Option {
	return optionFunc(func(o *options) { o.loops = n })
}

// WithLoadBalancer sets how accepted connections are spread over the
// loops. The default is balancer.NewRoundRobin().
func WithLoadBalancer(b balancer.Balancer) Option {
	return optionFunc(func(o *options) { o.balancer = b })
}

// WithLockOSThread sets whether each loop goroutine is locked to its own
// OS thread (default true), which keeps the loop's thread hot and lets
// WithCPUAffinity pin it.
func WithLockOSThread(on bool) Option {
	return optionFunc(func(o *options) { o.lockOSThread = on })
}

// WithCPUAffinity pins sub-reactor loop i to CPU cpus[i%len(cpus)]
// (Linux only; NewServer fails elsewhere). The accepting main loop is
// not pinned.
func WithCPUAffinity(cpus ...int) Option {
	return optionFunc(func(o *options) { o.cpus = append([]int(nil), cpus...) })
}

// WithReadBufferCap sets the size of each loop's read buffer, the most
// one read takes from a socket (default DefaultReadBufferCap).
func WithReadBufferCap(n int) Option {
	return optionFunc(func(o *options) { o.readBufferCap = n })
}

// WithWriteBufferCap sets the smallest capacity of a connection's output
// queue, taken from the buffer pool only while output is pending
// (default DefaultWriteBufferCap).
func WithWriteBufferCap(n int) Option {
	return optionFunc(func(o *options) { o.writeBufferCap = n })
}

// WithTCPNoDelay sets TCP_NODELAY on accepted TCP connections (default
// true: small writes are sent at once).
func WithTCPNoDelay(on bool) Option {
	return optionFunc(func(o *options) { o.tcpNoDelay = on })
}

// WithTCPKeepAlive enables TCP keep-alive on accepted connections, probing
// after d of silence and every d thereafter. Zero, the default, leaves
// the system's setting.
func WithTCPKeepAlive(d time.Duration) Option {
	return optionFunc(func(o *options) { o.tcpKeepAlive = d })
}

// WithSocketRecvBuffer sets SO_RCVBUF on accepted connections (0, the
// default, leaves the system's size).
func WithSocketRecvBuffer(n int) Option {
	return optionFunc(func(o *options) { o.recvBuffer = n })
}

// WithSocketSendBuffer sets SO_SNDBUF on accepted connections (0, the
// default, leaves the system's size).
func WithSocketSendBuffer(n int) Option {
	return optionFunc(func(o *options) { o.sendBuffer = n })
}

// WithTicker turns Handler.OnTick on.
func WithTicker(on bool) Option {
	return optionFunc(func(o *options) { o.ticker = on })
}

// WithLogger sets the logger for errors the server handles itself
// (accept failures, broken loops). The default logs warnings and errors
// to standard error; pass zap.NewNop() for silence.
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
// stall every connection on the loop. The pool is released when the
// server shuts down, after its connections close.
func WithWorkerPool(cfg workerpool.Config) Option {
	return optionFunc(func(o *options) { o.workers = &cfg })
}

// WithHalfOpen keeps a connection open after the peer shuts its sending
// side, so the handler can go on writing (see HalfCloseHandler). By
// default such a connection closes once its queued output has gone out.
func WithHalfOpen(on bool) Option {
	return optionFunc(func(o *options) { o.halfOpen = on })
}
