//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestTLSLoopLatencyUnderHandshakeFlood: with about 500 new TLS
// handshakes a second hitting a one-loop server — each slowed by a
// certificate lookup that takes 2 ms, as a remote store or an RSA
// signature would — the echo round trips of a connection on the same
// loop stay within 2× of their latency without the flood. A server that
// ran handshakes on its loop would stall every connection on it for
// each one.
func TestTLSLoopLatencyUnderHandshakeFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a timing comparison: skipped in -short")
	}
	if runtime.GOMAXPROCS(0) < 2 {
		// Off the loop is not off the CPU: with one P (or one CPU) the
		// handshakes' computing and the loop take turns on it, and no
		// design keeps the loop's latency flat.
		t.Skip("one P: the handshake goroutines and the loop share it; the property needs two")
	}
	if busy, ok := foreignLoad(300 * time.Millisecond); ok && busy > 0.3 {
		// Another job's threads take turns with the loop's on the CPUs,
		// whatever runs where inside this process: a timing comparison
		// measures them. TestTLSHandshakesOffTheLoop still runs.
		t.Skipf("the machine is %.0f%% busy with other work: no latency to compare", busy*100)
	}
	cert := thePKI(t).server
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		time.Sleep(2 * time.Millisecond)
		return &cert, nil
	}}
	s := serveTLS(t, &echoHandler{}, cfg, WithLoops(1))
	c := dialTLS(t, s, nil)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	// rtt measures round trips for a while and returns their median.
	rtt := func(window time.Duration) time.Duration {
		var d []time.Duration
		b := []byte{1}
		for end := time.Now().Add(window); time.Now().Before(end); {
			start := time.Now()
			if _, err := c.Write(b); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, b); err != nil {
				t.Fatal(err)
			}
			d = append(d, time.Since(start))
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	rtt(100 * time.Millisecond) // warm up
	base := rtt(time.Second)

	// The flood's clients do as little as a client can (no certificate
	// check, no post-quantum key share), to leave the CPU to the server.
	flooder := &tls.Config{InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{tls.X25519}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var done, failed atomic.Int64
	tick := time.NewTicker(2 * time.Millisecond) // 500 a second
	defer tick.Stop()
	wg.Add(1)
	go func() {
		defer wg.Done()
		var inner sync.WaitGroup
		defer inner.Wait()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			inner.Add(1)
			go func() {
				defer inner.Done()
				hc, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", s.Addr().String(), flooder)
				if err != nil {
					failed.Add(1)
					return
				}
				done.Add(1)
				hc.Close()
			}()
		}
	}()
	waitFor(t, "the flood to get going", func() bool { return done.Load() >= 50 })
	enough := int64(250) // of the 500 a second asked for
	if raceEnabled {
		enough = 100 // the race detector makes every handshake several times dearer, on both sides
	}
	// Measure for a second, longer if the machine cannot keep up the
	// flood (a loaded CI box): the comparison needs one.
	before := done.Load()
	var flood time.Duration
	for start := time.Now(); ; {
		flood = rtt(time.Second)
		if done.Load()-before >= enough || time.Since(start) > 5*time.Second {
			break
		}
	}
	during := done.Load() - before
	close(stop)
	wg.Wait()
	t.Logf("median echo round trip %v without the flood, %v with it (%d handshakes meanwhile, %d failed)", base, flood, during, failed.Load())
	if during < enough {
		t.Skipf("only %d handshakes in 5 s: the machine is too loaded to flood the server, so there is nothing to compare", during)
	}
	// A little absolute slack: a round trip on loopback is tens of
	// microseconds, where one scheduling hiccup doubles it.
	if flood > 2*base+200*time.Microsecond {
		t.Errorf("median round trip %v under the flood, %v without: more than 2×", flood, base)
	}
}

// foreignLoad is the share of the machine's CPU time that was busy over
// d while this test waited, from /proc/stat (ok false where there is
// none).
func foreignLoad(d time.Duration) (float64, bool) {
	read := func() (busy, total uint64, ok bool) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0, false
		}
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		if len(f) < 5 || f[0] != "cpu" {
			return 0, 0, false
		}
		for i, s := range f[1:] {
			n, _ := strconv.ParseUint(s, 10, 64)
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return busy, total, true
	}
	b0, t0, ok := read()
	if !ok {
		return 0, false
	}
	time.Sleep(d) // a measurement window, not an ordering
	b1, t1, ok := read()
	if !ok || t1 == t0 {
		return 0, false
	}
	return float64(b1-b0) / float64(t1-t0), true
}

// TestTLSHandshakesOffTheLoop: the handshake, and every tls.Config
// callback in it, runs on a goroutine that is none of the server's
// loops.
func TestTLSHandshakesOffTheLoop(t *testing.T) {
	cert := thePKI(t).server
	var srv atomic.Pointer[Server] // set before any handshake, but through a socket the race detector cannot see
	onLoop := make(chan bool, 8)
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		onLoop <- srv.Load().eng.onLoop()
		return &cert, nil
	}}
	s := serveTLS(t, &echoHandler{}, cfg, WithLoops(2))
	srv.Store(s)
	for i := 0; i < 4; i++ {
		c := dialTLS(t, s, nil)
		roundTrip(t, c, []byte("x"))
		if recv(t, onLoop, "GetCertificate") {
			t.Fatal("a handshake ran on a loop")
		}
	}
}
