package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// start serves h on addrs in-process and shuts it down when the test
// ends.
func start(t testing.TB, h mill.Handler, addrs []string, loops, readBuf int, extra ...mill.Option) *mill.Server {
	t.Helper()
	s, err := newServer(h, addrs, loops, readBuf, append(extra, mill.WithLogger(zap.NewNop()))...)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != mill.ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s
}

func dial(t testing.TB, a net.Addr) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, a.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends p and returns the next datagram that comes back.
func roundTrip(c *net.UDPConn, p, buf []byte) ([]byte, error) {
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

// datagram builds sender g's i-th datagram: a header naming it, then
// bytes from a generator seeded with (g, i), so that every datagram's
// content is unique and a merged, split or misdelivered one shows. Sizes
// run from 8 bytes to about 9 KB, past the loopback MTU.
func datagram(g, i int) []byte {
	size := 8 + (g*7919+i*104729)%9000
	p := make([]byte, size)
	binary.BigEndian.PutUint32(p, uint32(g))
	binary.BigEndian.PutUint32(p[4:], uint32(i))
	r := rand.New(rand.NewPCG(uint64(g), uint64(i)))
	for j := 8; j < size; j++ {
		p[j] = byte(r.Uint32())
	}
	return p
}

func TestConcurrentSendersGetTheirOwnDatagramsBack(t *testing.T) {
	h := &echo{}
	s := start(t, h, []string{"udp://127.0.0.1:0"}, 2, 0)
	const senders, each = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialUDP("udp", nil, s.Addr().(*net.UDPAddr))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			buf := make([]byte, 64<<10)
			for i := range each {
				p := datagram(g, i)
				got, err := roundTrip(c, p, buf)
				if err != nil {
					errs <- fmt.Errorf("sender %d datagram %d: %v", g, i, err)
					return
				}
				if !bytes.Equal(got, p) {
					errs <- fmt.Errorf("sender %d datagram %d: got %d bytes starting %x, want %d bytes starting %x",
						g, i, len(got), got[:min(8, len(got))], len(p), p[:8])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A loop counts a reply once sendto has returned, which may be after
	// the sender has read it: give the counters a moment.
	st := s.Stats()
	for deadline := time.Now().Add(2 * time.Second); st.Total.Writes < senders*each && time.Now().Before(deadline); st = s.Stats() {
		time.Sleep(time.Millisecond)
	}
	if st.Total.Reads != senders*each || st.Total.Writes != senders*each {
		t.Errorf("stats: %d datagrams in, %d out; want %d each", st.Total.Reads, st.Total.Writes, senders*each)
	}
	if h.truncated.Load() != 0 || h.errors.Load() != 0 {
		t.Errorf("%d truncated, %d errors; want none", h.truncated.Load(), h.errors.Load())
	}
	// On Linux each loop has its own SO_REUSEPORT socket and the kernel
	// spreads senders over them by address; with 8 senders and 2 loops
	// one loop gets none about once in 128 runs, so this is not checked.
	for i, l := range st.Loops {
		t.Logf("loop %d (%s): %d datagrams", i, runtime.GOOS, l.Reads)
	}
}

// logBuffer is a log destination that tests can read while loops write.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestTruncatedDatagramIsReportedAndServingGoesOn(t *testing.T) {
	var logs logBuffer
	h := &echo{log: log.New(&logs, "", 0)}
	s := start(t, h, []string{"udp://127.0.0.1:0"}, 1, 256)
	c := dial(t, s.Addr())
	buf := make([]byte, 2048)

	// 256 bytes fit the read buffer exactly and come back whole.
	full := bytes.Repeat([]byte{'f'}, 256)
	if got, err := roundTrip(c, full, buf); err != nil || !bytes.Equal(got, full) {
		t.Fatalf("256-byte datagram: got %d bytes, %v", len(got), err)
	}
	// 257 do not: the datagram is dropped whole and reported, not cut.
	if _, err := c.Write(bytes.Repeat([]byte{'x'}, 257)); err != nil {
		t.Fatal(err)
	}
	// Datagrams on one socket are delivered in order, so the echo of the
	// next one proves that the oversized one was handled (and not
	// echoed: a cut copy would arrive first).
	for i := range 3 {
		p := []byte(fmt.Sprintf("still echoing %d", i))
		got, err := roundTrip(c, p, buf)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("after the oversized datagram: got %q, %v; want %q", got, err, p)
		}
	}
	if n := h.truncated.Load(); n != 1 {
		t.Errorf("OnDatagramError saw %d truncated datagrams, want 1", n)
	}
	if n := s.Stats().Total.Truncated; n != 1 {
		t.Errorf("Stats.Truncated = %d, want 1", n)
	}
	if n := s.Stats().Total.Reads; n != 4 {
		t.Errorf("%d datagrams delivered, want 4 (the oversized one must not be)", n)
	}
	if line := logs.String(); !strings.Contains(line, c.LocalAddr().String()) || !strings.Contains(line, "longer than the read buffer") {
		t.Errorf("log = %q; want a line naming the sender %s", line, c.LocalAddr())
	}
}

func TestSeveralAddresses(t *testing.T) {
	addrs := []string{"udp4://127.0.0.1:0"}
	if ln, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err == nil {
		ln.Close()
		addrs = append(addrs, "udp6://[::1]:0")
	} else {
		t.Logf("no IPv6 loopback here (%v): testing udp4 only", err)
	}
	s := start(t, &echo{}, addrs, 2, 0)
	bound := s.Addrs()
	if len(bound) != len(addrs) {
		t.Fatalf("listening on %v, want %d addresses", bound, len(addrs))
	}
	buf := make([]byte, 64)
	for _, a := range bound {
		c := dial(t, a)
		p := []byte("hello via " + a.String())
		if got, err := roundTrip(c, p, buf); err != nil || !bytes.Equal(got, p) {
			t.Errorf("%s: got %q, %v", a, got, err)
		}
	}
}

func TestSplitAddrs(t *testing.T) {
	got := splitAddrs(" 127.0.0.1:9000, udp6://[::1]:9000,,udp4://0.0.0.0:1 ")
	want := []string{"udp://127.0.0.1:9000", "udp6://[::1]:9000", "udp4://0.0.0.0:1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("splitAddrs = %q, want %q", got, want)
	}
}

// TestNoAllocPerDatagram counts the whole process's allocations over
// many round trips: mill's receive and dispatch, the handler's echo and
// the client's connected-socket Read and Write allocate nothing per
// datagram.
func TestNoAllocPerDatagram(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count over 2,000 round trips")
	}
	s := start(t, &echo{}, []string{"udp://127.0.0.1:0"}, 1, 0)
	c := dial(t, s.Addr())
	p, buf := []byte("0123456789abcdef"), make([]byte, 64)
	for range 100 { // warm up
		if _, err := roundTrip(c, p, buf); err != nil {
			t.Fatal(err)
		}
	}
	const n = 2000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		if _, err := roundTrip(c, p, buf); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := float64(after.Mallocs-before.Mallocs) / n; per >= 0.5 {
		t.Fatalf("%.2f allocations per datagram round trip, want none", per)
	}
}
