package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// dialConfig controls how connections are set up. Dials run at most conc at a
// time so the server's accept backlog is never flooded, and each failed dial is
// retried with exponential backoff; the whole setup is bounded by timeout.
type dialConfig struct {
	addr    string
	conc    int
	retries int
	timeout time.Duration
	srcIPs  []net.IP // optional local addresses, used round-robin
	// tls, if set, makes every connection a TLS client, handshaken (a
	// full handshake) before setup runs.
	tls *tls.Config
	// setup, if set, runs on each new connection (e.g. a handshake echo).
	setup func(i int, c net.Conn) error
}

func parseSrcIPs(s string) ([]net.IP, error) {
	if s == "" {
		return nil, nil
	}
	var ips []net.IP
	for _, f := range strings.Split(s, ",") {
		ip := net.ParseIP(strings.TrimSpace(f))
		if ip == nil {
			return nil, fmt.Errorf("bad source address %q", f)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

// dialAll opens n connections. It returns them in index order together with
// the number of retried dials, or the first error after all retries failed.
func dialAll(cfg dialConfig, n int) ([]net.Conn, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	conns := make([]net.Conn, n)
	var (
		retries  atomic.Int64
		next     atomic.Int64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	conc := max(1, min(cfg.conc, n))
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dialOne(ctx, cfg, i, &retries)
				if err != nil {
					fail(fmt.Errorf("conn %d: %w", i, err))
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("connection setup exceeded %v", cfg.timeout)
	}
	if firstErr != nil {
		closeAll(conns)
		return nil, retries.Load(), firstErr
	}
	return conns, retries.Load(), nil
}

func dialOne(ctx context.Context, cfg dialConfig, i int, retries *atomic.Int64) (net.Conn, error) {
	d := net.Dialer{Timeout: 3 * time.Second}
	if len(cfg.srcIPs) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: cfg.srcIPs[i%len(cfg.srcIPs)]}
	}
	backoff := 5 * time.Millisecond
	var lastErr error
	for attempt := 0; attempt <= cfg.retries; attempt++ {
		if attempt > 0 {
			retries.Add(1)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil, lastErr
			}
			backoff = min(2*backoff, 500*time.Millisecond)
		}
		c, err := d.DialContext(ctx, "tcp", cfg.addr)
		if err != nil {
			lastErr = err
			continue
		}
		if cfg.tls != nil {
			tc, err := handshakeConn(ctx, c, cfg.tls, 10*time.Second)
			if err != nil {
				c.Close()
				lastErr = err
				continue
			}
			c = tc
		}
		if cfg.setup != nil {
			if err := cfg.setup(i, c); err != nil {
				c.Close()
				var me mismatchError
				if errors.As(err, &me) {
					return nil, err
				}
				lastErr = err
				continue
			}
		}
		return c, nil
	}
	return nil, lastErr
}

// connTLSInfo is what the first connection negotiated (nil: plaintext).
func connTLSInfo(conns []net.Conn) *TLSInfo {
	if len(conns) == 0 {
		return nil
	}
	if tc, ok := conns[0].(*tls.Conn); ok {
		return tlsInfo(tc.ConnectionState())
	}
	return nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}
