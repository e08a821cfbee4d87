//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitFd polls fd for events for up to 5s and returns the events seen.
func waitFd(t testing.TB, fd int, events int16) int16 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: events}}
		n, err := unix.Poll(pfd, 100)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if n > 0 {
			return pfd[0].Revents
		}
		if time.Now().After(deadline) {
			t.Fatalf("fd %d: no events %#x within 5s", fd, events)
		}
	}
}

// packet opens a UDP socket and closes it when the test ends.
func packet(t testing.TB, network, address string, o Options) *Listener {
	t.Helper()
	l, err := ListenPacket(network, address, o)
	if err != nil {
		t.Fatalf("ListenPacket(%s, %s): %v", network, address, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// addrPort is l's bound address.
func addrPort(t testing.TB, l *Listener) netip.AddrPort {
	t.Helper()
	switch a := l.Addr.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case *net.TCPAddr:
		return a.AddrPort()
	}
	t.Fatalf("unexpected address %T", l.Addr)
	return netip.AddrPort{}
}

// hasIPv6 reports whether the host has an IPv6 loopback.
func hasIPv6() bool {
	l, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// recvWait receives one datagram, waiting up to 5s for it.
func recvWait(t testing.TB, p *PacketIO, fd int, b []byte) (int, netip.AddrPort, bool, error) {
	t.Helper()
	for {
		n, from, trunc, err := p.RecvFrom(fd, b)
		if err != unix.EAGAIN && err != unix.EINTR {
			return n, from, trunc, err
		}
		waitFd(t, fd, unix.POLLIN)
	}
}
