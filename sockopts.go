//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"time"

	"github.com/mill-io/mill/internal/socket"
)

// Per-connection socket settings, as net.TCPConn offers them. They are
// loop-only, unlike net.TCPConn's: a connection's descriptor number is
// reused once it closes, and only its loop knows for certain that it has
// not.

// sockopt applies set to c's socket unless c has closed. Loop goroutine.
func (c *conn) sockopt(set func(fd int) error) error {
	if c.closed() {
		return ErrClosed
	}
	return set(c.fd)
}

// SetNoDelay sets TCP_NODELAY (WithTCPNoDelay's default is true).
func (c *conn) SetNoDelay(on bool) error {
	return c.sockopt(func(fd int) error { return socket.SetNoDelay(fd, on) })
}

// SetKeepAlive turns TCP keep-alive probes on after d of silence and every
// d thereafter (rounded up to whole seconds), or off for d <= 0.
func (c *conn) SetKeepAlive(d time.Duration) error {
	return c.sockopt(func(fd int) error { return socket.SetKeepAlive(fd, d) })
}

// SetLinger sets SO_LINGER as net.TCPConn.SetLinger does.
func (c *conn) SetLinger(sec int) error {
	return c.sockopt(func(fd int) error { return socket.SetLinger(fd, sec) })
}

// SetReadBuffer sets SO_RCVBUF.
func (c *conn) SetReadBuffer(bytes int) error {
	return c.sockopt(func(fd int) error { return socket.SetRecvBuffer(fd, bytes) })
}

// SetWriteBuffer sets SO_SNDBUF.
func (c *conn) SetWriteBuffer(bytes int) error {
	return c.sockopt(func(fd int) error { return socket.SetSendBuffer(fd, bytes) })
}

// A UDP socket has the buffer sizes; the TCP settings fail as the kernel
// fails them (ENOPROTOOPT), and SO_LINGER means nothing for it.

func (pc *packetConn) sockopt(set func(fd int) error) error {
	pc.mu.RLock()
	defer pc.mu.RUnlock()
	if pc.shared.closing() {
		return ErrClosed
	}
	return set(pc.fd)
}

// SetNoDelay fails: a UDP socket has no TCP_NODELAY.
func (pc *packetConn) SetNoDelay(on bool) error {
	return pc.sockopt(func(fd int) error { return socket.SetNoDelay(fd, on) })
}

// SetKeepAlive fails: a UDP socket has no keep-alive.
func (pc *packetConn) SetKeepAlive(d time.Duration) error {
	return pc.sockopt(func(fd int) error { return socket.SetKeepAlive(fd, d) })
}

// SetLinger sets SO_LINGER, which does nothing for a UDP socket.
func (pc *packetConn) SetLinger(sec int) error {
	return pc.sockopt(func(fd int) error { return socket.SetLinger(fd, sec) })
}

// SetReadBuffer sets the socket's SO_RCVBUF.
func (pc *packetConn) SetReadBuffer(bytes int) error {
	return pc.sockopt(func(fd int) error { return socket.SetRecvBuffer(fd, bytes) })
}

// SetWriteBuffer sets the socket's SO_SNDBUF.
func (pc *packetConn) SetWriteBuffer(bytes int) error {
	return pc.sockopt(func(fd int) error { return socket.SetSendBuffer(fd, bytes) })
}

// PauseReading fails on a UDP socket: its datagrams are not held per
// peer, and one paused socket would stop every peer it serves.
func (pc *packetConn) PauseReading() error { return errPacketPause }

// ResumeReading fails as PauseReading does.
func (pc *packetConn) ResumeReading() error { return errPacketPause }

// CloseLingering is Close: a datagram socket has nothing to linger for.
func (pc *packetConn) CloseLingering() error { return pc.Close() }
