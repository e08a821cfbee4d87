//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// slowEcho echoes; a "slow\n" line keeps its loop busy a while, as a
// handler doing real work does.
type slowEcho struct {
	BuiltinHandler
	inSlow chan struct{}
}

func (h slowEcho) OnTraffic(c Conn) Action {
	b, _ := c.Next(-1)
	if string(b) == "slow\n" {
		close(h.inSlow)
		time.Sleep(200 * time.Millisecond) // the work during which the next line arrives
	}
	c.Write(b)
	return None
}

// TestDrainNeverResets: a drain (Shutdown or HandOff) that finds input
// arrived after reading stopped closes lingering, so the client reads
// every reply sent before the close and then a clean end of stream, not
// a reset; and under HandOff, a connection accepted before the drain
// whose client writes only once it has begun is answered (under
// Shutdown it is closed as idle, cleanly).
func TestDrainNeverResets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stop    func(*Server, context.Context) error
		answers bool
	}{
		{"Shutdown", (*Server).Shutdown, false},
		{"HandOff", (*Server).HandOff, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inSlow := make(chan struct{})
			s := serve(t, slowEcho{inSlow: inSlow}, "", WithLoops(1), WithLingerTimeout(300*time.Millisecond))
			fresh := dial(t, s)
			busy := dial(t, s)
			waitFor(t, "both connections open", func() bool { return s.Stats().Total.Open == 2 })
			io.WriteString(busy, "slow\n")
			<-inSlow
			io.WriteString(busy, "next\n") // arrives while the loop works: unread when the drain begins
			done := make(chan error, 1)
			go func() { done <- tc.stop(s, context.Background()) }()
			busy.SetDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(busy)
			if string(got) != "slow\n" && string(got) != "slow\nnext\n" || err != nil {
				t.Errorf("busy connection: read %q, then %v; want the reply, then a clean end of stream", got, err)
			}
			fresh.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(fresh, "hello\n")
			got, err = io.ReadAll(fresh)
			switch {
			case err != nil:
				t.Errorf("fresh connection: %v after %q; want a clean end of stream", err, got)
			case tc.answers && string(got) != "hello\n":
				t.Errorf("fresh connection under HandOff: read %q, want hello", got)
			}
			if err := recvWithin(t, done, 15*time.Second, "the shutdown"); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestHandOffServesProxyAndTLS: under HandOff, connections accepted
// before the drain that have not yet sent their PROXY header, or begun
// their TLS handshake, are served when they do, within the grace. A
// probe connection on the same loop, served once and then idle, is
// closed by the drain: its end of stream says the drain has begun.
func TestHandOffServesProxyAndTLS(t *testing.T) {
	t.Run("PROXY", func(t *testing.T) {
		s := serve(t, addrReporter(), "", WithLoops(1), WithProxyProtocol(ProxyProtocol{}))
		probe := dial(t, s)
		probe.Write(append(v1Header(t, "192.0.2.1:1", "198.51.100.1:80"), "probe"...))
		readLine(t, probe)
		c := dial(t, s)
		waitFor(t, "the connection accepted", func() bool { return s.Stats().Total.Accepted == 2 })
		done := make(chan error, 1)
		go func() { done <- s.HandOff(context.Background()) }()
		drainBegan(t, probe)
		c.Write(append(v1Header(t, "192.0.2.7:4242", "198.51.100.1:80"), "late"...))
		if got := readLine(t, c); got != "192.0.2.7:4242 198.51.100.1:80 late" {
			t.Errorf("got %q", got)
		}
		c.Close()
		if err := recvWithin(t, done, 15*time.Second, "the handoff"); err != nil {
			t.Error(err)
		}
	})
	t.Run("TLS", func(t *testing.T) {
		s := serveTLS(t, &echoHandler{}, nil, WithLoops(1))
		probe := dialTLS(t, s, nil)
		roundTrip(t, probe, []byte("probe"))
		raw := dial(t, s)
		waitFor(t, "the connection accepted", func() bool { return s.Stats().TLS.InProgress == 1 })
		done := make(chan error, 1)
		go func() { done <- s.HandOff(context.Background()) }()
		drainBegan(t, probe)
		c := tls.Client(raw, tlsClientConfig(t))
		roundTrip(t, c, []byte("late"))
		c.Close()
		if err := recvWithin(t, done, 15*time.Second, "the handoff"); err != nil {
			t.Error(err)
		}
	})
}

// drainBegan waits for the drain to close probe, a served, idle
// connection.
func drainBegan(t *testing.T, probe net.Conn) {
	t.Helper()
	probe.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := probe.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("probe read %d, %v; want the drain's end of stream", n, err)
	}
}
