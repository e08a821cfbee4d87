//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// joinOrSkip joins group, skipping the test when the host cannot (no
// multicast-capable interface, no route for the group).
func joinOrSkip(t *testing.T, l *Listener, group netip.Addr, ifi *net.Interface) {
	t.Helper()
	err := JoinGroup(l.Fd, l.Family, group, ifi)
	if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENETUNREACH) {
		name := "<nil>"
		if ifi != nil {
			name = ifi.Name
		}
		t.Skipf("cannot join %s on interface %s here: %v", group, name, err)
	}
	if err != nil {
		t.Fatalf("JoinGroup(%s): %v", group, err)
	}
}

func TestJoinGroup4(t *testing.T) {
	group := netip.MustParseAddr("224.0.0.251")
	l := packet(t, "udp4", "0.0.0.0:0", Options{})
	joinOrSkip(t, l, group, nil)
	if err := SetMulticastLoopback(l.Fd, l.Family, true); err != nil {
		t.Fatal(err)
	}
	// Send to the group from the member itself: with loopback on, the
	// copy comes back.
	to := netip.AddrPortFrom(group, addrPort(t, l).Port())
	if _, err := SendTo(l.Fd, l.Family, []byte("mc"), to); err != nil {
		if errors.Is(err, unix.ENETUNREACH) || errors.Is(err, unix.EHOSTUNREACH) {
			t.Skipf("no route for %s: %v", group, err)
		}
		t.Fatal(err)
	}
	var p PacketIO
	buf := make([]byte, 8)
	n, from, _, err := recvWait(t, &p, l.Fd, buf)
	if err != nil || string(buf[:n]) != "mc" || from.Port() != to.Port() {
		t.Fatalf("multicast loopback: %q from %v, %v", buf[:n], from, err)
	}

	// Named interface: loopback may lack IFF_MULTICAST.
	if lo, err := net.InterfaceByName(loopbackIf()); err == nil {
		l2 := packet(t, "udp4", "0.0.0.0:0", Options{})
		joinOrSkip(t, l2, group, lo)
	}
}

func TestJoinGroup4On6(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("IPv4 groups on AF_INET6 sockets are a Linux feature")
	}
	if !hasIPv6() {
		t.Skip("no IPv6 on this host")
	}
	l := packet(t, "udp", ":0", Options{})
	joinOrSkip(t, l, netip.MustParseAddr("224.0.0.251"), nil)
}

func TestJoinGroup6(t *testing.T) {
	if !hasIPv6() {
		t.Skip("no IPv6 on this host")
	}
	lo, err := net.InterfaceByName(loopbackIf())
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	l := packet(t, "udp6", "[::]:0", Options{})
	joinOrSkip(t, l, netip.MustParseAddr("ff02::fb"), lo)
	// An IPv6 group does not suit an AF_INET socket.
	l4 := packet(t, "udp4", "0.0.0.0:0", Options{})
	if err := JoinGroup(l4.Fd, l4.Family, netip.MustParseAddr("ff02::fb"), lo); !errors.Is(err, unix.EAFNOSUPPORT) {
		t.Errorf("v6 group on AF_INET socket: %v, want EAFNOSUPPORT", err)
	}
	if err := JoinGroup(l.Fd, l.Family, netip.MustParseAddr("2001:db8::1"), nil); err == nil {
		t.Error("joined a unicast address")
	}
}

func TestSetMulticastLoopback(t *testing.T) {
	l := packet(t, "udp4", "127.0.0.1:0", Options{})
	for _, on := range []bool{false, true} {
		if err := SetMulticastLoopback(l.Fd, l.Family, on); err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS == "linux" {
			v, err := unix.GetsockoptInt(l.Fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP)
			if err != nil || (v != 0) != on {
				t.Errorf("IP_MULTICAST_LOOP = %d, %v; want %v", v, err, on)
			}
		}
	}
	if !hasIPv6() {
		return
	}
	l6 := packet(t, "udp6", "[::1]:0", Options{})
	for _, on := range []bool{false, true} {
		if err := SetMulticastLoopback(l6.Fd, l6.Family, on); err != nil {
			t.Fatal(err)
		}
		v, err := unix.GetsockoptInt(l6.Fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP)
		if err != nil || (v != 0) != on {
			t.Errorf("IPV6_MULTICAST_LOOP = %d, %v; want %v", v, err, on)
		}
	}
}

// loopbackIf is the loopback interface's name.
func loopbackIf() string {
	if runtime.GOOS == "linux" {
		return "lo"
	}
	return "lo0"
}
