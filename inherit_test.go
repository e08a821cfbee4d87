//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill/internal/socket"
)

// TestWithListeners: a server on a listener made with Go's net package
// (closed by its owner once NewServer returns), with TLS on it by its
// name.
func TestWithListeners(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	name := "tcp://" + ln.Addr().String()
	s, err := NewServer(&echoHandler{}, "", WithListeners(ln), WithTLS(tlsServerConfig(t), name), WithLogger(zap.NewNop()))
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Shutdown(context.Background())
	<-s.Ready()
	if !s.IsReady() {
		t.Error("IsReady false once Ready")
	}
	if got := s.Addr().String(); got != strings.TrimPrefix(name, "tcp://") {
		t.Errorf("Addr %s, want %s", got, name)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Addr().String(), tlsClientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, []byte("over an adopted listener"))
	s.MarkNotReady()
	if s.IsReady() {
		t.Error("IsReady true after MarkNotReady")
	}

	if _, err := NewServer(&echoHandler{}, ""); err == nil {
		t.Error("NewServer with neither an address nor listeners: want an error")
	}
	f, _ := os.CreateTemp(t.TempDir(), "x")
	defer f.Close()
	if _, err := NewServer(&echoHandler{}, "", WithListenerFiles(f)); err == nil {
		t.Error("WithListenerFiles of a plain file: want an error")
	}
}

// TestListenerFilesHandOff: a server hands its per-loop SO_REUSEPORT
// sockets, by name, to a successor with fewer loops, then shuts down;
// clients that keep connecting throughout are all served, by one or the
// other, and none is refused or reset.
func TestListenerFilesHandOff(t *testing.T) {
	if !socket.ReusePortSpreads {
		t.Skip("the system does not spread connections over SO_REUSEPORT sockets")
	}
	old := serve(t, answer([]byte("old")), "", WithReusePort(true), WithLoops(2))
	files, err := old.ListenerFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || !strings.HasSuffix(files[0].Name(), "#0/2") || !strings.HasSuffix(files[1].Name(), "#1/2") {
		t.Fatalf("files %v, %v: want two per-loop sockets named #0/2 and #1/2", files[0].Name(), files[len(files)-1].Name())
	}
	successor, err := NewServer(answer([]byte("new")), "", WithListenerFiles(files...), WithLoops(1), WithLogger(zap.NewNop()))
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	serr := make(chan error, 1)
	go func() { serr <- successor.Serve() }()
	defer func() {
		successor.Shutdown(context.Background())
		<-serr
	}()
	<-successor.Ready()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	var failures []error
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				reply, err := askOnce(old.Addr().String())
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					counts[reply]++
				}
				mu.Unlock()
			}
		}()
	}
	waitFor(t, "both servers answering", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return counts["old"] > 20 && counts["new"] > 20
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := old.HandOff(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	afterOld := counts["new"]
	mu.Unlock()
	waitFor(t, "the successor serving alone", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return counts["new"] > afterOld+200
	})
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d connections failed across the handoff, first: %v", len(failures), counts["old"]+counts["new"]+len(failures), failures[0])
	}
	t.Logf("served %d by the old server, %d by its successor", counts["old"], counts["new"])
}

// askOnce connects, sends a byte and reads the answer until the server
// closes.
func askOnce(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("?")); err != nil {
		return "", err
	}
	b := make([]byte, 3)
	if _, err := io.ReadFull(c, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// systemdChildEnv makes the test binary a server on the sockets systemd
// (systemd-socket-activate) passed it: see runSystemdChild.
const systemdChildEnv = "MILL_TEST_SYSTEMD_CHILD"

// TestSystemdSocketActivation runs the test binary under Debian's
// systemd-socket-activate, which binds the address, waits for the first
// connection and then starts the binary with the socket (LISTEN_FDS): a
// mill server on SystemdListeners serves that connection and the next.
func TestSystemdSocketActivation(t *testing.T) {
	tool, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		if os.Getenv("MILL_REQUIRE_TOOLS") != "" {
			t.Fatal("systemd-socket-activate not found (Debian package systemd)")
		}
		t.Skip("systemd-socket-activate not found (Debian package systemd); skipped")
	}
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	const name = "web" // systemd's names take no ':' (LISTEN_FDNAMES separates with it)
	cmd := exec.Command(tool, "-l", addr, "--fdname="+name, "-E", systemdChildEnv+"="+name, os.Args[0], "-test.run=^$")
	var stderr strings.Builder
	cmd.Stderr = &stderr // the tool's chatter; shown if the test fails
	defer func() {
		if t.Failed() {
			t.Logf("systemd-socket-activate and the child said:\n%s", stderr.String())
		}
	}()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close() // the child stops when its stdin closes
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	var reply string
	if !eventually(10*time.Second, func() bool {
		reply, err = askOnce(addr)
		return err == nil
	}) {
		t.Fatalf("no answer on the activated socket: %v", err)
	}
	if want := "sd:"; reply != want {
		t.Errorf("reply %q, want %q", reply, want)
	}
	if reply, err = askOnce(addr); err != nil || reply != "sd:" {
		t.Errorf("second connection: %q, %v", reply, err)
	}
}

// runSystemdChild serves, on the sockets systemd passed, "sd:" to every
// connection, until stdin closes; it checks that the socket came with the
// name the parent gave it.
func runSystemdChild() int {
	files, err := SystemdListeners()
	if err != nil || len(files) != 1 || files[0].Name() != os.Getenv(systemdChildEnv) {
		fmt.Fprintln(os.Stderr, "SystemdListeners:", files, err)
		return 1
	}
	s, err := NewServer(answer([]byte("sd:")), "", WithListenerFiles(files...), WithLogger(zap.NewNop()))
	files[0].Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		s.Shutdown(context.Background())
	}()
	if err := s.Serve(); !errors.Is(err, ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestHandOffUnixSocket: a server on a Unix socket hands it on; its
// HandOff leaves the socket file to the successor, which keeps serving
// there.
func TestHandOffUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.sock")
	old := serve(t, answer([]byte("old")), "unix://"+path)
	files, err := old.ListenerFiles()
	if err != nil {
		t.Fatal(err)
	}
	successor, err := NewServer(answer([]byte("new")), "", WithListenerFiles(files...), WithLogger(zap.NewNop()))
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	go successor.Serve()
	defer successor.Shutdown(context.Background())
	<-successor.Ready()
	if err := old.HandOff(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		t.Fatalf("after the handoff: %v (the socket file must stay the successor's)", err)
	}
	defer c.Close()
	c.Write([]byte("?"))
	b := make([]byte, 3)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "new" {
		t.Fatalf("read %q, %v", b, err)
	}
}

// TestInheritedNamesAndMisuse: an inherited socket named as systemd
// names them ("web", no address) is among "every stream address" for
// WithProxyProtocol; nil files and listeners are errors, not panics;
// sockets of one per-loop group must agree.
func TestInheritedNamesAndMisuse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	named := renamed(t, f, "web")
	s, err := NewServer(addrReporter(), "", WithListenerFiles(named), WithProxyProtocol(ProxyProtocol{}), WithLogger(zap.NewNop()))
	f.Close()
	named.Close()
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Shutdown(context.Background())
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(append(v1Header(t, "192.0.2.7:4242", "198.51.100.1:80"), "hi"...))
	if got := readLine(t, c); got != "192.0.2.7:4242 198.51.100.1:80 hi" {
		t.Errorf("got %q: the PROXY policy did not reach the socket named web", got)
	}

	for _, opt := range []Option{WithListenerFiles(nil), WithListeners(nil)} {
		if _, err := NewServer(&echoHandler{}, "", opt); err == nil {
			t.Error("a nil file or listener: want an error")
		}
	}
	a, _ := net.Listen("tcp", "127.0.0.1:0")
	b, _ := net.Listen("tcp", "127.0.0.1:0")
	defer a.Close()
	defer b.Close()
	fa, _ := a.(*net.TCPListener).File()
	fb, _ := b.(*net.TCPListener).File()
	defer fa.Close()
	defer fb.Close()
	mixed := []*os.File{renamed(t, fa, "x#0/2"), renamed(t, fb, "x#1/2")}
	defer mixed[0].Close()
	defer mixed[1].Close()
	if _, err := NewServer(&echoHandler{}, "", WithListenerFiles(mixed...)); err == nil {
		t.Error("one per-loop group on two ports: want an error")
	}
}

// renamed is a duplicate of f's descriptor under another name (a file
// of its own: two *os.File must not share one descriptor).
func renamed(t *testing.T, f *os.File, name string) *os.File {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var nfd int
	var derr error
	rc.Control(func(fd uintptr) { nfd, derr = syscall.Dup(int(fd)) })
	if derr != nil {
		t.Fatal(derr)
	}
	return os.NewFile(uintptr(nfd), name)
}
