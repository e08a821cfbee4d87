//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"errors"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mill-io/mill/internal/socket"
)

// enroll serves a duplicate of nc's descriptor and closes nc.
func (e *engine) enroll(nc net.Conn) (Conn, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, errors.New("mill: Enroll: connection has no descriptor (not a syscall.Conn)")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, err := socket.Dup(rc)
	if err != nil {
		return nil, err
	}
	var remote netip.AddrPort
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		remote = ta.AddrPort()
		remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
		e.sockopt(socket.SetNoDelay(fd, e.s.opts.tcpNoDelay))
		if e.s.opts.tcpKeepAlive > 0 {
			e.sockopt(socket.SetKeepAlive(fd, e.s.opts.tcpKeepAlive))
		}
	}
	nc.Close()
	e.bufferOptions(fd)
	c := e.newConn(fd, remote, nil)
	l := c.loop
	l.ctr.accepted.Add(1)
	if l.loop.Submit(func() { l.open(c) }) != nil {
		l.conns.Add(-1)
		unix.Close(fd)
		return nil, ErrServerClosed
	}
	return c, nil
}
