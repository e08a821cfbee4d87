//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func TestListenPacket(t *testing.T) {
	v6 := hasIPv6()
	for _, tc := range []struct {
		network, address string
		family           int
		v6only           int // -1: not AF_INET6
		needV6           bool
	}{
		{"udp4", "127.0.0.1:0", unix.AF_INET, -1, false},
		{"udp4", ":0", unix.AF_INET, -1, false},
		{"udp", "127.0.0.1:0", unix.AF_INET, -1, false},
		{"udp", ":0", unix.AF_INET6, 0, true},
		{"udp6", "[::1]:0", unix.AF_INET6, 1, true},
		{"udp6", ":0", unix.AF_INET6, 1, true},
	} {
		t.Run(tc.network+"/"+tc.address, func(t *testing.T) {
			if tc.needV6 && !v6 {
				t.Skip("no IPv6 on this host")
			}
			if tc.v6only == 0 && runtime.GOOS == "openbsd" {
				t.Skip("OpenBSD has no dual-stack sockets")
			}
			l := packet(t, tc.network, tc.address, Options{})
			if l.Family != tc.family {
				t.Errorf("Family = %d, want %d", l.Family, tc.family)
			}
			ua, ok := l.Addr.(*net.UDPAddr)
			if !ok {
				t.Fatalf("Addr is %T, want *net.UDPAddr", l.Addr)
			}
			if ua.Port == 0 {
				t.Errorf("Addr %v: port 0 not resolved", ua)
			}
			typ, err := unix.GetsockoptInt(l.Fd, unix.SOL_SOCKET, unix.SO_TYPE)
			if err != nil || typ != unix.SOCK_DGRAM {
				t.Errorf("SO_TYPE = %d, %v; want SOCK_DGRAM", typ, err)
			}
			if fl, _ := unix.FcntlInt(uintptr(l.Fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
				t.Error("socket is blocking")
			}
			if fl, _ := unix.FcntlInt(uintptr(l.Fd), unix.F_GETFD, 0); fl&unix.FD_CLOEXEC == 0 {
				t.Error("socket lacks close-on-exec")
			}
			if tc.v6only >= 0 {
				v, err := unix.GetsockoptInt(l.Fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
				if err != nil || v != tc.v6only {
					t.Errorf("IPV6_V6ONLY = %d, %v; want %d", v, err, tc.v6only)
				}
			}
		})
	}
}

func TestListenPacketErrors(t *testing.T) {
	for _, tc := range [][2]string{{"udp4", "[::1]:0"}, {"udp6", "127.0.0.1:0"}, {"tcp", "127.0.0.1:0"}, {"udp", "nonsense"}} {
		if l, err := ListenPacket(tc[0], tc[1], Options{}); err == nil {
			l.Close()
			t.Errorf("ListenPacket(%s, %s) succeeded", tc[0], tc[1])
		}
	}
}

func TestReusePort(t *testing.T) {
	for _, network := range []string{"udp4", "tcp4"} {
		t.Run(network, func(t *testing.T) {
			listen := func(address string, o Options) (*Listener, error) {
				if network == "udp4" {
					return ListenPacket(network, address, o)
				}
				return Listen(network, address, o)
			}
			o := Options{ReusePort: true}
			a, err := listen("127.0.0.1:0", o)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			addr := addrPort(t, a).String()
			b, err := listen(addr, o)
			if err != nil {
				t.Fatalf("second socket on %s with ReusePort: %v", addr, err)
			}
			defer b.Close()
			if v, err := unix.GetsockoptInt(b.Fd, unix.SOL_SOCKET, reusePortOpt); err != nil || v == 0 {
				t.Errorf("reuse-port option = %d, %v", v, err)
			}
			c, err := listen(addr, Options{})
			if err == nil {
				c.Close()
				t.Fatalf("third socket on %s without ReusePort bound", addr)
			}
			if !errors.Is(err, unix.EADDRINUSE) {
				t.Errorf("third socket: %v, want EADDRINUSE", err)
			}
		})
	}
}

func TestListenOptions(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		l, err := Listen("tcp4", "127.0.0.1:0", Options{ReuseAddr: reuse})
		if err != nil {
			t.Fatal(err)
		}
		v, err := unix.GetsockoptInt(l.Fd, unix.SOL_SOCKET, unix.SO_REUSEADDR)
		if err != nil || (v != 0) != reuse {
			t.Errorf("ReuseAddr %v: SO_REUSEADDR = %d, %v", reuse, v, err)
		}
		if l.Family != unix.AF_INET {
			t.Errorf("Family = %d, want AF_INET", l.Family)
		}
		if _, ok := l.Addr.(*net.TCPAddr); !ok {
			t.Errorf("Addr is %T", l.Addr)
		}
		l.Close()
	}
	if hasIPv6() && runtime.GOOS != "openbsd" {
		l, err := Listen("tcp", ":0", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if l.Family != unix.AF_INET6 {
			t.Errorf("wildcard tcp: Family = %d, want AF_INET6", l.Family)
		}
		l.Close()
	}
	path := filepath.Join(t.TempDir(), "s")
	l, err := Listen("unix", path, Options{ReuseAddr: true, ReusePort: true, BindToDevice: "lo"})
	if err != nil {
		t.Fatalf("unix listener with options (ignored): %v", err)
	}
	if l.Family != unix.AF_UNIX {
		t.Errorf("unix: Family = %d, want AF_UNIX", l.Family)
	}
	l.Close()
}
