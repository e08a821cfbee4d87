//go:build dragonfly || freebsd || linux || netbsd

package socket

import (
	"net"
	"net/netip"
	"strconv"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestSockaddrCodec checks that what SendTo and SendToV encode, RecvFrom
// decodes: byte order, v4-mapping and zones.
func TestSockaddrCodec(t *testing.T) {
	lo, err := net.InterfaceByName(loopbackIf())
	if err != nil {
		t.Skipf("no loopback interface: %v", err)
	}
	for _, tc := range []struct {
		family   int
		to, want string // want: what the receiver decodes
	}{
		{unix.AF_INET, "192.0.2.1:8080", "192.0.2.1:8080"},
		{unix.AF_INET, "[::ffff:192.0.2.1]:1", "192.0.2.1:1"},
		{unix.AF_INET6, "192.0.2.1:65535", "192.0.2.1:65535"},
		{unix.AF_INET6, "[2001:db8::1]:443", "[2001:db8::1]:443"},
		{unix.AF_INET6, "[fe80::1%7]:53", "[fe80::1%7]:53"},
		{unix.AF_INET6, "[fe80::1%" + lo.Name + "]:53", "[fe80::1%" + strconv.Itoa(lo.Index) + "]:53"},
	} {
		var p PacketIO
		ptr, n, err := putSockaddr((*unix.RawSockaddrInet6)(unsafe.Pointer(&p.rsa)), tc.family, netip.MustParseAddrPort(tc.to))
		if err != nil || ptr == nil {
			t.Errorf("%s: putSockaddr: %v", tc.to, err)
			continue
		}
		if got := p.sender(n); got.String() != tc.want {
			t.Errorf("%s on family %d: decoded %v, want %s", tc.to, tc.family, got, tc.want)
		}
	}
	var sa unix.RawSockaddrInet6
	if _, _, err := putSockaddr(&sa, unix.AF_INET6, netip.MustParseAddrPort("[fe80::1%nosuchif]:1")); err != unix.EINVAL {
		t.Errorf("unknown zone: %v, want EINVAL", err)
	}
	if ptr, n, err := putSockaddr(&sa, unix.AF_INET, netip.AddrPort{}); ptr != nil || n != 0 || err != nil {
		t.Errorf("zero destination: %v %d %v", ptr, n, err)
	}
	if _, _, err := putSockaddr(&sa, unix.AF_UNIX, netip.MustParseAddrPort("127.0.0.1:1")); err != unix.EAFNOSUPPORT {
		t.Errorf("AF_UNIX: %v, want EAFNOSUPPORT", err)
	}
}

// checkSendToVScratch checks that SendToV keeps no caller memory and
// refuses more buffers than sendmsg takes.
func checkSendToVScratch(t *testing.T, p *PacketIO, fd, family int, to netip.AddrPort) {
	t.Helper()
	for _, v := range p.iov[:cap(p.iov)] {
		if v.Base != nil {
			t.Fatal("SendToV kept a pointer to a caller's buffer")
		}
	}
	many := make([][]byte, iovMax+1)
	for i := range many {
		many[i] = []byte{'x'}
	}
	if _, err := p.SendToV(fd, family, many, to); err != unix.EMSGSIZE {
		t.Errorf("%d buffers: %v, want EMSGSIZE", len(many), err)
	}
	for _, v := range p.iov[:cap(p.iov)] {
		if v.Base != nil {
			t.Fatal("failed SendToV kept a pointer to a caller's buffer")
		}
	}
}
