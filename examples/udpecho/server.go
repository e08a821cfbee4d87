package main

import (
	"errors"
	"log"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mill-io/mill"
)

// echo sends every datagram straight back to its sender. mill calls
// OnTraffic once per datagram with a PacketConn for the socket that
// received it: c.Next(-1) is the whole datagram (it aliases the loop's
// read buffer, so nothing is copied) and c.Write sends it back as one
// datagram to c.RemoteAddr(). Neither allocates.
type echo struct {
	mill.BuiltinHandler
	log *log.Logger

	truncated atomic.Uint64 // datagrams dropped for being longer than the read buffer
	errors    atomic.Uint64 // other receive errors, and failed replies

	mu      sync.Mutex // guards lastLog and quiet
	lastLog time.Time
	quiet   int // reports left out since lastLog
}

func (h *echo) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1) // the whole datagram; valid until we return
	if _, err := c.Write(b); err != nil {
		// The reply could not be sent (ENOBUFS, a firewall's EPERM, ...).
		// The socket carries on; so do we.
		h.errors.Add(1)
		h.report("reply to %s failed: %v", c.RemoteAddr(), err)
	}
	return mill.None
}

// OnDatagramError hears about datagrams the socket could not deliver:
// one longer than the read buffer (mill.ErrDatagramTruncated: dropped
// whole, never handed to OnTraffic cut short), or an error the socket
// reported on receive. c.RemoteAddr() is the sender, where known. (ICMP
// errors for our replies, such as port unreachable, do not come here:
// the kernel reports them only to connected sockets, and a server's are
// not.)
func (h *echo) OnDatagramError(c mill.Conn, err error) {
	if errors.Is(err, mill.ErrDatagramTruncated) {
		h.truncated.Add(1)
		h.report("datagram from %s dropped: longer than the read buffer (-read-buffer)", c.RemoteAddr())
		return
	}
	h.errors.Add(1)
	h.report("datagram error (from %v): %v", c.RemoteAddr(), err)
}

// report logs at most one line a second, so that a flood of bad
// datagrams cannot flood the log. It runs on the event loops, which
// must not block for long: the lock is held only to decide.
func (h *echo) report(format string, args ...any) {
	if h.log == nil {
		return
	}
	h.mu.Lock()
	now := time.Now()
	if now.Sub(h.lastLog) < time.Second {
		h.quiet++
		h.mu.Unlock()
		return
	}
	quiet := h.quiet
	h.lastLog, h.quiet = now, 0
	h.mu.Unlock()
	if quiet > 0 {
		format += " (and %d more reports in the last second)"
		args = append(args, quiet)
	}
	h.log.Printf(format, args...)
}

// splitAddrs turns the -addr flag into mill addresses: a comma-separated
// list, where an address without a scheme is UDP (mill would read a bare
// host:port as TCP).
func splitAddrs(s string) []string {
	var addrs []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if !strings.Contains(a, "://") {
			a = "udp://" + a
		}
		addrs = append(addrs, a)
	}
	return addrs
}

// newServer creates the echo server on addrs (at least one), with loops
// event loops (0: one per CPU) and a read buffer of readBuf bytes (0:
// mill's default, 64 KiB), the longest datagram delivered. Extra mill
// options come last.
func newServer(h mill.Handler, addrs []string, loops, readBuf int, extra ...mill.Option) (*mill.Server, error) {
	if len(addrs) == 0 {
		return nil, errors.New("no address to listen on")
	}
	opts := []mill.Option{mill.WithLoops(loops), mill.WithAddrs(addrs[1:]...)}
	if readBuf > 0 {
		opts = append(opts, mill.WithReadBufferCap(readBuf))
	}
	return mill.NewServer(h, addrs[0], append(opts, extra...)...)
}
