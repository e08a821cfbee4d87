//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"bytes"
	"errors"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawPackets reports whether PacketIO uses raw system calls here, and so
// promises RecvFrom allocates nothing.
func rawPackets() bool { return runtime.GOOS != "darwin" && runtime.GOOS != "openbsd" }

func TestRecvFromSendTo(t *testing.T) {
	a := packet(t, "udp4", "127.0.0.1:0", Options{})
	b := packet(t, "udp4", "127.0.0.1:0", Options{})
	aAddr, bAddr := addrPort(t, a), addrPort(t, b)
	var pa, pb PacketIO
	buf := make([]byte, 64)

	if _, _, _, err := pb.RecvFrom(b.Fd, buf); err != unix.EAGAIN {
		t.Fatalf("RecvFrom on an empty socket: %v, want bare EAGAIN", err)
	}
	n, err := SendTo(a.Fd, a.Family, []byte("ping"), bAddr)
	if err != nil || n != 4 {
		t.Fatalf("SendTo = %d, %v", n, err)
	}
	n, from, trunc, err := recvWait(t, &pb, b.Fd, buf)
	if err != nil || n != 4 || trunc || string(buf[:n]) != "ping" {
		t.Fatalf("RecvFrom = %d %q %v %v", n, buf[:n], trunc, err)
	}
	if from != aAddr {
		t.Errorf("from = %v, want %v", from, aAddr)
	}
	// Answer the sender at the address reported.
	if _, err := SendTo(b.Fd, b.Family, []byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	n, from, _, err = recvWait(t, &pa, a.Fd, buf)
	if err != nil || string(buf[:n]) != "pong" || from != bAddr {
		t.Fatalf("reply: %q from %v, %v", buf[:n], from, err)
	}
	// An empty datagram is a datagram.
	if n, err := SendTo(a.Fd, a.Family, nil, bAddr); err != nil || n != 0 {
		t.Fatalf("empty SendTo = %d, %v", n, err)
	}
	n, from, trunc, err = recvWait(t, &pb, b.Fd, buf)
	if err != nil || n != 0 || trunc || from != aAddr {
		t.Fatalf("empty datagram: %d %v %v %v", n, from, trunc, err)
	}
	// An IPv6 destination does not suit an AF_INET socket.
	if _, err := SendTo(a.Fd, a.Family, buf[:1], netip.MustParseAddrPort("[::1]:9")); err != unix.EAFNOSUPPORT {
		t.Errorf("v6 destination on AF_INET: %v, want bare EAFNOSUPPORT", err)
	}
}

func TestRecvFromTruncated(t *testing.T) {
	a := packet(t, "udp4", "127.0.0.1:0", Options{})
	b := packet(t, "udp4", "127.0.0.1:0", Options{})
	var p PacketIO
	msg := bytes.Repeat([]byte("0123456789"), 10)
	if _, err := SendTo(a.Fd, a.Family, msg, addrPort(t, b)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, from, trunc, err := recvWait(t, &p, b.Fd, buf)
	if err != nil || n != len(buf) || !trunc || !bytes.Equal(buf, msg[:16]) {
		t.Fatalf("RecvFrom = %d %q trunc=%v %v; want 16 bytes, truncated", n, buf[:n], trunc, err)
	}
	if from != addrPort(t, a) {
		t.Errorf("from = %v", from)
	}
	// The rest of the datagram is gone.
	if _, _, _, err := p.RecvFrom(b.Fd, buf); err != unix.EAGAIN {
		t.Errorf("after truncation: %v, want EAGAIN", err)
	}
	// A zero-length buffer still takes a datagram, and reports it cut.
	if _, err := SendTo(a.Fd, a.Family, msg[:3], addrPort(t, b)); err != nil {
		t.Fatal(err)
	}
	waitFd(t, b.Fd, unix.POLLIN)
	if n, _, trunc, err := p.RecvFrom(b.Fd, nil); err != nil || n != 0 || !trunc {
		t.Errorf("RecvFrom(nil) = %d trunc=%v %v", n, trunc, err)
	}
}

func TestDualStack(t *testing.T) {
	if !hasIPv6() {
		t.Skip("no IPv6 on this host")
	}
	if runtime.GOOS == "openbsd" {
		t.Skip("OpenBSD has no dual-stack sockets")
	}
	d := packet(t, "udp", ":0", Options{})
	if d.Family != unix.AF_INET6 {
		t.Fatalf("wildcard udp socket has family %d, want AF_INET6", d.Family)
	}
	v4 := packet(t, "udp4", "127.0.0.1:0", Options{})
	port := addrPort(t, d).Port()
	var pd, p4 PacketIO
	buf := make([]byte, 64)

	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	if _, err := SendTo(v4.Fd, v4.Family, []byte("hello"), to); err != nil {
		t.Fatal(err)
	}
	n, from, _, err := recvWait(t, &pd, d.Fd, buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("RecvFrom = %q, %v", buf[:n], err)
	}
	if !from.Addr().Is4() || from != addrPort(t, v4) {
		t.Fatalf("from = %v (Is4 %v), want unmapped %v", from, from.Addr().Is4(), addrPort(t, v4))
	}
	// Reply to the 4-byte address from the AF_INET6 socket: it goes out
	// v4-mapped.
	if _, err := SendTo(d.Fd, d.Family, []byte("back"), from); err != nil {
		t.Fatalf("SendTo v4 from AF_INET6: %v", err)
	}
	n, from, _, err = recvWait(t, &p4, v4.Fd, buf)
	if err != nil || string(buf[:n]) != "back" {
		t.Fatalf("reply = %q, %v", buf[:n], err)
	}
	if from != to {
		t.Errorf("reply from %v, want %v", from, to)
	}
	// A v4-mapped destination works from the AF_INET socket too.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(netip.MustParseAddr("127.0.0.1").As16()), port)
	if _, err := SendTo(v4.Fd, v4.Family, []byte("m"), mapped); err != nil {
		t.Fatalf("SendTo %v from AF_INET: %v", mapped, err)
	}
	if n, _, _, err := recvWait(t, &pd, d.Fd, buf); err != nil || string(buf[:n]) != "m" {
		t.Fatalf("mapped: %q %v", buf[:n], err)
	}
	// And IPv6 proper.
	v6 := packet(t, "udp6", "[::1]:0", Options{})
	if _, err := SendTo(v6.Fd, v6.Family, []byte("six"), netip.AddrPortFrom(netip.IPv6Loopback(), port)); err != nil {
		t.Fatal(err)
	}
	n, from, _, err = recvWait(t, &pd, d.Fd, buf)
	if err != nil || string(buf[:n]) != "six" || from != addrPort(t, v6) {
		t.Fatalf("v6: %q from %v, %v; want from %v", buf[:n], from, err, addrPort(t, v6))
	}
}

func TestSendToV(t *testing.T) {
	for _, network := range []string{"udp4", "udp6"} {
		t.Run(network, func(t *testing.T) {
			host := "127.0.0.1:0"
			if network == "udp6" {
				if !hasIPv6() {
					t.Skip("no IPv6 on this host")
				}
				host = "[::1]:0"
			}
			a := packet(t, network, host, Options{})
			b := packet(t, network, host, Options{})
			var pa, pb PacketIO
			bufs := [][]byte{[]byte("gat"), nil, []byte("her"), {}, []byte("ed")}
			for range 3 { // the scratch space is reused
				n, err := pa.SendToV(a.Fd, a.Family, bufs, addrPort(t, b))
				if err != nil || n != 8 {
					t.Fatalf("SendToV = %d, %v", n, err)
				}
				buf := make([]byte, 64)
				n, from, _, err := recvWait(t, &pb, b.Fd, buf)
				if err != nil || string(buf[:n]) != "gathered" || from != addrPort(t, a) {
					t.Fatalf("got %q from %v, %v", buf[:n], from, err)
				}
			}
			checkSendToVScratch(t, &pa, a.Fd, a.Family, addrPort(t, b))
		})
	}
}

func TestConnectedUDPRefused(t *testing.T) {
	// A port nothing listens on: bind one, note it, close it.
	dead := packet(t, "udp4", "127.0.0.1:0", Options{})
	to := addrPort(t, dead)
	dead.Close()

	s := packet(t, "udp4", "127.0.0.1:0", Options{})
	if err := unix.Connect(s.Fd, &unix.SockaddrInet4{Port: int(to.Port()), Addr: to.Addr().As4()}); err != nil {
		t.Fatal(err)
	}
	// A zero destination sends to the connected peer.
	if _, err := SendTo(s.Fd, s.Family, []byte("anyone?"), netip.AddrPort{}); err != nil {
		t.Fatalf("SendTo connected peer: %v", err)
	}
	var p PacketIO
	buf := make([]byte, 16)
	_, _, _, err := recvWait(t, &p, s.Fd, buf)
	if err != unix.ECONNREFUSED {
		t.Fatalf("RecvFrom after ICMP port unreachable: %v, want bare ECONNREFUSED", err)
	}
}

func TestRecvFromSendToAllocs(t *testing.T) {
	if !rawPackets() {
		t.Skipf("RecvFrom allocates the sender's address on %s", runtime.GOOS)
	}
	if testing.Short() {
		t.Skip("short")
	}
	for _, network := range []string{"udp4", "udp6", "udp"} {
		t.Run(network, func(t *testing.T) {
			if network != "udp4" && !hasIPv6() {
				t.Skip("no IPv6 on this host")
			}
			host := map[string]string{"udp4": "127.0.0.1:0", "udp6": "[::1]:0", "udp": ":0"}[network]
			a := packet(t, network, host, Options{})
			b := packet(t, network, host, Options{})
			to := addrPort(t, b)
			if network == "udp" {
				// Dual-stack: send to a v4 address from the AF_INET6 socket.
				to = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), to.Port())
			}
			var pa, pb PacketIO
			msg, buf := []byte("0123456789"), make([]byte, 64)
			bufs := [][]byte{msg[:4], msg[4:]}
			allocs := testing.AllocsPerRun(200, func() {
				if _, err := SendTo(a.Fd, a.Family, msg, to); err != nil {
					t.Fatal(err)
				}
				if _, err := pa.SendToV(a.Fd, a.Family, bufs, to); err != nil {
					t.Fatal(err)
				}
				for range 2 {
					n, _, _, err := recvSpin(&pb, b.Fd, buf)
					if err != nil || n != len(msg) {
						t.Fatalf("RecvFrom = %d, %v", n, err)
					}
				}
				if _, _, _, err := pb.RecvFrom(b.Fd, buf); err != unix.EAGAIN {
					t.Fatalf("RecvFrom on empty socket: %v", err)
				}
			})
			if allocs != 0 {
				t.Errorf("SendTo+SendToV+RecvFrom: %v allocations per run, want 0", allocs)
			}
		})
	}
}

// recvSpin is RecvFrom retried while EAGAIN, for up to 5s, without
// allocating (loopback delivery is all but synchronous).
func recvSpin(p *PacketIO, fd int, b []byte) (int, netip.AddrPort, bool, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, from, trunc, err := p.RecvFrom(fd, b)
		if err != unix.EAGAIN || time.Now().After(deadline) {
			return n, from, trunc, err
		}
		runtime.Gosched()
	}
}

func BenchmarkUDPRoundTrip(b *testing.B) {
	a := packet(b, "udp4", "127.0.0.1:0", Options{})
	c := packet(b, "udp4", "127.0.0.1:0", Options{})
	aAddr, cAddr := addrPort(b, a), addrPort(b, c)
	var pa, pc PacketIO
	msg, buf := make([]byte, 64), make([]byte, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(msg)))
	for b.Loop() {
		if _, err := SendTo(a.Fd, a.Family, msg, cAddr); err != nil {
			b.Fatal(err)
		}
		n, from, _, err := pc.RecvFrom(c.Fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			n, from, _, err = recvWait(b, &pc, c.Fd, buf)
		}
		if err != nil {
			b.Fatal(err)
		}
		if _, err := SendTo(c.Fd, c.Family, buf[:n], from); err != nil {
			b.Fatal(err)
		}
		if _, _, _, err = pa.RecvFrom(a.Fd, buf); errors.Is(err, unix.EAGAIN) {
			_, _, _, err = recvWait(b, &pa, a.Fd, buf)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	_ = aAddr
}
