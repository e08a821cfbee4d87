//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"io"
	"net"
	"time"
	"unsafe"

	"github.com/mill-io/mill/codec"
)

// The Conn methods of a UDP socket's PacketConn. Inside OnTraffic the
// input methods read the datagram being delivered and the output methods
// send one datagram each back to its sender; outside it there is no
// datagram and no sender (ErrNoPeer).

func (pc *packetConn) sealed() {}

// LocalAddr is the socket's bound address. Any goroutine.
func (pc *packetConn) LocalAddr() net.Addr { return pc.local }

// RemoteAddr is the sender of the datagram being delivered, as a new
// *net.UDPAddr, or nil outside OnTraffic. Loop goroutine.
func (pc *packetConn) RemoteAddr() net.Addr {
	if !pc.from.IsValid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(pc.from)
}

// Fd is the UDP socket's descriptor. Any goroutine.
func (pc *packetConn) Fd() int { return pc.fd }

// Timeouts do not apply to datagrams.
func (pc *packetConn) SetIdleTimeout(time.Duration)  {}
func (pc *packetConn) SetReadTimeout(time.Duration)  {}
func (pc *packetConn) SetWriteTimeout(time.Duration) {}

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
// delivered. Loop goroutine, inside OnTraffic.
func (pc *packetConn) Write(p []byte) (int, error) {
	if *pc.slot == nil {
		return 0, ErrServerClosed
	}
	return pc.sendTo(p, nil, pc.from)
}

// Writev sends bs gathered into one datagram to the sender. Loop
// goroutine, inside OnTraffic.
func (pc *packetConn) Writev(bs [][]byte) (int, error) {
	if *pc.slot == nil {
		return 0, ErrServerClosed
	}
	if bs == nil {
		bs = [][]byte{}
	}
	return pc.sendTo(nil, bs, pc.from)
}

// Flush has nothing to do: datagrams are sent at once. Loop goroutine.
func (pc *packetConn) Flush() error { return nil }

// OutboundBuffered is 0: nothing is queued. Loop goroutine.
func (pc *packetConn) OutboundBuffered() int { return 0 }

// Writable is true: nothing is queued. Any goroutine.
func (pc *packetConn) Writable() bool { return true }

// AsyncWrite has no sender to write to (ErrNoPeer); use SendTo. Any
// goroutine; cb, if not nil, runs once on the loop with ErrNoPeer.
func (pc *packetConn) AsyncWrite(_ []byte, cb AsyncCallback) error { return pc.noPeer(cb) }

// AsyncWritev: see AsyncWrite.
func (pc *packetConn) AsyncWritev(_ [][]byte, cb AsyncCallback) error { return pc.noPeer(cb) }

// AsyncWriteFrame: see AsyncWrite.
func (pc *packetConn) AsyncWriteFrame(_ []byte, cb AsyncCallback) error { return pc.noPeer(cb) }

func (pc *packetConn) noPeer(cb AsyncCallback) error {
	if cb != nil {
		if pc.l.loop.Submit(func() { cb(pc, ErrNoPeer) }) != nil {
			cb(pc, ErrNoPeer)
		}
	}
	return ErrNoPeer
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
	if pc.closed {
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

// WriteFrame encodes p and sends it as one datagram to the sender. Loop
// goroutine, inside OnTraffic.
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

// Submit runs task on the server's worker pool, after the tasks this
// socket submitted before it. Any goroutine.
func (pc *packetConn) Submit(task func()) error {
	p, err := pc.l.e.workers()
	if err != nil {
		return err
	}
	key := uint64(uintptr(unsafe.Pointer(pc)))
	return p.SubmitKeyed(key, func() {
		defer func() {
			if v := recover(); v != nil {
				pc.l.e.recovered("task (datagram)", v, stack())
				panic(v) // on to the pool, which logs and counts it
			}
		}()
		task()
	})
}

// CloseWrite and Close do nothing: the socket belongs to the server and
// closes when it shuts down. Any goroutine.
func (pc *packetConn) CloseWrite() error { return nil }

// Close: see CloseWrite.
func (pc *packetConn) Close() error { return nil }
