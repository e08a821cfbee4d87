//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// echoVia sends msg on a new connection to a and expects it back.
func echoVia(t *testing.T, network, addr, msg string) {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	expectRead(t, c, []byte(msg))
}

func hasIPv6(t *testing.T) bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func TestSeveralAddresses(t *testing.T) {
	h := &echoHandler{}
	sock := filepath.Join(t.TempDir(), "mill.sock")
	extra := []string{"unix://" + sock}
	if hasIPv6(t) {
		extra = append(extra, "tcp6://[::1]:0")
	}
	s := serve(t, h, "tcp://127.0.0.1:0", WithLoops(2), WithAddrs(extra...))
	addrs := s.Addrs()
	if len(addrs) != 1+len(extra) {
		t.Fatalf("Addrs() = %v, want %d", addrs, 1+len(extra))
	}
	if s.Addr() != addrs[0] {
		t.Fatalf("Addr() = %v, want the first of %v", s.Addr(), addrs)
	}
	for i, a := range addrs {
		for j := 0; j < 4; j++ {
			echoVia(t, a.Network(), a.String(), fmt.Sprintf("hello %d/%d via %s", i, j, a))
		}
	}
	st := s.Stats()
	if st.Total.Accepted != uint64(4*len(addrs)) {
		t.Fatalf("accepted %d, want %d", st.Total.Accepted, 4*len(addrs))
	}
	for i, ls := range st.Loops {
		if ls.Accepted == 0 {
			t.Errorf("loop %d got no connection: the balancer should spread every address's", i)
		}
	}
}

func TestReusePortEachLoopAccepts(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel spreads SO_REUSEPORT connections on Linux")
	}
	h := &echoHandler{}
	s := serve(t, h, "tcp://127.0.0.1:0", WithLoops(2), WithReusePort(true))
	if s.eng.main != nil {
		t.Fatal("WithReusePort(true) with only TCP addresses should run no main reactor")
	}
	const n = 64
	for i := 0; i < n; i++ {
		echoVia(t, "tcp", s.Addr().String(), fmt.Sprintf("conn %d", i))
	}
	st := s.Stats()
	if st.Total.Accepted != n {
		t.Fatalf("accepted %d, want %d", st.Total.Accepted, n)
	}
	for i, ls := range st.Loops {
		// 64 connections from distinct ports hash to one loop of two with
		// probability 2^-63.
		if ls.Accepted == 0 {
			t.Errorf("loop %d accepted nothing", i)
		}
	}
}

func TestReusePortWithUnixFallsBackToMainReactor(t *testing.T) {
	h := &echoHandler{}
	sock := filepath.Join(t.TempDir(), "m.sock")
	s := serve(t, h, "tcp://127.0.0.1:0", WithLoops(2), WithReusePort(true), WithAddrs("unix://"+sock))
	if s.eng.main == nil {
		t.Fatal("a Unix address needs the main reactor")
	}
	echoVia(t, "tcp", s.Addrs()[0].String(), "tcp")
	echoVia(t, "unix", sock, "unix")
}

func TestDualStackWildcard(t *testing.T) {
	if !hasIPv6(t) {
		t.Skip("no IPv6 loopback here")
	}
	h := &echoHandler{}
	s := serve(t, h, "tcp://:0")
	port := s.Addr().(*net.TCPAddr).Port
	echoVia(t, "tcp4", fmt.Sprintf("127.0.0.1:%d", port), "over IPv4")
	echoVia(t, "tcp6", fmt.Sprintf("[::1]:%d", port), "over IPv6")

	s6 := serve(t, h, "tcp6://[::]:0")
	port6 := s6.Addr().(*net.TCPAddr).Port
	echoVia(t, "tcp6", fmt.Sprintf("[::1]:%d", port6), "v6 only")
	if c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port6), time.Second); err == nil {
		c.Close()
		t.Fatal("a tcp6:// server accepted an IPv4 connection")
	}
}

// TestReuseAddrRebindsOverTimeWait: with SO_REUSEADDR (the default) a
// new server binds a port whose previous server left connections in
// TIME_WAIT; without it the bind fails.
func TestReuseAddrRebindsOverTimeWait(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TIME_WAIT bind rules differ by system")
	}
	closer := &funcHandler{traffic: func(Conn) Action { return Close }}
	first, err := NewServer(closer, "tcp://127.0.0.1:0", WithLoops(1))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- first.Serve() }()
	addr := first.Addr().String()
	// The server closes first, so its side of the connection goes to
	// TIME_WAIT.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("server did not close")
	}
	c.Close()
	shutdown(t, first)
	<-done

	if _, err := NewServer(closer, "tcp://"+addr, WithReuseAddr(false)); err == nil {
		t.Fatal("bound over TIME_WAIT without SO_REUSEADDR")
	} else if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("without SO_REUSEADDR: %v, want EADDRINUSE", err)
	}
	second := serve(t, &echoHandler{}, "tcp://"+addr)
	echoVia(t, "tcp", second.Addr().String(), "again")
}

func TestBindToDevice(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", WithBindToDevice("lo0")); err == nil {
			t.Fatal("WithBindToDevice should fail off Linux")
		}
		return
	}
	s, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", WithBindToDevice("lo"))
	if errors.Is(err, syscall.EPERM) {
		t.Skip("SO_BINDTODEVICE needs CAP_NET_RAW on this kernel")
	}
	if err != nil {
		t.Fatal(err)
	}
	shutdown(t, s)
	s = serve(t, &echoHandler{}, "tcp://127.0.0.1:0", WithBindToDevice("lo"), WithAddrs("udp://127.0.0.1:0"))
	echoVia(t, "tcp", s.Addr().String(), "bound to lo")
	if _, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", WithBindToDevice("no-such-if0")); err == nil {
		t.Fatal("binding to a missing interface should fail")
	}
}

func TestBadAddresses(t *testing.T) {
	for _, a := range []string{"udp://nocolon", "sctp://1.2.3.4:5", "unix://"} {
		if _, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", WithAddrs(a)); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("WithAddrs(%q): %v, want ErrInvalidAddress", a, err)
		}
	}
	// A failure on the second address releases the first.
	s := serve(t, &echoHandler{}, "tcp://127.0.0.1:0")
	fds := openFDs(t)
	_, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", WithAddrs("tcp://"+s.Addr().String()))
	if err == nil || !strings.Contains(err.Error(), s.Addr().String()) {
		t.Fatalf("binding a taken port: %v", err)
	}
	if n := openFDs(t); n != fds {
		t.Fatalf("open descriptors %d after a failed NewServer, want %d", n, fds)
	}
}

// shutdown shuts s down with a generous deadline.
func shutdown(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
