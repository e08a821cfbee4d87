//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"
)

// udpRoundTrip sends p from c and waits for the echo.
func udpRoundTrip(c *net.UDPConn, p, buf []byte) ([]byte, error) {
	if _, err := c.Write(p); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

func dialUDP(t testing.TB, a net.Addr) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, a.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestUDPEchoManySenders(t *testing.T) {
	h := &echoHandler{}
	s := serve(t, h, "udp://127.0.0.1:0", WithLoops(2))
	if _, ok := s.Addr().(*net.UDPAddr); !ok {
		t.Fatalf("Addr() = %T, want *net.UDPAddr", s.Addr())
	}
	const senders, each = 16, 300
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			c := dialUDP(t, s.Addr())
			buf := make([]byte, 2048)
			for i := 0; i < each; i++ {
				// Sizes vary so that merged or split datagrams would show.
				p := bytes.Repeat([]byte{byte(g)}, 4+(g*each+i)%1400)
				binary.BigEndian.PutUint32(p, uint32(i))
				got, err := udpRoundTrip(c, p, buf)
				if err != nil {
					errs <- fmt.Errorf("sender %d datagram %d: %v", g, i, err)
					return
				}
				if !bytes.Equal(got, p) {
					errs <- fmt.Errorf("sender %d datagram %d: got %d bytes %x..., want %d bytes %x...",
						g, i, len(got), got[:min(8, len(got))], len(p), p[:min(8, len(p))])
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The last echo may reach its sender before the server counts it.
	waitFor(t, "the counters to settle", func() bool { return s.Stats().Total.Writes >= senders*each })
	st := s.Stats()
	if st.Total.Reads != senders*each || st.Total.Writes != senders*each {
		t.Errorf("stats: %d datagrams in, %d out; want %d each", st.Total.Reads, st.Total.Writes, senders*each)
	}
	if h.opens.Load() != 0 || h.closes.Load() != 0 {
		t.Errorf("UDP ran OnOpen %d and OnClose %d times, want none", h.opens.Load(), h.closes.Load())
	}
	if runtime.GOOS == "linux" {
		for i, ls := range st.Loops {
			if ls.Reads == 0 {
				t.Errorf("loop %d received nothing: SO_REUSEPORT should spread %d senders", i, senders)
			}
		}
	}
}

func TestUDP6AndDualStack(t *testing.T) {
	if !hasIPv6(t) {
		t.Skip("no IPv6 loopback here")
	}
	s := serve(t, &echoHandler{}, "udp://[::]:0", WithLoops(1))
	port := s.Addr().(*net.UDPAddr).Port
	for _, a := range []string{"127.0.0.1", "::1"} {
		c := dialUDP(t, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(a), uint16(port))))
		got, err := udpRoundTrip(c, []byte("hi from "+a), make([]byte, 64))
		if err != nil || string(got) != "hi from "+a {
			t.Fatalf("%s: %q, %v", a, got, err)
		}
	}
}

// udpProbe records each datagram's sender and the datagram errors, and
// answers as the datagram asks.
type udpProbe struct {
	BuiltinHandler
	mu       sync.Mutex
	senders  []string
	dgErrs   []error
	dgFrom   []string
	asyncErr chan error
	cbErr    chan error
	later    chan func()
}

func (h *udpProbe) OnTraffic(c Conn) Action {
	pc := c.(PacketConn)
	b, _ := c.Next(-1)
	h.mu.Lock()
	h.senders = append(h.senders, c.RemoteAddr().String())
	h.mu.Unlock()
	switch {
	case string(b) == "panic":
		panic("boom")
	case string(b) == "later":
		// Answer from another goroutine, after OnTraffic returned.
		to := c.RemoteAddr()
		err := c.AsyncWrite([]byte("nope"), func(_ Conn, err error) { h.cbErr <- err })
		h.asyncErr <- err
		h.later <- func() { pc.SendTo([]byte("later reply"), to) }
		return None
	case string(b) == "shutdown-ish":
		return Close // ignored for datagrams
	}
	c.Write(b)
	return None
}

func (h *udpProbe) OnDatagramError(c Conn, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dgErrs = append(h.dgErrs, err)
	h.dgFrom = append(h.dgFrom, c.RemoteAddr().String())
}

func newUDPProbe() *udpProbe {
	return &udpProbe{asyncErr: make(chan error, 4), cbErr: make(chan error, 4), later: make(chan func(), 4)}
}

func TestUDPTruncatedDatagramIsReportedNotCut(t *testing.T) {
	h := newUDPProbe()
	s := serve(t, h, "udp://127.0.0.1:0", WithLoops(1), WithReadBufferCap(512))
	c := dialUDP(t, s.Addr())
	if _, err := c.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	got, err := udpRoundTrip(c, []byte("small"), make([]byte, 2048))
	if err != nil || string(got) != "small" {
		t.Fatalf("after the oversized datagram: %q, %v", got, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.dgErrs) != 1 || !errors.Is(h.dgErrs[0], ErrDatagramTruncated) {
		t.Fatalf("OnDatagramError saw %v, want one ErrDatagramTruncated", h.dgErrs)
	}
	if h.dgFrom[0] != c.LocalAddr().String() {
		t.Errorf("truncated datagram reported from %s, want %s", h.dgFrom[0], c.LocalAddr())
	}
	if len(h.senders) != 1 {
		t.Errorf("OnTraffic ran %d times, want once (the oversized datagram must not be delivered)", len(h.senders))
	}
	if n := s.Stats().Total.Truncated; n != 1 {
		t.Errorf("Stats.Truncated = %d, want 1", n)
	}
}

func TestUDPReplyLaterWithSendTo(t *testing.T) {
	h := newUDPProbe()
	s := serve(t, h, "udp://127.0.0.1:0", WithLoops(1))
	c := dialUDP(t, s.Addr())
	if _, err := c.Write([]byte("later")); err != nil {
		t.Fatal(err)
	}
	if err := <-h.asyncErr; !errors.Is(err, ErrNoPeer) {
		t.Fatalf("AsyncWrite on a datagram conn: %v, want ErrNoPeer", err)
	}
	if err := <-h.cbErr; !errors.Is(err, ErrNoPeer) {
		t.Fatalf("its callback got %v, want ErrNoPeer", err)
	}
	(<-h.later)()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "later reply" {
		t.Fatalf("read %q, %v; want the later reply", buf[:n], err)
	}
}

func TestUDPPanicAndCloseLeaveSocketServing(t *testing.T) {
	h := newUDPProbe()
	s := serve(t, h, "udp://127.0.0.1:0", WithLoops(1))
	c := dialUDP(t, s.Addr())
	c.Write([]byte("panic"))
	c.Write([]byte("shutdown-ish"))
	got, err := udpRoundTrip(c, []byte("still here"), make([]byte, 64))
	if err != nil || string(got) != "still here" {
		t.Fatalf("%q, %v", got, err)
	}
}

func TestUDPSendToUnreachableKeepsServing(t *testing.T) {
	// Nobody listens on a closed port: the ICMP error must not stop the
	// socket.
	dead, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.LocalAddr()
	dead.Close()
	// The handler echoes and also sends every datagram to deadAddr.
	h := &funcHandler{traffic: func(c Conn) Action {
		b, _ := c.Next(-1)
		c.(PacketConn).SendTo(b, deadAddr)
		c.Write(b)
		return None
	}}
	s := serve(t, h, "udp://127.0.0.1:0", WithLoops(1))
	c := dialUDP(t, s.Addr())
	buf := make([]byte, 64)
	for i := 0; i < 20; i++ {
		got, err := udpRoundTrip(c, []byte("x"), buf)
		if err != nil || string(got) != "x" {
			t.Fatalf("round %d: %q, %v", i, got, err)
		}
	}
}

func TestUDPAndTCPOnOneServer(t *testing.T) {
	s := serve(t, &echoHandler{}, "tcp://127.0.0.1:0", WithLoops(2), WithAddrs("udp://127.0.0.1:0"))
	echoVia(t, "tcp", s.Addrs()[0].String(), "stream")
	c := dialUDP(t, s.Addrs()[1])
	got, err := udpRoundTrip(c, []byte("datagram"), make([]byte, 64))
	if err != nil || string(got) != "datagram" {
		t.Fatalf("%q, %v", got, err)
	}
}

// TestUDPNoAllocPerDatagram counts the process's allocations over many
// round trips: mill's receive, dispatch and reply, and the client's
// connected-socket Read and Write, allocate nothing per datagram.
func TestUDPNoAllocPerDatagram(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count over 2,000 round trips")
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "openbsd" {
		t.Skip("recvmsg goes through libc here and allocates the sender's address")
	}
	s := serve(t, &echoHandler{}, "udp://127.0.0.1:0", WithLoops(1))
	c := dialUDP(t, s.Addr())
	p, buf := []byte("0123456789abcdef"), make([]byte, 64)
	for i := 0; i < 100; i++ { // warm up
		if _, err := udpRoundTrip(c, p, buf); err != nil {
			t.Fatal(err)
		}
	}
	const n = 2000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		if _, err := udpRoundTrip(c, p, buf); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := float64(after.Mallocs-before.Mallocs) / n; per >= 0.5 {
		t.Fatalf("%.2f allocations per datagram round trip, want none", per)
	}
}

func TestUDPMulticast(t *testing.T) {
	group := netip.MustParseAddr("239.1.2.3")
	lo := loopbackInterface(t)
	// Does this host deliver multicast over loopback at all?
	probe, err := net.ListenMulticastUDP("udp4", lo, &net.UDPAddr{IP: group.AsSlice()})
	if err != nil {
		t.Skipf("no multicast on %s: %v", lo.Name, err)
	}
	probe.Close()

	// Two loops: every socket on the group's port would get each
	// datagram, so the server must keep one.
	datagrams := make(chan string, 16)
	h := &funcHandler{traffic: func(c Conn) Action {
		b, _ := c.Next(-1)
		select {
		case datagrams <- string(b):
		default:
		}
		return None
	}}
	s := serve(t, h, "udp4://0.0.0.0:0", WithLoops(2), WithMulticastGroup(group, lo))
	port := s.Addr().(*net.UDPAddr).Port
	c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, &net.UDPAddr{IP: group.AsSlice(), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		c.Write([]byte("to the group"))
		select {
		case got := <-datagrams:
			if got != "to the group" {
				t.Fatalf("got %q", got)
			}
			// One more datagram must reach OnTraffic exactly once.
			time.Sleep(100 * time.Millisecond) // let retries of the first arrive
			for len(datagrams) > 0 {
				<-datagrams
			}
			if _, err := c.Write([]byte("second")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the second datagram", func() bool { return len(datagrams) > 0 })
			time.Sleep(200 * time.Millisecond) // a duplicate would arrive at once
			if n := len(datagrams); n != 1 {
				t.Fatalf("one datagram to the group reached OnTraffic %d times", n)
			}
			return
		case <-tick.C:
		case <-deadline:
			t.Skip("multicast datagrams are not looped back on this host (no multicast route on lo)")
		}
	}
}

func loopbackInterface(t *testing.T) *net.Interface {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Skip(err)
	}
	for i := range ifs {
		if ifs[i].Flags&net.FlagLoopback != 0 && ifs[i].Flags&net.FlagUp != 0 {
			return &ifs[i]
		}
	}
	t.Skip("no loopback interface")
	return nil
}

func BenchmarkUDPEcho(b *testing.B) {
	s, err := NewServer(&echoHandler{}, "udp://127.0.0.1:0", WithLoops(1))
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve()
	defer shutdownB(b, s)
	c := dialUDP(b, s.Addr())
	p, buf := make([]byte, 64), make([]byte, 128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := udpRoundTrip(c, p, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func shutdownB(b *testing.B, s *Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
}
