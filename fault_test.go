//go:build linux

package mill

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"
)

// ---------------------------------------------------------------------
// EMFILE at accept
// ---------------------------------------------------------------------

// The server of TestAcceptEMFILE runs in a child process (this test
// binary, re-run with emfileServerEnv set to the descriptor limit), so
// that lowering RLIMIT_NOFILE does not starve the test process itself.
const (
	emfileServerEnv  = "MILL_TEST_EMFILE_SERVER"
	emfileAddrPrefix = "mill-emfile-server "
)

// lowerFDLimit is how a helper process starts: the descriptor limit its
// parent chose is in the environment variable env (without it, the test
// was run by hand and skips), and it lowers RLIMIT_NOFILE to it. It
// returns the limit.
func lowerFDLimit(t *testing.T, env, parent string) uint64 {
	t.Helper()
	spec := os.Getenv(env)
	if spec == "" {
		t.Skip("helper process of " + parent)
	}
	limit, err := strconv.ParseUint(spec, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	rl.Cur = limit
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	return limit
}

// TestHelperProcessEMFILE is the child of TestAcceptEMFILE; run by hand it
// skips. It lowers its descriptor limit, starts an echo server with the
// default logger (JSON warnings on stderr), prints its address and its
// open descriptor count, and serves until its standard input closes.
func TestHelperProcessEMFILE(t *testing.T) {
	lowerFDLimit(t, emfileServerEnv, "TestAcceptEMFILE")
	// A JSON logger like the old default, for the parent to parse.
	jsonLog := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.Lock(os.Stderr), zap.WarnLevel))
	s, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", WithLoops(2), WithLogger(jsonLog))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	fmt.Printf("%s%s %d\n", emfileAddrPrefix, s.Addr(), openFDs(t))
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal("Shutdown:", err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatal("Serve:", err)
	}
}

// logLine is what the default logger writes, as far as we need it.
type logLine struct {
	Level string  `json:"level"`
	TS    float64 `json:"ts"`
	Msg   string  `json:"msg"`
	Error string  `json:"error"`
	// Backoff is the pause, in seconds (zap's production encoding).
	Backoff float64 `json:"backoff"`
}

// time is when the line was logged.
func (l logLine) time() time.Time { return time.Unix(0, int64(l.TS*float64(time.Second))) }

// childLog collects a child process's standard error line by line.
type childLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *childLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *childLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// pauses returns the "accept failed; pausing" warnings logged so far.
func (l *childLog) pauses() []logLine {
	var out []logLine
	for _, s := range l.all() {
		var ll logLine
		if json.Unmarshal([]byte(s), &ll) == nil && ll.Msg == "accept failed; pausing" {
			out = append(out, ll)
		}
	}
	return out
}

// procCPU returns the user+system CPU time a process has used so far.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which may hold spaces), which is in
	// parentheses: state is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		t.Fatalf("short /proc/%d/stat: %q", pid, b)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad /proc/%d/stat: %q", pid, b)
	}
	const userHZ = 100 // clock ticks per second as /proc reports them (USER_HZ)
	return time.Duration(ut+st) * time.Second / userHZ
}

// echoOnce writes one byte and waits up to d for it to come back.
func echoOnce(c net.Conn, b byte, d time.Duration) error {
	c.SetDeadline(time.Now().Add(d))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte{b}); err != nil {
		return err
	}
	return expectByte(c, b, d)
}

// expectByte waits up to d for the byte b.
func expectByte(c net.Conn, b byte, d time.Duration) error {
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	var got [1]byte
	if _, err := io.ReadFull(c, got[:]); err != nil {
		return err
	}
	if got[0] != b {
		return fmt.Errorf("read %q, want %q", got[0], b)
	}
	return nil
}

// TestAcceptEMFILE runs an echo server limited to 64 descriptors and
// opens connections until it can accept no more. While it is saturated it
// must keep serving the connections it has, spend (almost) no CPU on the
// listener it cannot drain, and log the failure at most once a second;
// once descriptors free up it must accept again within about a second
// (the longest back-off).
func TestAcceptEMFILE(t *testing.T) {
	const (
		limit      = 64
		probeWait  = 300 * time.Millisecond // an accepted connection echoes far sooner
		cpuWindow  = 2 * time.Second
		cpuBudget  = cpuWindow / 20 // 5% of a core
		resumeWait = 1500 * time.Millisecond
	)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessEMFILE$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), emfileServerEnv+"="+strconv.Itoa(limit),
		// Under -race, exit at once rather than after the default 1 s.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var elog childLog
	var outMu sync.Mutex
	var outRest []string
	addrc := make(chan string, 1)
	var readers sync.WaitGroup
	readers.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			elog.add(sc.Text())
		}
	})
	readers.Go(func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), emfileAddrPrefix); ok {
				addrc <- s
				continue
			}
			outMu.Lock()
			outRest = append(outRest, sc.Text())
			outMu.Unlock()
		}
		close(addrc)
	})
	var conns []net.Conn // every client connection, closed before the child stops
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		stdin.Close() // the server shuts down with our connections open
		// (closing twice is harmless)
		done := make(chan struct{})
		go func() { readers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("server process did not exit; killing it")
			cmd.Process.Kill()
			<-done
		}
		for _, c := range conns {
			c.Close()
		}
		if err := cmd.Wait(); err != nil {
			outMu.Lock()
			t.Errorf("server process: %v\nstdout: %s\nstderr: %s", err,
				strings.Join(outRest, "\n"), strings.Join(elog.all(), "\n"))
			outMu.Unlock()
		}
	}
	t.Cleanup(stop)

	var addr string
	var childFDs int
	select {
	case s, ok := <-addrc:
		if !ok {
			t.Fatalf("server process wrote no address; stderr: %s", strings.Join(elog.all(), "\n"))
		}
		if _, err := fmt.Sscanf(s, "%s %d", &addr, &childFDs); err != nil {
			t.Fatalf("server process said %q: %v", s, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server process did not start")
	}

	// probe dials a connection and reports whether it is served (it
	// echoes b) or waits in the listen backlog because accept fails: it
	// gets no echo, and the server has logged an accept failure since the
	// previous probe began. (Once the server holds as many descriptors as
	// it may, the accept after the last success already fails, with
	// EMFILE rather than EAGAIN. The warning is rate-limited, but a
	// failure that is not logged at once is within about a second.)
	var lastProbe time.Time
	probe := func(b byte) (net.Conn, bool) {
		t.Helper()
		since := lastProbe
		lastProbe = time.Now()
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal("dial:", err)
		}
		conns = append(conns, c)
		err = echoOnce(c, b, probeWait)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if eventually(3*time.Second, func() bool {
				p := elog.pauses()
				return len(p) > 0 && p[len(p)-1].time().After(since)
			}) {
				return c, false
			}
			err = expectByte(c, b, 5*time.Second) // just slow?
		}
		if err != nil {
			t.Fatalf("a connection got no echo, yet the server logged no accept failure: %v", err)
		}
		return c, true
	}

	// Fill the server up, until a connection stays in the backlog.
	var served []net.Conn
	var pending []net.Conn
	for i := 0; i < 2*limit && len(pending) == 0; i++ {
		if c, ok := probe('a'); ok {
			served = append(served, c)
		} else {
			pending = append(pending, c)
		}
	}
	if len(pending) == 0 {
		t.Fatalf("the server accepted %d connections with a limit of %d descriptors", len(served), limit)
	}
	if len(served) < 10 {
		t.Fatalf("only %d connections served before accept failed", len(served))
	}
	t.Logf("limit %d descriptors (%d in use at start): %d connections served, then EMFILE", limit, childFDs, len(served))
	// Two more wait in the backlog, so that it stays non-empty.
	for range 2 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write([]byte{'a'}); err != nil {
			t.Fatal(err)
		}
		pending = append(pending, c)
	}

	early := served[0]
	if err := echoOnce(early, 'b', 5*time.Second); err != nil {
		t.Fatalf("an established connection stopped echoing while accept fails: %v", err)
	}

	// Saturated and otherwise idle: the server must not spin on the
	// readable listener. (The sleep is the measuring window.)
	pid := cmd.Process.Pid
	cpu0, t0 := procCPU(t, pid), time.Now()
	time.Sleep(cpuWindow)
	cpu, el := procCPU(t, pid)-cpu0, time.Since(t0)
	t.Logf("server CPU while saturated: %v in %v", cpu, el.Round(time.Millisecond))
	if cpu > cpuBudget {
		t.Errorf("server used %v of CPU in %v while unable to accept (budget %v): it spins on the listener", cpu, el.Round(time.Millisecond), cpuBudget)
	}
	if err := echoOnce(early, 'c', 5*time.Second); err != nil {
		t.Fatalf("an established connection stopped echoing while accept fails: %v", err)
	}
	for _, c := range pending {
		if err := expectByte(c, 'a', time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a connection beyond the limit was served (%v): the test did not saturate the server", err)
		}
	}
	waitFor(t, "the server to log an accept failure", func() bool { return len(elog.pauses()) > 0 })

	// Stay saturated until 3 s after the first failure: a back-off capped
	// at 1 s reaches the cap after 1.275 s (5 ms doubling), while an
	// uncapped one would by then be waiting 2.56 s, and resuming below
	// would take too long. (A timed wait, not a synchronisation.)
	first := elog.pauses()[0].time()
	time.Sleep(time.Until(first.Add(3 * time.Second)))

	// Free some descriptors: the backlog and a new connection must be
	// served within the longest back-off plus slack.
	free := served[len(served)-8:]
	t1 := time.Now()
	for _, c := range free {
		c.Close()
	}
	fresh, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conns = append(conns, fresh)
	if err := echoOnce(fresh, 'd', 5*time.Second); err != nil {
		t.Fatalf("no connection served after descriptors were freed: %v", err)
	}
	resumed := time.Since(t1)
	t.Logf("accepting again %v after descriptors were freed", resumed.Round(time.Millisecond))
	if resumed > resumeWait {
		t.Errorf("accepting resumed %v after descriptors were freed, want within %v", resumed.Round(time.Millisecond), resumeWait)
	}
	for i, c := range pending {
		if err := expectByte(c, 'a', 5*time.Second); err != nil {
			t.Errorf("backlogged connection %d not served after resuming: %v", i, err)
		}
	}
	if err := echoOnce(early, 'e', 5*time.Second); err != nil {
		t.Errorf("early connection after resuming: %v", err)
	}

	// The warning: at most once a second, and about the right thing.
	pauses := elog.pauses()
	t.Logf("%d \"accept failed; pausing\" warnings", len(pauses))
	for i, p := range pauses {
		if p.Level != "warn" || !strings.Contains(p.Error, "too many open files") {
			t.Errorf("warning %d: level %q error %q, want warn and EMFILE", i, p.Level, p.Error)
		}
		if b := time.Duration(p.Backoff * float64(time.Second)); b < 5*time.Millisecond || b > time.Second {
			t.Errorf("warning %d: back-off %v, want 5ms to 1s", i, b)
		}
		if i > 0 {
			// A little slack for the time between the logger's check and
			// the timestamp the encoder takes.
			if gap := time.Duration((p.TS - pauses[i-1].TS) * float64(time.Second)); gap < 990*time.Millisecond {
				t.Errorf("warnings %d and %d only %v apart, want at most one a second", i-1, i, gap)
			}
		}
	}
	for _, s := range elog.all() {
		var ll logLine
		if json.Unmarshal([]byte(s), &ll) != nil || ll.Msg != "accept failed; pausing" {
			t.Errorf("unexpected output on the server's stderr: %s", s)
		}
	}

	// Saturate it again and shut it down while accepting is paused: it
	// must exit cleanly (Shutdown returns, Serve returns ErrServerClosed,
	// no goroutine left), and close the connections it has.
	saturated := false
	for i := 0; i < limit && !saturated; i++ {
		_, ok := probe('f')
		saturated = !ok
	}
	if !saturated {
		t.Fatal("could not saturate the server again")
	}
	stdin.Close() // shut down now: the server closes our connections
	early.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := early.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("after the server shut down, a client read %d bytes, %v; want EOF", n, err)
	}
	stop() // the exit status tells whether the shutdown went well
}

// ---------------------------------------------------------------------
// Writing to a peer that reset the connection
// ---------------------------------------------------------------------

// resetHandler echoes, except that on "wrt!" or "blk!" it reports the
// conn on ready and stalls its loop until release is closed (so the test
// can reset the peer while the loop cannot notice), then on "wrt!" writes
// a reply and reports Write's error. It keeps every conn by the peer's
// address and reports every OnClose.
type resetHandler struct {
	BuiltinHandler
	ready    chan Conn
	release  chan struct{}
	writeErr chan error
	closed   chan closeReport

	mu    sync.Mutex
	conns map[string]Conn
}

type closeReport struct {
	remote string
	err    error
}

func newResetHandler() *resetHandler {
	return &resetHandler{
		ready:    make(chan Conn, 1),
		release:  make(chan struct{}),
		writeErr: make(chan error, 1),
		closed:   make(chan closeReport, 1000),
		conns:    map[string]Conn{},
	}
}

func (h *resetHandler) OnOpen(c Conn) ([]byte, Action) {
	h.mu.Lock()
	h.conns[c.RemoteAddr().String()] = c
	h.mu.Unlock()
	return nil, None
}

func (h *resetHandler) conn(client net.Conn) Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conns[client.LocalAddr().String()]
}

func (h *resetHandler) OnTraffic(c Conn) Action {
	b, _ := c.Next(-1)
	switch string(b) {
	case "wrt!", "blk!":
		h.ready <- c
		select {
		case <-h.release:
		case <-time.After(10 * time.Second): // never hang the loop for good
		}
		if string(b) == "wrt!" {
			_, err := c.Write([]byte("a reply to a peer that is gone"))
			h.writeErr <- err
		}
		return None
	}
	c.Write(b)
	return None
}

func (h *resetHandler) OnClose(c Conn, err error) Action {
	h.closed <- closeReport{c.RemoteAddr().String(), err}
	return None
}

// closeErrOf waits for the OnClose of the connection whose client is c.
func (h *resetHandler) closeErrOf(t *testing.T, c net.Conn) error {
	t.Helper()
	want := c.LocalAddr().String()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r := <-h.closed:
			if r.remote == want {
				return r.err
			}
			t.Errorf("unexpected OnClose for %s: %v", r.remote, r.err)
		case <-timeout:
			t.Fatalf("no OnClose for %s", want)
		}
	}
}

// resetClient closes c with SO_LINGER 0, so the peer gets an RST.
func resetClient(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// awaitReset waits until the server's socket fd has taken the RST.
// Only while the loop owning fd is stalled may another goroutine look at
// it.
func awaitReset(t *testing.T, fd int) {
	t.Helper()
	waitFor(t, "the RST to reach the server socket", func() bool {
		ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			t.Fatal(err)
		}
		return ti.State == unix.BPF_TCP_CLOSE
	})
}

// isResetErr reports whether err is the system-call error of a write to,
// or read from, a connection the peer reset.
func isResetErr(err error) bool {
	var se *os.SyscallError
	return errors.As(err, &se) && (errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET))
}

// TestWriteToResetPeer writes to connections whose peer has reset them,
// from OnTraffic and with AsyncWrite, while the loop has not yet read the
// reset: the write must fail with EPIPE or ECONNRESET, OnClose must get an
// error, SIGPIPE must not kill the process (a write that returns EPIPE
// raises it), and other connections must not notice.
func TestWriteToResetPeer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		consume   bool          // read SO_ERROR first, so the write gets EPIPE (and raises SIGPIPE)
		wantErrno syscall.Errno // 0: EPIPE or ECONNRESET
	}{
		{name: "Write/ECONNRESET"},
		{name: "Write/EPIPE", consume: true, wantErrno: syscall.EPIPE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newResetHandler()
			s := serve(t, h, "", WithLoops(1))
			bystander := dial(t, s)
			if err := echoOnce(bystander, 'x', 10*time.Second); err != nil {
				t.Fatal(err)
			}
			victim := dial(t, s)
			victim.Write([]byte("wrt!"))
			sc := recv(t, h.ready, "the handler to see the request")
			resetClient(t, victim)
			awaitReset(t, sc.Fd())
			if tc.consume {
				if e, err := unix.GetsockoptInt(sc.Fd(), unix.SOL_SOCKET, unix.SO_ERROR); err != nil || syscall.Errno(e) != syscall.ECONNRESET {
					t.Fatalf("SO_ERROR = %v, %v; want ECONNRESET", syscall.Errno(e), err)
				}
			}
			close(h.release)
			werr := <-h.writeErr
			t.Logf("Write: %v", werr)
			if !isResetErr(werr) || tc.wantErrno != 0 && !errors.Is(werr, tc.wantErrno) {
				t.Errorf("Write to a reset peer returned %v (%T), want an *os.SyscallError with EPIPE or ECONNRESET", werr, werr)
			}
			if cerr := h.closeErrOf(t, victim); !isResetErr(cerr) {
				t.Errorf("OnClose got %v, want the write's error", cerr)
			}
			if err := echoOnce(bystander, 'y', 10*time.Second); err != nil {
				t.Errorf("bystander: %v", err)
			}
			if err := echoOnce(dial(t, s), 'z', 10*time.Second); err != nil {
				t.Errorf("new connection: %v", err)
			}
			waitFor(t, "the victim to be gone", func() bool { return s.CountConnections() == 2 })
		})
	}

	t.Run("AsyncWrite", func(t *testing.T) {
		h := newResetHandler()
		s := serve(t, h, "", WithLoops(1)) // victim and staller share the loop
		victim := dial(t, s)
		if err := echoOnce(victim, 'x', 10*time.Second); err != nil {
			t.Fatal(err)
		}
		vc := h.conn(victim)
		if vc == nil {
			t.Fatal("no server conn for the victim")
		}
		staller := dial(t, s)
		staller.Write([]byte("blk!"))
		recv(t, h.ready, "the handler to see the request")
		// The loop is stalled inside the staller's OnTraffic: reset the
		// victim and queue a write to it, which the loop runs before it
		// polls again and so before it can read the reset.
		resetClient(t, victim)
		awaitReset(t, vc.Fd())
		cbErr := make(chan error, 1)
		if err := vc.AsyncWrite([]byte("a reply to a peer that is gone"), func(_ Conn, err error) { cbErr <- err }); err != nil {
			t.Fatal("AsyncWrite:", err)
		}
		close(h.release)
		werr := recv(t, cbErr, "the AsyncWrite callback")
		t.Logf("AsyncWrite: %v", werr)
		if !isResetErr(werr) {
			t.Errorf("AsyncWrite to a reset peer reported %v (%T), want an *os.SyscallError with EPIPE or ECONNRESET", werr, werr)
		}
		if cerr := h.closeErrOf(t, victim); !isResetErr(cerr) {
			t.Errorf("OnClose got %v, want the write's error", cerr)
		}
		if err := echoOnce(staller, 'y', 10*time.Second); err != nil {
			t.Errorf("staller: %v", err)
		}
		waitFor(t, "the victim to be gone", func() bool { return s.CountConnections() == 1 })
	})

	// Without staging: peers that send and reset at once, racing the
	// server's echo. Whichever the server meets first, the read or the
	// write, it must close with the reset error.
	t.Run("Storm", func(t *testing.T) {
		const n = 200
		h := newResetHandler()
		s := serve(t, h, "", WithLoops(2))
		var wg sync.WaitGroup
		var failed atomic.Int32
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < n; i += 8 {
					c, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
					if err == nil {
						_, err = c.Write([]byte("ping"))
						c.(*net.TCPConn).SetLinger(0)
						c.Close()
					}
					if err != nil {
						if failed.Add(1) <= 3 {
							t.Errorf("client %d: %v", i, err)
						}
					}
				}
			})
		}
		wg.Wait()
		// A connection the kernel completed may still wait in the listen
		// queue, uncounted: a last one, accepted after all of them (one
		// listener, accepted in order), says when every one of them has
		// been handed to a loop, and so counted until its OnClose ran.
		sentinel := dial(t, s)
		if err := echoOnce(sentinel, 's', 10*time.Second); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "every reset connection to close", func() bool { return s.CountConnections() == 1 })
		h.mu.Lock()
		opens := len(h.conns) - 1 // not the sentinel
		h.mu.Unlock()
		closes, bad := 0, 0
		for closes < opens {
			r := <-h.closed // each was sent before its connection stopped counting
			closes++
			if !isResetErr(r.err) {
				if bad++; bad <= 3 {
					t.Errorf("OnClose(%s) got %v, want EPIPE or ECONNRESET", r.remote, r.err)
				}
			}
		}
		if n := len(h.closed); n != 0 {
			t.Errorf("%d OnClose calls beyond the %d opens", n, opens)
		}
		t.Logf("%d reset connections: %d opened, %d closed, %d with an unexpected error", n, opens, closes, bad)
		if opens != closes {
			t.Errorf("%d opens, %d closes", opens, closes)
		}
	})
}

// ---------------------------------------------------------------------
// Half-close
// ---------------------------------------------------------------------

// bigReply answers its first request with a fixed, large response.
type bigReply struct {
	BuiltinHandler
	resp   []byte
	closed chan error
}

func (h *bigReply) OnTraffic(c Conn) Action {
	if b, _ := c.Peek(-1); string(b) != "get" {
		return None // wait for the whole request
	}
	c.Discard(-1)
	c.Write(h.resp)
	return None
}

func (h *bigReply) OnClose(_ Conn, err error) Action {
	h.closed <- err
	return None
}

// TestHalfCloseLargeResponse sends a request and then shuts down its
// sending side (a FIN), as HTTP/1.0-style and many RPC clients do, and
// reads the response to EOF. The response (8 MiB) exceeds by far what the
// socket buffers take, so most of it is still queued in mill when the FIN
// arrives: all of it must still reach the client before the server
// closes, and OnClose must see nil. A peer that resets the connection
// while the response drains must close it with the reset error.
//
// At e994344 (before half-close support) this failed: on the FIN,
// conn.read called closeNow(nil), which flushed once, best effort, and
// closed the descriptor, so the client saw a clean EOF after a few
// hundred KiB.
func TestHalfCloseLargeResponse(t *testing.T) {
	t.Parallel()
	resp := make([]byte, 8<<20)
	for i := 0; i < len(resp); i += 4096 {
		copy(resp[i:], fmt.Sprintf("%08x", i)) // an offset every 4 KiB, so no shift goes unnoticed
	}
	// Small socket buffers on both sides (the kernel doubles them) keep
	// what the kernel can hold far below the response, whatever the
	// system's TCP memory settings.
	const sockBuf = 64 << 10
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, sockBuf)
		}); err != nil {
			return err
		}
		return serr
	}}
	request := func(t *testing.T, h *bigReply) (*Server, *net.TCPConn) {
		s := serve(t, h, "", WithLoops(1), WithSocketSendBuffer(sockBuf))
		nc, err := d.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		c := nc.(*net.TCPConn)
		if _, err := c.Write([]byte("get")); err != nil {
			t.Fatal(err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		return s, c
	}
	closeErr := func(t *testing.T, h *bigReply) error {
		return recv(t, h.closed, "OnClose")
	}
	gone := func(t *testing.T, s *Server) {
		waitFor(t, "no connections", func() bool { return s.CountConnections() == 0 })
		if n := s.eng.pool.Outstanding(); n != 0 {
			t.Errorf("%d pooled buffers outstanding with no connection", n)
		}
	}

	t.Run("WholeResponse", func(t *testing.T) {
		got := make([]byte, len(resp))
		for round := range 2 {
			h := &bigReply{resp: resp, closed: make(chan error, 1)}
			s, c := request(t, h)
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			switch n, err := io.ReadFull(c, got); {
			case err == io.ErrUnexpectedEOF || err == io.EOF:
				t.Fatalf("round %d: the client got %d of %d response bytes, then EOF", round, n, len(resp))
			case err != nil:
				t.Fatalf("round %d: reading the response: %v (after %d bytes)", round, err, n)
			}
			if !bytes.Equal(got, resp) {
				t.Fatalf("round %d: response corrupted", round)
			}
			if n, err := c.Read(got[:1]); n != 0 || err != io.EOF {
				t.Fatalf("round %d: read %d bytes, %v after the response; want EOF", round, n, err)
			}
			if err := closeErr(t, h); err != nil {
				t.Errorf("round %d: OnClose(%v), want nil", round, err)
			}
			gone(t, s)
		}
	})

	t.Run("PeerResetsWhileDraining", func(t *testing.T) {
		h := &bigReply{resp: resp, closed: make(chan error, 1)}
		s, c := request(t, h)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 64<<10)); err != nil {
			t.Fatal(err)
		}
		resetClient(t, c)
		if err := closeErr(t, h); !isResetErr(err) {
			t.Errorf("OnClose(%v), want EPIPE or ECONNRESET", err)
		}
		gone(t, s)
	})
}
