//go:build linux

package socket

import (
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// skipEPERM skips the test when the kernel wants CAP_NET_RAW for
// SO_BINDTODEVICE (before Linux 5.7).
func skipEPERM(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, unix.EPERM) {
		t.Skipf("SO_BINDTODEVICE needs CAP_NET_RAW on this kernel: %v", err)
	}
}

func TestBindToDevice(t *testing.T) {
	l, err := ListenPacket("udp4", "127.0.0.1:0", Options{BindToDevice: "lo"})
	skipEPERM(t, err)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if dev, err := unix.GetsockoptString(l.Fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE); err != nil || dev != "lo" {
		t.Errorf("SO_BINDTODEVICE = %q, %v; want lo", dev, err)
	}

	tl, err := Listen("tcp4", "127.0.0.1:0", Options{ReuseAddr: true, BindToDevice: "lo"})
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	fd, err := Connect("tcp4", addrPort(t, tl), "", Options{BindToDevice: "lo"})
	if fd < 0 {
		t.Fatalf("Connect bound to lo: %v", err)
	}
	defer unix.Close(fd)
	if dev, err := unix.GetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE); err != nil || dev != "lo" {
		t.Errorf("connecting socket: SO_BINDTODEVICE = %q, %v; want lo", dev, err)
	}
	if err := finishConnect(t, fd, err); err != nil {
		t.Fatal(err)
	}

	if l, err := ListenPacket("udp4", "127.0.0.1:0", Options{BindToDevice: "nosuchdev0"}); err == nil {
		l.Close()
		t.Error("bound to a device that does not exist")
	}
	if fd, err := Connect("tcp4", netip.MustParseAddrPort("127.0.0.1:1"), "", Options{BindToDevice: "nosuchdev0"}); fd != -1 || err == nil {
		t.Errorf("Connect with a device that does not exist = %d, %v", fd, err)
	}
}
