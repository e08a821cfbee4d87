package main

// TLS: with -tls every connection is a crypto/tls client over the TCP
// connection, handshaken while connections are set up (outside the
// measured window), so the echo workloads and -idle measure TLS records.
// With -handshake the generator measures full handshakes instead: -conns
// goroutines each connect, handshake, send close_notify, wait for the
// server to close, and start over; a handshake counts once the server
// has closed (it has then processed the client's Finished and the
// close_notify after it), so the figure is completed handshakes per
// second and their latency (connect to the server's close).
//
// The client configuration is fixed so that every server does the same
// crypto: TLS -tls-version (1.3), key exchange -tls-curve (X25519), no
// session cache (every handshake is a full one; a resumed one is an error),
// certificate not verified (the servers make a throw-away self-signed
// certificate at start; the server still signs the handshake).

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// TLSInfo is what the connections negotiated (the first connection's).
type TLSInfo struct {
	Version string `json:"version"`
	Cipher  string `json:"cipher"`
	Curve   string `json:"curve"`
}

// clientConfig is the crypto/tls client configuration of -tls.
func clientConfig(version, curve string) (*tls.Config, error) {
	cfg := &tls.Config{
		ServerName:         "localhost",
		InsecureSkipVerify: true, // throw-away self-signed server certificates
		ClientSessionCache: nil,  // every handshake is a full one
	}
	switch version {
	case "1.2":
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	case "1.3":
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	default:
		return nil, fmt.Errorf("-tls-version %q: want 1.2 or 1.3", version)
	}
	switch curve {
	case "x25519":
		cfg.CurvePreferences = []tls.CurveID{tls.X25519}
	case "p256":
		cfg.CurvePreferences = []tls.CurveID{tls.CurveP256}
	case "default":
	default:
		return nil, fmt.Errorf("-tls-curve %q: want x25519, p256 or default", curve)
	}
	return cfg, nil
}

func tlsInfo(st tls.ConnectionState) *TLSInfo {
	return &TLSInfo{Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite), Curve: st.CurveID.String()}
}

// handshakeConn runs the client handshake on c within timeout and checks
// that it was a full one.
func handshakeConn(ctx context.Context, c net.Conn, cfg *tls.Config, timeout time.Duration) (*tls.Conn, error) {
	tc := tls.Client(c, cfg)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	if tc.ConnectionState().DidResume {
		return nil, errors.New("tls handshake: resumed, want a full handshake")
	}
	return tc, nil
}

// handshakeOnce connects, handshakes, sends close_notify and reads until
// the server has closed its side (the end of stream must be clean).
func handshakeOnce(d *net.Dialer, addr string, cfg *tls.Config, timeout time.Duration) (tls.ConnectionState, error) {
	var st tls.ConnectionState
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return st, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return st, err
	}
	tc, err := handshakeConn(context.Background(), c, cfg, timeout)
	if err != nil {
		return st, err
	}
	st = tc.ConnectionState()
	if err := tc.CloseWrite(); err != nil {
		return st, fmt.Errorf("close_notify: %w", err)
	}
	n, err := io.Copy(io.Discard, tc)
	if err != nil {
		return st, fmt.Errorf("waiting for the server to close: %w", err)
	}
	if n != 0 {
		return st, fmt.Errorf("server sent %d bytes of data after the handshake", n)
	}
	return st, nil
}

// runHandshake measures full handshakes: o.conns goroutines in a loop.
func runHandshake(o options) Result {
	res := Result{Mode: "handshake", Addr: o.addr, Conns: o.conns}
	var errs errorLog
	type counter struct {
		hist histogram
		n    uint64
	}
	counters := make([]counter, o.conns)
	start := time.Now().Add(o.warmup)
	end := start.Add(o.duration)
	var (
		wg     sync.WaitGroup
		infoMu sync.Mutex
	)
	for i := range counters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &net.Dialer{Timeout: 3 * time.Second}
			if len(o.dial.srcIPs) > 0 {
				d.LocalAddr = &net.TCPAddr{IP: o.dial.srcIPs[i%len(o.dial.srcIPs)]}
			}
			cnt := &counters[i]
			for time.Now().Before(end) {
				t0 := time.Now()
				st, err := handshakeOnce(d, o.addr, o.tls, o.ioTimeout)
				if err != nil {
					errs.add(fmt.Errorf("handshaker %d: %w", i, err))
					return
				}
				t1 := time.Now()
				if !t1.Before(start) && t1.Before(end) {
					cnt.hist.record(uint64(t1.Sub(t0)))
					cnt.n++
				}
				infoMu.Lock()
				if res.TLS == nil {
					res.TLS = tlsInfo(st)
				}
				infoMu.Unlock()
			}
		}()
	}
	time.Sleep(time.Until(start))
	phase("measure-start", "")
	time.Sleep(time.Until(end))
	phase("measure-end", "")
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(o.ioTimeout + 5*time.Second):
		errs.add(fmt.Errorf("handshakes still busy %v after the run ended", o.ioTimeout+5*time.Second))
	}
	var h histogram
	for i := range counters {
		h.merge(&counters[i].hist)
		res.Messages += counters[i].n
	}
	res.Established = o.conns
	res.DurationSec = o.duration.Seconds()
	res.MsgsPerSec = float64(res.Messages) / res.DurationSec
	res.Latency = Latency{
		P50: h.quantile(0.50), P90: h.quantile(0.90), P99: h.quantile(0.99),
		P999: h.quantile(0.999), Max: h.max, Mean: h.mean(),
	}
	infoMu.Lock()
	errs.fill(&res)
	infoMu.Unlock()
	return res
}
