package main

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mill-io/mill"
)

// Config configures a server. Zero fields take defaults, but for the
// timeouts and the connection cap, where zero is none (the command's
// flags default to DefaultReadTimeout, DefaultIdleTimeout and
// DefaultMaxConns).
type Config struct {
	Limits Limits
	// MaxOutput caps the replies queued for one connection (default
	// DefaultMaxOutput). The server stops running a connection's commands
	// once its output passes mill's high watermark (1 MiB), so only a
	// single huge reply (a GET of a 64 MiB value, an MGET of many) comes
	// near it; one that would pass it closes the connection
	// (mill.ErrSlowConsumer, logged), as redis-server's
	// client-output-buffer-limit does.
	MaxOutput int
	// ReadTimeout closes a connection whose partial command waits longer
	// (0: never); IdleTimeout one silent both ways that long (0: never).
	ReadTimeout, IdleTimeout time.Duration
	// MaxConns caps the connections open at once (0: no cap).
	MaxConns int
	// SweepInterval is how often expired keys nobody reads are removed
	// (default 100ms, Redis's hz 10).
	SweepInterval time.Duration
	// SweepSamples is how many keys with an expiry the sweeper checks
	// per shard and round (default 20, as Redis does per cycle).
	SweepSamples int
}

// sweepRounds bounds how often one tick resamples a shard in which more
// than a quarter of the sample had expired.
const sweepRounds = 4

// server is the mill handler: a Redis-compatible key-value server.
type server struct {
	mill.BuiltinHandler
	cfg    Config
	db     *store
	nextID atomic.Int64  // client ids, as HELLO reports them
	held   atomic.Uint64 // times serve left commands for OnWritabilityChanged
}

// The command's defaults for the settings whose zero means none.
const (
	DefaultMaxOutput   = 256 << 20
	DefaultReadTimeout = 10 * time.Second
	DefaultIdleTimeout = 2 * time.Minute
	DefaultMaxConns    = 10000
)

// InboundLimit is the most unread input a connection may buffer: the
// largest command the limits accept (MaxCommand) and, past it, two reads'
// worth of the next ones. A larger command is refused with a protocol
// error as soon as its header says so, so mill's inbound limit never
// stalls a command the server would run.
func (cfg Config) InboundLimit() int {
	lim := cfg.Limits.withDefaults()
	return max(lim.MaxCommand, lim.MaxInline+2) + 2*mill.DefaultReadBufferCap
}

// OutboundLimit is MaxOutput, or its default.
func (cfg Config) OutboundLimit() int {
	if cfg.MaxOutput > 0 {
		return cfg.MaxOutput
	}
	return DefaultMaxOutput
}

// options are the mill options cfg asks for.
func (cfg Config) options() []mill.Option {
	return []mill.Option{
		mill.WithInboundLimit(cfg.InboundLimit()),
		mill.WithOutboundLimit(cfg.OutboundLimit(), mill.CloseSlowConsumer),
		mill.WithReadTimeout(cfg.ReadTimeout),
		mill.WithIdleTimeout(cfg.IdleTimeout),
		mill.WithMaxConns(cfg.MaxConns),
	}
}

func newHandler(cfg Config) *server {
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 100 * time.Millisecond
	}
	if cfg.SweepSamples <= 0 {
		cfg.SweepSamples = 20
	}
	return &server{cfg: cfg, db: newStore()}
}

// newServer creates a mill server for cfg listening on addr (host:port,
// or a URL such as unix:///tmp/redis.sock).
func newServer(addr string, cfg Config, opts ...mill.Option) (*mill.Server, *server, error) {
	if !strings.Contains(addr, "://") {
		addr = "tcp://" + addr
	}
	h := newHandler(cfg)
	// Write batching: replies go out together once the loop has read
	// every ready connection, as redis-server sends them before it polls
	// again. (Against redis-benchmark, busy polling is what counts; see
	// main.go and docs/benchmarks.md.)
	opts = append(append(cfg.options(), mill.WithTicker(true), mill.WithWriteBatching(true)), opts...)
	s, err := mill.NewServer(h, addr, opts...)
	if err != nil {
		return nil, nil, err
	}
	return s, h, nil
}

// client is one connection's state, kept with Conn.SetContext.
type client struct {
	// codec frames and splits this connection's commands. The handler
	// runs it itself over all the buffered input, one command after
	// another, rather than installing it with mill.WithCodec and calling
	// ReadFrame per command.
	codec   *respCodec
	id      int64
	quit    bool // QUIT ran: close after the replies
	closing bool // the last reply is written: drop any more input
}

func (s *server) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	c.SetContext(&client{codec: newRESPCodec(s.cfg.Limits), id: s.nextID.Add(1)})
	return nil, mill.None
}

// OnTick runs the expiry sweeper on mill's first event loop.
func (s *server) OnTick() (time.Duration, mill.Action) {
	s.db.sweep(time.Now().UnixMilli(), s.cfg.SweepSamples, sweepRounds)
	return s.cfg.SweepInterval, mill.None
}

// flushAt is how much reply output process gathers before it stops so
// that the output can be written.
const flushAt = 64 << 10

// outPool holds reply buffers between OnTraffic calls: one per running
// callback rather than one per connection.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// OnTraffic runs the commands buffered.
func (s *server) OnTraffic(c mill.Conn) mill.Action { return s.serve(c) }

// OnWritabilityChanged runs the commands serve held back while the
// connection's output was backed up, once it has drained (writable).
func (s *server) OnWritabilityChanged(c mill.Conn, writable bool) {
	if writable && c.InboundBuffered() > 0 && s.serve(c) == mill.Close {
		_ = c.Close() // the connection is broken or closing already
	}
}

// serve runs every complete command buffered, gathering the replies of
// a pipelined batch into one Write (one per flushAt bytes of replies).
//
// A client that pipelines commands without reading the replies must not
// make the server queue output without bound (a burst of GETs of a large
// value can ask for gigabytes): once the connection's queued output
// passes the high watermark (Writable is false), serve stops and leaves
// the commands not yet run in the input buffer. mill stops reading the
// connection meanwhile (flow control), so TCP pushes back on the client;
// when the output has drained below the low watermark,
// OnWritabilityChanged calls serve again.
func (s *server) serve(c mill.Conn) mill.Action {
	cl := c.Context().(*client)
	if cl.closing {
		c.Discard(-1)
		return mill.None
	}
	in, _ := c.Peek(-1)
	bp := outPool.Get().(*[]byte)
	out := (*bp)[:0]
	done, st := 0, drained
	var err error
	for {
		var n int
		n, out, st = s.process(cl, in[done:], out[:0])
		done += n
		if len(out) > 0 {
			if _, err = c.Write(out); err != nil {
				break
			}
		}
		if st != more {
			break
		}
		if !c.Writable() {
			s.held.Add(1)
			break // the rest waits for OnWritabilityChanged
		}
	}
	c.Discard(done)
	if cap(out) <= 1<<20 {
		*bp = out[:0]
		outPool.Put(bp)
	}
	switch {
	case err != nil:
		// Broken, or closing as a slow consumer (a reply that would take
		// the queue past the outbound limit; mill logs it).
		return mill.Close
	case st == closing:
		// QUIT, or a protocol error after its error reply. The client
		// may still be sending: a plain close, with its input unread,
		// would make the kernel reset the connection and could destroy
		// the reply before the client reads it. A lingering close sends
		// the reply and a FIN, then drops input until the client closes
		// or the linger timeout passes.
		cl.closing = true
		c.Discard(-1)
		if c.CloseLingering() != nil {
			return mill.Close
		}
	}
	return mill.None
}

type status int

const (
	drained status = iota // every complete command ran
	more                  // output reached flushAt: write it and call again
	closing               // QUIT or a protocol error: write and close
)

// process runs the complete commands at the front of in, appending their
// replies to out. It returns how many bytes of in it consumed.
func (s *server) process(cl *client, in, out []byte) (int, []byte, status) {
	done := 0
	for done < len(in) {
		if len(out) >= flushAt {
			return done, out, more
		}
		frame, n, err := cl.codec.Decode(in[done:])
		if n == 0 && err == nil {
			break
		}
		var args [][]byte
		if err == nil {
			done += n
			args, err = cl.codec.Split(frame)
		}
		if err != nil {
			return done, appendProtocolError(out, err), closing
		}
		if len(args) == 0 { // an empty line or "*0": Redis ignores it
			continue
		}
		out = s.exec(cl, out, args)
		if cl.quit {
			return done, out, closing
		}
	}
	return done, out, drained
}

// appendProtocolError is Redis's last word to a client that broke the
// protocol. The message may quote a byte of the input, made safe as
// Redis makes it.
func appendProtocolError(out []byte, err error) []byte {
	msg := []byte("Protocol error")
	var pe *protoError
	if errors.As(err, &pe) {
		msg = []byte(pe.Error())
	}
	return newError(out, "ERR ").quote(msg, len(msg)).done()
}
