//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/internal/socket"
)

// tlsWire is the net.Conn a connection's *tls.Conn reads and writes
// through. It works in two modes, one after the other:
//
//   - Handshake (blocking), while the handshake runs on its goroutine:
//     Read waits for bytes the loop pushes (push), and Write appends to
//     pending output the loop takes (take) and sends; neither touches the
//     socket. Everything is under mu.
//   - Direct, once the loop has taken the finished handshake over:
//     Read reads the socket (first what the handshake left unread), and
//     returns errWouldBlock instead of waiting; Write queues on the
//     conn's output. Only the loop calls it then, so no lock is taken.
//
// Why it must be so: crypto/tls keeps a read error only if it is not a
// temporary net.Error, so a would-block in direct mode leaves a partial
// record buffered for the next Read; a handshake error, temporary or
// not, is final, so the handshake needs a Read that waits; and every
// write error is final, so Write never fails for want of room.
type tlsWire struct {
	c      *conn
	direct bool // set on the loop once the handshake goroutine is done
	// sendNow: a Write's records may go to the socket at once (writeTLS
	// sets it around tls.Conn.Write unless the output is batched);
	// otherwise they queue, for the caller to flush. Loop goroutine.
	sendNow bool
	queued  bool // records were queued since the last queuedTLS
	// What the loop knows of crypto/tls's input, to skip the read that
	// would only say "would block" (tlsWire.caughtUp): the records handed
	// to it (both modes), whether the last socket read left the socket
	// empty, and a lower bound on the records it has consumed.
	recs     recordCounter
	drained  bool
	consumed uint64

	mu      sync.Mutex
	in      []byte // pushed by the loop, not yet read by crypto/tls
	out     []byte // written by the handshake, not yet taken by the loop
	posted  bool   // the loop was asked to take out
	viaLoop bool   // output went through the loop once: all of it does from then on
	full    bool   // in reached handshakeInputLimit: the loop stopped reading
	inEOF   bool   // the peer's FIN follows in
	err     error  // why Read and Write fail from now on (set once)
	wake    chan struct{}
	ctx     context.Context // the handshake's: ends with err
	cancel  context.CancelFunc
	dead    <-chan struct{} // ctx.Done()
	limiter *handshakes     // lends the CPU tokens
	token   bool            // the handshake goroutine holds a CPU token
}

// errWouldBlock is the direct-mode Read's "nothing more for now". It
// must be a net.Error with Temporary true, returned unwrapped: that is
// what crypto/tls's record layer checks (with a type assertion) before
// deciding an error is not final.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "mill: TLS read would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

func newTLSWire(c *conn, h *handshakes) *tlsWire {
	w := &tlsWire{c: c, limiter: h, wake: make(chan struct{}, 1)}
	// A plain cancellable context: crypto/tls and the callbacks watch it
	// without a goroutine of their own.
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.dead = w.ctx.Done()
	return w
}

// Read is crypto/tls's input. Handshake goroutine, then the loop.
func (w *tlsWire) Read(p []byte) (int, error) {
	if w.direct {
		return w.readDirect(p)
	}
	for {
		w.mu.Lock()
		if len(w.in) > 0 {
			n := copy(p, w.in)
			w.in = w.in[n:]
			if len(w.in) == 0 {
				w.in = nil
			}
			w.recs.add(p[:n])
			resume := w.full && len(w.in) < handshakeInputLimit
			if resume {
				w.full = false
			}
			w.mu.Unlock()
			if resume {
				w.c.loop.loop.Post(w.c.handshakeInputTaken)
			}
			if err := w.takeToken(); err != nil {
				return 0, err // about to compute on what arrived: a CPU token first
			}
			return n, nil
		}
		err := w.err
		if err == nil && w.inEOF {
			err = io.EOF
		}
		w.mu.Unlock()
		if err != nil {
			return 0, err
		}
		// Waiting for the peer computes nothing: lend the token out.
		w.releaseToken()
		select {
		case <-w.wake:
		case <-w.dead:
		}
	}
}

// takeToken waits for a CPU token, unless one is held. Handshake
// goroutine.
func (w *tlsWire) takeToken() error {
	if w.token {
		return nil
	}
	select {
	case w.limiter.cpu <- struct{}{}:
		w.token = true
		return nil
	case <-w.dead:
		return w.failure()
	}
}

// releaseToken gives the CPU token back, if held. Handshake goroutine.
func (w *tlsWire) releaseToken() {
	if w.token {
		w.token = false
		<-w.limiter.cpu
	}
}

func (w *tlsWire) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// readDirect reads the socket for crypto/tls on the loop. Loop goroutine.
func (w *tlsWire) readDirect(p []byte) (int, error) {
	if len(w.in) > 0 { // what arrived with the handshake's last flight
		n := copy(p, w.in)
		w.in = w.in[n:]
		if len(w.in) == 0 {
			w.in = nil
		}
		w.recs.add(p[:n])
		w.drained = false
		return n, nil
	}
	c := w.c
	for {
		n, err := socket.Read(c.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			w.drained = true
			return 0, errWouldBlock
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		case n == 0:
			return 0, io.EOF
		}
		w.recs.add(p[:n])
		w.drained = n < len(p) // the socket had no more
		c.received()
		c.loop.ctr.bytesIn.Add(uint64(n))
		c.loop.ctr.reads.Add(1)
		return n, nil
	}
}

// Keeping count lets readTLS skip a read. After tls.Conn.Read returned
// a record's plaintext, another Read either decrypts a record crypto/tls
// already holds or reads the socket — and, if the socket is empty, that
// read only says "would block", a system call per message for nothing.
// The wire sees every byte crypto/tls gets, so it counts the whole
// records handed over (recordCounter). crypto/tls consumes at least one
// record per Read that returns plaintext (the loop's read buffer holds
// any record's plaintext whole), and all it holds whole once a Read
// would block. So consumed, counted that way, never runs ahead of the
// truth, and when it has caught up with the records handed over and the
// last socket read left the socket empty, nothing is there to read
// until the poller says so.

// readGave records that tls.Conn.Read returned plaintext (true) or
// would block (false). Loop goroutine.
func (w *tlsWire) readGave(data bool) {
	if data {
		w.consumed++
	} else {
		w.consumed = w.recs.complete
	}
}

// caughtUp reports whether another tls.Conn.Read now could only find
// the socket empty. Loop goroutine.
func (w *tlsWire) caughtUp() bool { return w.drained && w.consumed >= w.recs.complete }

// recordCounter counts the whole TLS records in a byte stream fed to it
// piece by piece.
type recordCounter struct {
	head     [recordHeaderLen]byte
	headN    int // bytes of the current record's header seen
	body     int // bytes of its body still to come
	complete uint64
}

func (r *recordCounter) add(b []byte) {
	for len(b) > 0 {
		if r.headN < recordHeaderLen {
			k := copy(r.head[r.headN:], b)
			r.headN += k
			b = b[k:]
			if r.headN < recordHeaderLen {
				return
			}
			r.body = int(r.head[3])<<8 | int(r.head[4])
		}
		k := min(r.body, len(b))
		r.body -= k
		b = b[k:]
		if r.body == 0 {
			r.complete++
			r.headN = 0
		}
	}
}

// Write is crypto/tls's output; it never fails for want of room.
// Handshake goroutine, then the loop.
func (w *tlsWire) Write(p []byte) (int, error) {
	if w.direct {
		// crypto/tls holds its write lock here: no handler code may run
		// (it could write, and wait for that lock for ever), so this
		// only sends and queues; the caller settles the rest
		// (conn.queuedTLS) once crypto/tls has returned.
		c := w.c
		all := len(p)
		if w.sendNow && c.out.Len() == 0 {
			n, err := c.writeNow(p) // as a plaintext Write does: no copy when the socket takes it all
			if err != nil {
				return 0, err // the caller fails the conn
			}
			p = p[n:]
		}
		if len(p) > 0 {
			c.out.queue(p)
			c.loop.ctr.outPending.Add(int64(len(p)))
			w.queued = true
		}
		return all, nil
	}
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return 0, err
	}
	all := len(p)
	if !w.viaLoop {
		// Nothing of the handshake's waits on the loop: write from here,
		// sparing the loop a wake-up and a thread switch per flight. mu
		// keeps the descriptor ours meanwhile: a close kills the wire,
		// under mu, before it closes the descriptor.
		n, err := w.writeSocket(p)
		if err != nil {
			w.mu.Unlock()
			return 0, err
		}
		if p = p[n:]; len(p) == 0 {
			w.mu.Unlock()
			return all, nil
		}
	}
	w.viaLoop = true // from now on all of it goes through the loop, in order
	w.out = append(w.out, p...)
	post := !w.posted
	w.posted = true
	w.mu.Unlock()
	if post {
		w.c.loop.loop.Post(w.c.handshakeOutput)
	}
	return all, nil
}

// writeSocket writes what the handshake wrote, from its goroutine,
// with mu held; a full socket is not an error. The counters are atomic;
// nothing else of the conn is touched.
func (w *tlsWire) writeSocket(p []byte) (int, error) {
	c := w.c
	for {
		n, err := socket.Write(c.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, nil
		case err != nil:
			return 0, os.NewSyscallError("write", err)
		}
		if n > 0 {
			c.sentBytes(n)
		}
		return n, nil
	}
}

// handshakeInputLimit bounds the input a handshake has not read yet
// (say, requests a client pipelines behind its last flight): past it the
// loop stops reading until the handshake takes some.
const handshakeInputLimit = 96 << 10

// push hands the handshake bytes the loop read, and reports whether the
// unread input reached handshakeInputLimit (the loop must then stop
// reading until handshakeInputTaken). Loop goroutine.
func (w *tlsWire) push(b []byte) (full bool) {
	w.mu.Lock()
	w.in = append(w.in, b...)
	full = len(w.in) >= handshakeInputLimit
	w.full = full
	w.mu.Unlock()
	w.signal()
	return full
}

// signal wakes a Read waiting for input. Any goroutine.
func (w *tlsWire) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// eof records the peer's FIN: once in is read, Read returns io.EOF.
// Loop goroutine.
func (w *tlsWire) eof() {
	w.mu.Lock()
	w.inEOF = true
	w.mu.Unlock()
	w.signal()
}

// sawEOF reports whether the peer's FIN came during the handshake. Loop
// goroutine.
func (w *tlsWire) sawEOF() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inEOF
}

// scanHello runs the ClientHello pre-read over what was pushed since
// the last call. Loop goroutine, before the handshake starts.
func (w *tlsWire) scanHello(h *helloScan) helloStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return h.scan(w.in)
}

// inputFull reports whether unread input is still at the bound. Loop
// goroutine.
func (w *tlsWire) inputFull() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.full
}

// take returns the handshake's output not yet sent. Loop goroutine.
func (w *tlsWire) take() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.out
	w.out, w.posted = nil, false
	return b
}

// kill ends the handshake's Reads and Writes with err; a handshake
// waiting on them fails. The first error stays. Any goroutine.
func (w *tlsWire) kill(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		w.cancel()
	}
}

// Close is kill: mill closes the socket itself, on the loop.
func (w *tlsWire) Close() error {
	w.kill(net.ErrClosed)
	return nil
}

func (w *tlsWire) LocalAddr() net.Addr  { return w.c.LocalAddr() }
func (w *tlsWire) RemoteAddr() net.Addr { return w.c.RemoteAddr() }

// The deadlines are mill's business (the handshake timeout, the
// connection's timeouts); crypto/tls sets some around close_notify,
// which mill sends without waiting.
func (w *tlsWire) SetDeadline(time.Time) error      { return nil }
func (w *tlsWire) SetReadDeadline(time.Time) error  { return nil }
func (w *tlsWire) SetWriteDeadline(time.Time) error { return nil }
