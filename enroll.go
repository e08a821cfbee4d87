//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"errors"
	"net"
	"net/netip"
	"syscall"

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
	ta, tcp := nc.RemoteAddr().(*net.TCPAddr)
	if tcp {
		remote = ta.AddrPort()
	}
	nc.Close()
	e.tune(fd, tcp)
	c := e.newConn(fd, remote, nil)
	if err := c.loop.hand(c, false); err != nil {
		return nil, err
	}
	return c, nil
}
