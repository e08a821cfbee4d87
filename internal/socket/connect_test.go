//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// finishConnect waits for a Connect under way and returns its outcome.
func finishConnect(t *testing.T, fd int, err error) error {
	t.Helper()
	if err != unix.EINPROGRESS {
		return err
	}
	waitFd(t, fd, unix.POLLOUT)
	return Err(fd)
}

// acceptWait accepts one connection on l, waiting up to 5s.
func acceptWait(t *testing.T, l *Listener) int {
	t.Helper()
	for {
		fd, _, err := Accept(l.Fd)
		if err == nil {
			return fd
		}
		if err != unix.EAGAIN && err != unix.EINTR {
			t.Fatalf("accept: %v", err)
		}
		waitFd(t, l.Fd, unix.POLLIN)
	}
}

func TestConnectTCP(t *testing.T) {
	for _, tc := range []struct{ network, listen string }{
		{"tcp", "127.0.0.1:0"},
		{"tcp4", "127.0.0.1:0"},
		{"tcp6", "[::1]:0"},
		{"tcp", "[::1]:0"},
	} {
		t.Run(tc.network+"/"+tc.listen, func(t *testing.T) {
			if tc.listen[0] == '[' && !hasIPv6() {
				t.Skip("no IPv6 on this host")
			}
			l, err := Listen(tc.network, tc.listen, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			fd, err := Connect(tc.network, addrPort(t, l), "", Options{})
			if fd < 0 {
				t.Fatalf("Connect: %v", err)
			}
			defer unix.Close(fd)
			if err := finishConnect(t, fd, err); err != nil {
				t.Fatalf("connect: %v", err)
			}
			if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
				t.Error("connected socket is blocking")
			}
			if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
				t.Error("connected socket lacks close-on-exec")
			}
			sfd := acceptWait(t, l)
			defer unix.Close(sfd)
			if _, err := Write(fd, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			waitFd(t, sfd, unix.POLLIN)
			buf := make([]byte, 8)
			if n, err := Read(sfd, buf); err != nil || string(buf[:n]) != "hi" {
				t.Fatalf("read %q, %v", buf[:n], err)
			}
		})
	}
}

func TestConnectRefused(t *testing.T) {
	l, err := Listen("tcp4", "127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	to := addrPort(t, l)
	l.Close()
	fd, err := Connect("tcp", to, "", Options{})
	if fd >= 0 {
		defer unix.Close(fd)
		err = finishConnect(t, fd, err)
	} else {
		var se *os.SyscallError
		if !errors.As(err, &se) {
			t.Errorf("failed Connect returned %T, want *os.SyscallError", err)
		}
	}
	if !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("connect to a closed port: %v, want ECONNREFUSED", err)
	}
}

func TestConnectErrors(t *testing.T) {
	v4 := netip.MustParseAddrPort("127.0.0.1:1")
	v6 := netip.MustParseAddrPort("[::1]:1")
	mapped := netip.AddrPortFrom(netip.AddrFrom16(v4.Addr().As16()), 1)
	for _, tc := range []struct {
		network string
		to      netip.AddrPort
		path    string
		errno   unix.Errno
	}{
		{"tcp4", v6, "", unix.EAFNOSUPPORT},
		{"tcp6", v4, "", unix.EAFNOSUPPORT},
		{"tcp6", mapped, "", unix.EAFNOSUPPORT},
		{"tcp", netip.AddrPort{}, "", unix.EINVAL},
		{"unix", v4, "", unix.EINVAL},
		{"unix", netip.AddrPort{}, filepath.Join(t.TempDir(), "nobody"), unix.ENOENT},
		{"udp4", v6, "", unix.EAFNOSUPPORT},
		{"sctp", v4, "", 0},
	} {
		fd, err := Connect(tc.network, tc.to, tc.path, Options{})
		if fd != -1 || err == nil {
			if fd >= 0 {
				unix.Close(fd)
			}
			t.Errorf("Connect(%s, %v, %q) = %d, %v; want -1 and an error", tc.network, tc.to, tc.path, fd, err)
			continue
		}
		var se *os.SyscallError
		if tc.errno != 0 && (!errors.As(err, &se) || !errors.Is(err, tc.errno)) {
			t.Errorf("Connect(%s, %v, %q): %v (%T), want *os.SyscallError with %v", tc.network, tc.to, tc.path, err, err, tc.errno)
		}
	}
}

func TestConnectUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sock")
	l, err := Listen("unix", path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fd, err := Connect("unix", netip.AddrPort{}, path, Options{BindToDevice: "ignored"})
	if fd < 0 {
		t.Fatalf("Connect unix: %v", err)
	}
	defer unix.Close(fd)
	if err := finishConnect(t, fd, err); err != nil {
		t.Fatal(err)
	}
	sfd := acceptWait(t, l)
	defer unix.Close(sfd)
	if _, err := Write(sfd, []byte("yo")); err != nil {
		t.Fatal(err)
	}
	waitFd(t, fd, unix.POLLIN)
	buf := make([]byte, 8)
	if n, err := Read(fd, buf); err != nil || string(buf[:n]) != "yo" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}

func TestDup(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	defer srv.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := Dup(rc)
	c.Close() // the duplicate keeps the connection open
	if err != nil {
		t.Fatalf("Dup: %v", err)
	}
	defer unix.Close(fd)
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
		t.Error("duplicate lacks close-on-exec")
	}
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
		t.Fatal("duplicate is blocking")
	}
	if _, err := Read(fd, make([]byte, 1)); err != unix.EAGAIN {
		t.Errorf("read on the idle duplicate: %v, want EAGAIN", err)
	}
	if _, err := Write(fd, []byte("dup")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := srv.Read(buf); err != nil || string(buf) != "dup" {
		t.Fatalf("peer read %q, %v", buf, err)
	}
	if _, err := srv.Write([]byte("ack")); err != nil {
		t.Fatal(err)
	}
	waitFd(t, fd, unix.POLLIN)
	if n, err := Read(fd, buf); err != nil || string(buf[:n]) != "ack" {
		t.Fatalf("read on duplicate %q, %v", buf[:n], err)
	}

	// A closed connection's RawConn refuses.
	if _, err := Dup(rc); err == nil {
		t.Error("Dup of a closed conn succeeded")
	}
}

// TestConnectUDP: a datagram socket connects at once and exchanges
// datagrams with its peer alone.
func TestConnectUDP(t *testing.T) {
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	fd, err := Connect("udp", to, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := SendTo(fd, unix.AF_INET, []byte("hi"), netip.AddrPort{}); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 8)
	n, from, err := peer.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("peer read %q, %v", buf[:n], err)
	}
	if _, err := peer.WriteToUDPAddrPort([]byte("back"), from); err != nil {
		t.Fatal(err)
	}
	var io PacketIO
	for i := 0; i < 500; i++ {
		n, src, _, err := io.RecvFrom(fd, buf)
		if err == unix.EAGAIN {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		if err != nil || string(buf[:n]) != "back" || src != to {
			t.Fatalf("RecvFrom: %q from %v, %v", buf[:n], src, err)
		}
		return
	}
	t.Fatal("no reply")
}
