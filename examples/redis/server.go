package main

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mill-io/mill"
)

// Config configures a server. Zero fields take defaults.
type Config struct {
	Limits Limits
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
	nextID atomic.Int64 // client ids, as HELLO reports them
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
	opts = append([]mill.Option{mill.WithTicker(true), mill.WithWriteBatching(true)}, opts...)
	s, err := mill.NewServer(h, addr, opts...)
	if err != nil {
		return nil, nil, err
	}
	return s, h, nil
}

// client is one connection's state, kept with Conn.SetContext.
type client struct {
	// codec frames and splits this connection's commands. The handler
	// decodes with it directly instead of installing it with
	// mill.WithCodec: after a ReadFrame decode error mill refuses
	// writes, and Redis answers a protocol error before it closes.
	codec *respCodec
	id    int64
	quit  bool // QUIT ran: close after the replies
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

// OnTraffic runs every complete command buffered, gathering the replies
// of a pipelined batch into one Write.
func (s *server) OnTraffic(c mill.Conn) mill.Action {
	cl := c.Context().(*client)
	in, _ := c.Peek(-1)
	bp := outPool.Get().(*[]byte)
	out := (*bp)[:0]
	done, act := 0, mill.None
	for {
		n, o, st := s.process(cl, in[done:], out[:0])
		done += n
		out = o
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				break // the connection is broken and closes
			}
		}
		if st == more {
			continue
		}
		if st == closing {
			act = mill.Close
		}
		break
	}
	c.Discard(done)
	if cap(out) <= 1<<20 {
		*bp = out[:0]
		outPool.Put(bp)
	}
	return act
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
