package main

// WebSocket broadcast mode (-ws -broadcast): -conns connections, each set
// up as in the other WebSocket modes, then watched by one goroutine on a
// locked OS thread through its own epoll set (level-triggered) with raw
// non-blocking reads, so that every receipt is timestamped as soon as the
// kernel has the bytes, without 10 000 goroutines to schedule. (The Go
// runtime's netpoller watches the same sockets too; it finds no goroutine
// waiting on them and does nothing.)
//
// Broadcasts run back to back: connection 0 sends the text trigger
// "broadcast <k> ...." (-size bytes), the server sends that message to
// every connection (connection 0 included), and the next trigger goes out
// once every connection has it. Per broadcast the trigger-to-last-receipt
// time goes into the latency histogram and the last-minus-first receipt
// time into the spread one. Messages counts deliveries (broadcasts ×
// connections); a delivery that is not exactly the expected text message,
// or a broadcast not complete within -iotimeout, is an error.

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// bcastConn is one connection's receive state in broadcast mode.
type bcastConn struct {
	fd      int
	pending []byte // a partial frame carried over to the next read
	got     uint64 // last broadcast number received + 1
}

// bcastRun is the epoll side of the broadcast mode; one goroutine only.
type bcastRun struct {
	ep      int
	conns   []bcastConn
	byFd    map[int]int
	events  []unix.EpollEvent
	rbuf    []byte
	trigger net.Conn // connection 0
	size    int
}

func newBcastRun(conns []net.Conn, size int) (*bcastRun, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	b := &bcastRun{ep: ep, conns: make([]bcastConn, len(conns)), byFd: make(map[int]int, len(conns)),
		events: make([]unix.EpollEvent, 512), rbuf: make([]byte, 64<<10), trigger: conns[0], size: size}
	for i, c := range conns {
		sc, ok := c.(syscall.Conn)
		if !ok {
			b.close()
			return nil, errors.New("broadcast: connection without a file descriptor")
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			b.close()
			return nil, err
		}
		var fd int
		if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
			b.close()
			return nil, err
		}
		b.conns[i].fd = fd
		b.byFd[fd] = i
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			b.close()
			return nil, fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	return b, nil
}

func (b *bcastRun) close() { unix.Close(b.ep) }

// one runs broadcast k: it returns the time from the trigger's write to
// the last receipt and from the first receipt to the last.
func (b *bcastRun) one(k uint64, timeout time.Duration) (last, spread time.Duration, err error) {
	want := wsTriggerPayload(k, b.size)
	frame := wsAppendFrame(nil, wsOpText, want)
	t0 := time.Now()
	if err := b.trigger.SetWriteDeadline(t0.Add(timeout)); err != nil {
		return 0, 0, err
	}
	if _, err := b.trigger.Write(frame); err != nil {
		return 0, 0, fmt.Errorf("trigger write: %w", err)
	}
	deadline := t0.Add(timeout)
	var first, lastAt time.Time
	left := len(b.conns)
	for left > 0 {
		wait := time.Until(deadline)
		if wait <= 0 {
			return 0, 0, fmt.Errorf("broadcast %d: %d of %d connections still waiting after %v", k, left, len(b.conns), timeout)
		}
		n, err := unix.EpollWait(b.ep, b.events, int(min(wait, 100*time.Millisecond)/time.Millisecond)+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range b.events[:n] {
			i := b.byFd[int(ev.Fd)]
			done, err := b.drain(i, k, want)
			if err != nil {
				return 0, 0, err
			}
			if done {
				t := time.Now()
				if first.IsZero() {
					first = t
				}
				lastAt = t
				left--
			}
		}
	}
	return lastAt.Sub(t0), lastAt.Sub(first), nil
}

// drain reads connection i until EAGAIN and reports whether broadcast k's
// message has now arrived on it in full.
func (b *bcastRun) drain(i int, k uint64, want []byte) (bool, error) {
	c := &b.conns[i]
	done := false
	for {
		n, err := unix.Read(c.fd, b.rbuf)
		if err == unix.EAGAIN {
			return done, nil
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("conn %d read: %w", i, err)
		}
		if n == 0 {
			return false, fmt.Errorf("conn %d: server closed the connection", i)
		}
		data := b.rbuf[:n]
		if len(c.pending) > 0 {
			c.pending = append(c.pending, data...)
			data = c.pending
		}
		for len(data) > 0 {
			op, p, fl, err := wsParseFrame(data)
			if err != nil {
				return false, fmt.Errorf("conn %d: %w", i, err)
			}
			if fl == 0 {
				break
			}
			if op != wsOpText || !bytes.Equal(p, want) {
				return false, fmt.Errorf("conn %d: got opcode %d %.40q, want broadcast %d", i, op, p, k)
			}
			if c.got != k {
				return false, fmt.Errorf("conn %d: broadcast %d arrived twice", i, k)
			}
			c.got = k + 1
			done = true
			data = data[fl:]
		}
		c.pending = append(c.pending[:0], data...)
	}
}

// runWSBroadcast is the broadcast mode.
func runWSBroadcast(o options) Result {
	res := Result{Mode: "ws-broadcast", Addr: o.addr, Conns: o.conns, Size: o.size, Pipeline: 1}
	var errs errorLog
	cfg := o.dial
	cfg.setup = wsSetup(o)
	conns, retries, err := dialAll(cfg, o.conns)
	res.DialRetries = retries
	if err != nil {
		errs.add(err)
		errs.fill(&res)
		return res
	}
	defer closeAllReset(conns)
	res.Established = len(conns)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b, err := newBcastRun(conns, o.size)
	if err != nil {
		errs.add(err)
		errs.fill(&res)
		return res
	}
	defer b.close()
	var h, spread histogram
	k := uint64(0)
	run := func(until time.Time, measured bool) bool {
		for first := true; first || time.Now().Before(until); first = false {
			last, sp, err := b.one(k, o.ioTimeout)
			k++
			if err != nil {
				errs.add(err)
				return false
			}
			if measured {
				h.record(uint64(last))
				spread.record(uint64(sp))
				res.Broadcasts++
			}
		}
		return true
	}
	if !run(time.Now().Add(o.warmup), false) {
		errs.fill(&res)
		return res
	}
	phase("measure-start", "")
	t0 := time.Now()
	ok := run(t0.Add(o.duration), true)
	secs := time.Since(t0).Seconds()
	phase("measure-end", fmt.Sprintf("broadcasts=%d", res.Broadcasts))
	if ok {
		res.Messages = res.Broadcasts * uint64(len(conns))
		fillRates(&res, &h, secs, o.size)
		s := spread.summary()
		res.Spread = &s
	}
	errs.fill(&res)
	return res
}
