//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"crypto/tls"
	"io"
	"net"
	"slices"
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
