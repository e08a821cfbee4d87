//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"crypto/tls"
	"io"
	"net"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"github.com/mill-io/mill/codec"
	"github.com/mill-io/mill/proxyproto"
)

// The Conn methods of a UDP socket's PacketConn. Inside OnTraffic the
// input methods read the datagram being delivered. On a server's socket
// the output methods send one datagram each back to its sender, and
// outside OnTraffic there is no sender (ErrNoPeer); on a dialled,
// connected socket they send to its peer, from any callback, and the
// asynchronous ones work too.

func (pc *packetConn) sealed() {}

// Proxy reports ok false: UDP sockets take no PROXY protocol header.
// Any goroutine.
func (pc *packetConn) Proxy() (proxyproto.Header, bool) { return proxyproto.Header{}, false }

// TLS reports ok false: UDP sockets carry no TLS. Any goroutine.
func (pc *packetConn) TLS() (tls.ConnectionState, bool) { return tls.ConnectionState{}, false }

// LocalAddr is the socket's bound address. Any goroutine.
func (pc *packetConn) LocalAddr() net.Addr { return pc.local }

// RemoteAddr is the connected peer, or else the sender of the datagram
// being delivered, as a new *net.UDPAddr; nil if neither. Any goroutine
// for a connected socket, else the loop goroutine.
func (pc *packetConn) RemoteAddr() net.Addr {
	switch {
	case pc.peer.IsValid():
		return net.UDPAddrFromAddrPort(pc.peer)
	case pc.from.IsValid():
		return net.UDPAddrFromAddrPort(pc.from)
	}
	return nil
}

// Fd is the UDP socket's descriptor. Any goroutine.
func (pc *packetConn) Fd() int { return pc.fd }

// Server returns the server the socket belongs to. Any goroutine.
func (pc *packetConn) Server() *Server { return pc.l.e.s }

// Timeouts do not apply to datagrams.
func (pc *packetConn) SetIdleTimeout(time.Duration)           {}
func (pc *packetConn) SetReadTimeout(time.Duration)           {}
func (pc *packetConn) SetWriteTimeout(time.Duration)          {}
func (pc *packetConn) SetQuietFunc(time.Duration, func(Conn)) {}

// Context and SetContext hold state for the socket, shared by all its
// datagrams. Loop goroutine.
func (pc *packetConn) Context() any       { return pc.ctx }
func (pc *packetConn) SetContext(ctx any) { pc.ctx = ctx }

// Peek returns up to n unread bytes of the datagram. Loop goroutine.
func (pc *packetConn) Peek(n int) ([]byte, error) {
	b := pc.view
	if n < 0 {
		return b, nil
	}
	if n > len(b) {
		return b, io.ErrShortBuffer
	}
	return b[:n:n], nil
}

// Next is Peek that consumes what it returns. Loop goroutine.
func (pc *packetConn) Next(n int) ([]byte, error) {
	b, err := pc.Peek(n)
	if pc.view != nil {
		pc.view = pc.view[len(b):]
	}
	return b, err
}

// Discard drops up to n unread bytes of the datagram. Loop goroutine.
func (pc *packetConn) Discard(n int) (int, error) {
	b, _ := pc.Next(n)
	return len(b), nil
}

// Read copies unread bytes of the datagram into p. Loop goroutine.
func (pc *packetConn) Read(p []byte) (int, error) {
	if len(pc.view) == 0 {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, pc.view)
	pc.view = pc.view[n:]
	return n, nil
}

// InboundBuffered is the datagram's unread length. Loop goroutine.
func (pc *packetConn) InboundBuffered() int { return len(pc.view) }

// Write sends p as one datagram to the sender of the datagram being
// delivered, or to the connected peer. Loop goroutine.
func (pc *packetConn) Write(p []byte) (int, error) {
	to, err := pc.dest()
	if err != nil {
		return 0, err
	}
	return pc.sendTo(p, nil, to)
}

// Writev sends bs gathered into one datagram, as Write does. Loop
// goroutine.
func (pc *packetConn) Writev(bs [][]byte) (int, error) {
	to, err := pc.dest()
	if err != nil {
		return 0, err
	}
	if bs == nil {
		bs = [][]byte{}
	}
	return pc.sendTo(nil, bs, to)
}

// Flush has nothing to do: datagrams are sent at once. Loop goroutine.
func (pc *packetConn) Flush() error { return nil }

// OutboundBuffered is 0: nothing is queued. Loop goroutine.
func (pc *packetConn) OutboundBuffered() int { return 0 }

// Writable is true: nothing is queued. Any goroutine.
func (pc *packetConn) Writable() bool { return true }

// AsyncWrite sends p as one datagram to the connected peer, on the loop.
// A server's socket has no peer to write to later (ErrNoPeer; use
// SendTo). Any goroutine; cb, if not nil, runs once on the loop with
// the outcome.
func (pc *packetConn) AsyncWrite(p []byte, cb AsyncCallback) error {
	return pc.async(func() error { _, err := pc.Write(p); return err }, cb)
}

// AsyncWritev: see AsyncWrite.
func (pc *packetConn) AsyncWritev(bs [][]byte, cb AsyncCallback) error {
	return pc.async(func() error { _, err := pc.Writev(bs); return err }, cb)
}

// AsyncWriteFrame: see AsyncWrite.
func (pc *packetConn) AsyncWriteFrame(p []byte, cb AsyncCallback) error {
	return pc.async(func() error { return pc.WriteFrame(p) }, cb)
}

// async runs write on the loop and reports to cb.
func (pc *packetConn) async(write func() error, cb AsyncCallback) error {
	report := func(err error) {
		if cb != nil {
			pc.safely("AsyncCallback (datagram)", func() { cb(pc, err) })
		}
	}
	if err := ErrNoPeer; pc.shared.closing() || !pc.peer.IsValid() {
		if pc.shared.closing() {
			err = ErrClosed
		}
		if cb != nil && pc.l.loop.Post(func() { report(err) }) != nil {
			report(err) // the loop has stopped
		}
		return err
	}
	pc.pending.Add(1)
	err := pc.l.loop.Post(func() {
		pc.pending.Add(-1)
		report(write())
		if pc.l.draining {
			pc.checkDone()
		}
	})
	if err != nil {
		pc.pending.Add(-1)
		report(ErrClosed)
		return ErrClosed
	}
	return nil
}

// SendTo sends p as one datagram to to (a *net.UDPAddr). Any goroutine.
func (pc *packetConn) SendTo(p []byte, to net.Addr) (int, error) {
	ua, ok := to.(*net.UDPAddr)
	if !ok || ua == nil {
		return 0, &net.AddrError{Err: "not a *net.UDPAddr", Addr: addrString(to)}
	}
	ap := ua.AddrPort()
	pc.mu.RLock()
	defer pc.mu.RUnlock()
	if pc.shared.closing() {
		if pc.dialled {
			return 0, ErrClosed
		}
		return 0, ErrServerClosed
	}
	return pc.sendTo(p, nil, ap)
}

func addrString(a net.Addr) string {
	if a == nil {
		return "<nil>"
	}
	return a.String()
}

// SetCodec sets the codec that splits each datagram into frames from now
// on. Loop goroutine.
func (pc *packetConn) SetCodec(c codec.Codec) { pc.codec = c }

// ReadFrame decodes the next frame from the datagram. An incomplete
// frame at its end is dropped with the datagram; a decode error drops
// the rest of the datagram and is returned (the socket carries on).
// Loop goroutine.
func (pc *packetConn) ReadFrame() ([]byte, error) {
	if pc.codec == nil {
		return nil, ErrNoCodec
	}
	in := pc.view
	if len(in) == 0 {
		return nil, nil
	}
	frame, n, err := pc.codec.Decode(in)
	if err == nil && n > len(in) {
		err = codecOverrun(n, len(in))
	}
	if err != nil {
		pc.view = in[len(in):]
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	if frame == nil {
		frame = in[:0]
	}
	pc.view = in[n:]
	return frame, nil
}

// WriteFrame encodes p and sends it as one datagram, where Write would.
// Loop goroutine.
func (pc *packetConn) WriteFrame(p []byte) error {
	if pc.codec == nil {
		return ErrNoCodec
	}
	l := pc.l
	b, err := pc.codec.Encode(l.encBuf[:0], p)
	if err != nil {
		return err
	}
	_, err = pc.Write(b)
	if cap(b) > maxEncodeScratch {
		b = nil
	}
	l.encBuf = b[:0]
	return err
}

// Submit runs task on the server's worker pool. A connected socket's
// tasks run one at a time, in order, like a connection's; a server's
// socket's run in parallel, unordered (its datagrams come from many
// peers, and have no order anyway). Any goroutine.
func (pc *packetConn) Submit(task func()) error {
	p, err := pc.l.e.workers()
	if err != nil {
		return err
	}
	submit := p.Submit
	if pc.peer.IsValid() {
		key := uint64(uintptr(unsafe.Pointer(pc)))
		submit = func(t func()) error { return p.SubmitKeyed(key, t) }
	}
	return submit(func() {
		defer func() {
			if v := recover(); v != nil {
				pe := &PanicError{Value: v, Stack: stack()}
				if pc.dialled {
					// A Client's socket is a connection: a panicking task
					// closes it, as Conn.Submit's contract says.
					pc.l.loop.Post(func() { pc.closeNow(pe) })
				} else {
					pc.l.e.log.Error("recovered panic", zap.String("in", "task (datagram)"), zap.Any("panic", v),
						zap.ByteString("stack", pe.Stack))
				}
				panic(v) // on to the pool, which logs and counts it
			}
		}()
		task()
	})
}

// Do runs fn on the socket's loop, with pc. Any goroutine.
func (pc *packetConn) Do(fn func(Conn)) error {
	pc.pending.Add(1)
	err := pc.l.loop.Post(func() {
		pc.pending.Add(-1)
		if pe := pc.safely("Do (datagram)", func() { fn(pc) }); pe != nil {
			pc.closeNow(pe) // a connected socket closes; a server's carries on
		}
		if pc.l.draining {
			pc.checkDone()
		}
	})
	if err != nil {
		pc.pending.Add(-1)
		return ErrClosed
	}
	return nil
}

// Close closes a connected socket on its loop (OnClose runs with nil);
// on a server's socket it does nothing, the socket closing with the
// server. Any goroutine.
func (pc *packetConn) Close() error {
	if !pc.dialled {
		return nil // a server's socket closes with the server
	}
	if !pc.shared.requestClose() || !pc.peer.IsValid() {
		return ErrClosed // closed, or never connected
	}
	if pc.l.loop.Post(func() { pc.closeNow(nil) }) != nil {
		return ErrClosed
	}
	return nil
}

// CloseWrite is Close: a datagram socket has no half-close. Any
// goroutine.
func (pc *packetConn) CloseWrite() error { return pc.Close() }
