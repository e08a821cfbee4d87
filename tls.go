package mill

import (
	"crypto/tls"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// TLS in mill is the standard library's crypto/tls, not a fork: the
// handshake runs on a goroutine of its own (never on a loop), and once it
// is done the same *tls.Conn encrypts and decrypts records on the
// connection's loop. See docs/tls.md for the design.

// Defaults for the TLS options.
const (
	// DefaultTLSHandshakeTimeout bounds a TLS handshake, from when the
	// connection is accepted (or connected) to the handshake's end.
	DefaultTLSHandshakeTimeout = 10 * time.Second
	// DefaultTLSMaxHandshakes is how many handshakes may be under way on
	// goroutines at once (see WithTLSHandshakeLimits).
	DefaultTLSMaxHandshakes = 1024
)

var (
	// ErrTLSHandshake is matched (with errors.Is) by the error of every
	// failed TLS handshake. The error also matches its cause:
	// crypto/tls's error (a tls.AlertError, a
	// *tls.CertificateVerificationError, ...), ErrTLSHandshakeTimeout,
	// ErrNotTLS, ErrTLSOverload, or the socket's error.
	ErrTLSHandshake = errors.New("mill: TLS handshake failed")
	// ErrTLSHandshakeTimeout fails a handshake that did not finish
	// within its timeout (WithTLSHandshakeTimeout). Its Timeout method
	// reports true.
	ErrTLSHandshakeTimeout error = timeoutError("mill: TLS handshake timeout")
	// ErrNotTLS fails a connection to a TLS address whose first bytes
	// are not a TLS ClientHello (plaintext HTTP, say).
	ErrNotTLS = errors.New("mill: not a TLS ClientHello")
	// ErrTLSOverload fails a handshake refused because as many
	// handshakes as WithTLSHandshakeLimits allows were under way and as
	// many more waited.
	ErrTLSOverload = errors.New("mill: too many TLS handshakes")
)

// TLSStats counts TLS handshakes.
type TLSStats struct {
	Handshakes uint64      // handshakes that succeeded
	Resumed    uint64      // of those, the ones that resumed a session (no certificate, no signature)
	InProgress int64       // handshakes under way now: reading the ClientHello, running, or waiting to run
	Waiting    int64       // of those, the ones waiting for a goroutine (see WithTLSHandshakeLimits)
	Failed     TLSFailures // handshakes that failed, by cause
}

// TLSFailures counts failed TLS handshakes by cause. Every one also
// counts in CloseCounts.TLS, except Shutdown's, which count in
// CloseCounts.Shutdown.
type TLSFailures struct {
	NotTLS   uint64 // the first bytes were not a TLS ClientHello (ErrNotTLS)
	Timeout  uint64 // not done within the handshake timeout (ErrTLSHandshakeTimeout)
	Overload uint64 // refused: too many handshakes under way and waiting (ErrTLSOverload)
	PeerGone uint64 // the peer closed or reset the connection
	Error    uint64 // crypto/tls refused it: a protocol, version or certificate error, the peer's alert
	Shutdown uint64 // cut short by a shutdown
}

// Total is the number of failed handshakes.
func (f TLSFailures) Total() uint64 {
	return f.NotTLS + f.Timeout + f.Overload + f.PeerGone + f.Error + f.Shutdown
}

// handshakeError wraps cause as the error of a failed handshake.
func handshakeError(cause error) error {
	return fmt.Errorf("%w: %w", ErrTLSHandshake, cause)
}

// WithTLS serves TLS with cfg on addrs, which must be among the server's
// addresses as they were written (NewServer's and WithAddrs'); with no
// addrs, on every stream address. Other addresses stay plaintext, served
// by the same loops, and WithTLS may be given once per address, with a
// different configuration each.
//
// cfg is used as crypto/tls uses it, for every connection on the
// address, so everything it offers works: TLS 1.2 and 1.3, ALPN
// (NextProtos), certificate selection (GetCertificate,
// GetConfigForClient) and reloading without a restart (GetCertificate
// returning the latest certificate), client certificates (ClientAuth),
// session tickets. Do not modify cfg after passing it; its callbacks run
// on handshake goroutines, never on a loop, so they may block.
//
// A connection's handler hears nothing until its handshake succeeds:
// OnOpen then runs with Conn.TLS reporting what was negotiated, and
// every Conn method works on the plaintext. A handshake that fails, or
// does not finish within WithTLSHandshakeTimeout, closes the connection
// without OnOpen or OnClose; it is counted in Stats.TLS by cause and
// logged at most once a second.
func WithTLS(cfg *tls.Config, addrs ...string) Option {
	return optionFunc(func(o *options) {
		o.tls = append(o.tls, tlsAddrs{cfg: cfg, addrs: addrs})
	})
}

// WithTLSHandshakeTimeout bounds every TLS handshake, from when the
// connection is accepted (for a Client, connected) to the handshake's
// end; one that takes longer fails with ErrTLSHandshakeTimeout. The
// default is DefaultTLSHandshakeTimeout; 0 means no bound, which lets a
// client that connects and sends nothing hold its connection forever
// (WithIdleTimeout does not run before OnOpen).
func WithTLSHandshakeTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.tlsTimeout = d; o.tlsTimeoutSet = true })
}

// WithTLSHandshakeLimits bounds the work handshakes do. A handshake
// begins once a whole ClientHello has arrived (read on the loop, so a
// client that connects and sends nothing costs no goroutine); it then
// runs on a goroutine of its own. At most maxHandshakes run at once; the
// ones past that wait, up to maxHandshakes more, for a running one to
// end, and a handshake past both fails with ErrTLSOverload. Of the
// running handshakes, at most cpu compute at once (signing, key
// exchange); one waiting for its peer's next flight does not count, so
// slow peers do not hold up fast ones, but one inside a tls.Config
// callback does, blocked or not (a certificate fetched over the
// network, say): leave room for those in cpu. The defaults are
// DefaultTLSMaxHandshakes and runtime.GOMAXPROCS(0) at NewServer; both
// must be > 0.
func WithTLSHandshakeLimits(maxHandshakes, cpu int) Option {
	return optionFunc(func(o *options) { o.tlsMax, o.tlsCPU = maxHandshakes, cpu })
}

// tlsAddrs is one WithTLS.
type tlsAddrs struct {
	cfg   *tls.Config
	addrs []string
}

// validateTLS checks the TLS options against the server's addresses and
// returns each TLS address's configuration.
func (o *options) validateTLS(addrs []string) (map[string]*tls.Config, error) {
	if o.tlsMax <= 0 || o.tlsCPU <= 0 {
		return nil, fmt.Errorf("mill: WithTLSHandshakeLimits(%d, %d): want both > 0", o.tlsMax, o.tlsCPU)
	}
	if len(o.tls) == 0 {
		return nil, nil
	}
	if len(addrs) == 0 {
		return nil, errors.New("mill: WithTLS is for servers; a Client dials TLS with DialTLS")
	}
	out := make(map[string]*tls.Config)
	for _, t := range o.tls {
		if t.cfg == nil {
			return nil, errors.New("mill: WithTLS(nil, ...): want a *tls.Config")
		}
		if len(t.cfg.Certificates) == 0 && t.cfg.GetCertificate == nil && t.cfg.GetConfigForClient == nil {
			return nil, errors.New("mill: WithTLS: the tls.Config has no Certificates, GetCertificate or GetConfigForClient")
		}
		list, err := streamAddrs("WithTLS", t.addrs, addrs)
		if err != nil {
			return nil, err
		}
		for _, a := range list {
			if out[a] != nil {
				return nil, fmt.Errorf("mill: WithTLS(..., %q): the address has TLS already", a)
			}
			out[a] = t.cfg
		}
	}
	return out, nil
}

func defaultTLSCPU() int { return runtime.GOMAXPROCS(0) }
