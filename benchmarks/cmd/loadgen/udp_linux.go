//go:build linux

package main

// UDP mode (-udp): -conns connected UDP sockets ("senders"), each keeping
// -pipeline datagrams of -size bytes in flight, driven by one goroutine
// on one locked OS thread with its own epoll set and raw non-blocking
// system calls (recvmmsg/sendmmsg), so that per datagram the generator
// costs about one receive and one send in the kernel and no scheduler
// work: the Go runtime's netpoller and goroutine switches would make it
// the bottleneck.
//
// Every datagram carries the sender id and a sequence number (the
// pattern's 12-byte header) and a body depending on both, and each echo
// is verified in full. An echo of a sequence number that was never sent,
// a duplicate, a corrupted, truncated or over-long echo, or one from
// another sender is a hard error (the sender stops, the run fails).
//
// Loss: loopback UDP keeps a sender's datagrams in order (one socket per
// 4-tuple on the server, served in turn), so when the echo of seq s
// arrives while older datagrams of the same sender are still awaited,
// those were dropped: they are given up at once ("lost"). A datagram
// whose echo is more than -losstimeout overdue is given up too (tail
// loss: with a window of 1 every loss is one, and it stalls its sender
// for at most -losstimeout). A given-up datagram is not resent; a new
// sequence number refills its place in the window. An echo that arrives
// after its datagram was given up is verified and counted as "late"; one
// from behind the window of a sender that never gave a datagram up can
// only be a duplicate.

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// exitGrace is how long runUDP lingers, idle, after the run.
const exitGrace = 100 * time.Millisecond

const (
	slotPending uint8 = iota + 1 // sent, echo awaited
	slotDone                     // echoed
	slotLost                     // given up
)

type udpSlot struct {
	sent  int64 // ns since the engine's epoch
	state uint8
	inWin bool // sent inside the measured window
}

// udpSender is one connected socket. The datagrams with sequence numbers
// in [base, next) are tracked in slots[seq % len(slots)]; base is the
// oldest one still pending (or next), so next-base never exceeds the
// window.
type udpSender struct {
	id         int
	fd         int
	pat        *pattern
	base, next uint64
	slots      []udpSlot
	pending    int
	gaveUp     uint64 // datagrams given up, warm-up included
	dead       bool
}

// mmsghdr is struct mmsghdr: Go pads it as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

type udpEngine struct {
	o          options
	win        int
	epfd       int
	senders    []*udpSender
	epoch      time.Time
	start, end int64 // measured window, ns since epoch
	sending    bool  // false once the window has ended
	pendingAll int   // pending datagrams over all live senders
	live       int

	rsz        int // receive slot size: larger than -size, so over-long echoes show
	rbuf, sbuf []byte
	rhdr, shdr []mmsghdr
	scratch    []byte

	hist                                    histogram
	echoed, sent, lost, lostByTimeout, late uint64
	retriedSends                            uint64
	errs                                    *errorLog
}

func (e *udpEngine) now() int64 { return int64(time.Since(e.epoch)) }

func udpSockaddr(ap netip.AddrPort) (unix.Sockaddr, int) {
	if ap.Addr().Is4() || ap.Addr().Is4In6() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}, unix.AF_INET6
}

// openUDP creates the connected, non-blocking sender sockets.
func openUDP(o options) ([]int, error) {
	ua, err := net.ResolveUDPAddr("udp", o.addr)
	if err != nil {
		return nil, err
	}
	dst, family := udpSockaddr(ua.AddrPort())
	fds := make([]int, 0, o.conns)
	fail := func(err error) ([]int, error) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, err
	}
	for i := 0; i < o.conns; i++ {
		fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fail(fmt.Errorf("sender %d: socket: %w", i, err))
		}
		fds = append(fds, fd)
		if ips := o.dial.srcIPs; len(ips) > 0 {
			ap, _ := netip.AddrFromSlice(ips[i%len(ips)])
			src, _ := udpSockaddr(netip.AddrPortFrom(ap, 0))
			if err := unix.Bind(fd, src); err != nil {
				return fail(fmt.Errorf("sender %d: bind %v: %w", i, ap, err))
			}
		}
		if err := unix.Connect(fd, dst); err != nil {
			return fail(fmt.Errorf("sender %d: connect %s: %w", i, o.addr, err))
		}
	}
	return fds, nil
}

func runUDP(o options) Result {
	res := Result{Mode: "udp", Addr: o.addr, Conns: o.conns, Size: o.size, Pipeline: o.pipeline}
	var errs errorLog
	if o.size < headerLen {
		errs.add(fmt.Errorf("-udp needs -size >= %d (the sequence header)", headerLen))
		errs.fill(&res)
		return res
	}
	fds, err := openUDP(o)
	if err != nil {
		errs.add(err)
		errs.fill(&res)
		return res
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	res.Established = len(fds)
	e, err := newUDPEngine(o, fds, &errs)
	if err != nil {
		errs.add(err)
		errs.fill(&res)
		return res
	}
	defer unix.Close(e.epfd)
	e.run()
	// A supervisor samples this process's CPU time when it reads the
	// measure-end marker; the drain after it is over in about a round
	// trip, so stay alive a little for that sample to find the process.
	time.Sleep(exitGrace)

	secs := o.duration.Seconds()
	res.DurationSec = secs
	res.Messages = e.echoed
	res.MsgsPerSec = float64(e.echoed) / secs
	res.MBPerSec = float64(e.echoed) * float64(o.size) / secs / 1e6
	res.Sent, res.Lost, res.LostByTimeout, res.Late = e.sent, e.lost, e.lostByTimeout, e.late
	if e.sent > 0 {
		res.LossPct = 100 * float64(e.lost) / float64(e.sent)
	}
	res.RetriedSends = e.retriedSends
	h := &e.hist
	res.Latency = Latency{
		P50: h.quantile(0.50), P90: h.quantile(0.90), P99: h.quantile(0.99),
		P999: h.quantile(0.999), Max: h.max, Mean: h.mean(),
	}
	errs.fill(&res)
	return res
}

func newUDPEngine(o options, fds []int, errs *errorLog) (*udpEngine, error) {
	w := o.pipeline
	e := &udpEngine{o: o, win: w, errs: errs, rsz: o.size + 64, scratch: make([]byte, o.size)}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	e.epfd = epfd
	for i, fd := range fds {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(epfd)
			return nil, fmt.Errorf("epoll_ctl: %w", err)
		}
		e.senders = append(e.senders, &udpSender{id: i, fd: fd, pat: newPattern(uint32(i), o.size), slots: make([]udpSlot, w)})
	}
	e.live = len(fds)
	e.rbuf, e.rhdr = make([]byte, w*e.rsz), make([]mmsghdr, w)
	e.sbuf, e.shdr = make([]byte, w*o.size), make([]mmsghdr, w)
	riov, siov := make([]unix.Iovec, w), make([]unix.Iovec, w)
	for i := 0; i < w; i++ {
		riov[i].Base = &e.rbuf[i*e.rsz]
		riov[i].SetLen(e.rsz)
		e.rhdr[i].hdr.Iov = &riov[i]
		e.rhdr[i].hdr.SetIovlen(1)
		siov[i].Base = &e.sbuf[i*o.size]
		siov[i].SetLen(o.size)
		e.shdr[i].hdr.Iov = &siov[i]
		e.shdr[i].hdr.SetIovlen(1)
	}
	return e, nil
}

// run drives all senders from warm-up start until the window has ended
// and every datagram has been echoed or given up.
func (e *udpEngine) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	e.epoch = time.Now()
	e.start = int64(e.o.warmup)
	e.end = e.start + int64(e.o.duration)
	e.sending = true
	events := make([]unix.EpollEvent, 256)
	now := e.now()
	for _, s := range e.senders {
		e.refill(s, now)
	}
	var started, ended bool
	var drainUntil int64
	lastScan := now
	scanEvery := int64(time.Millisecond)
	for {
		now = e.now()
		if !started && now >= e.start {
			started = true
			phase("measure-start", "")
		}
		if !ended && now >= e.end {
			ended, e.sending = true, false
			phase("measure-end", "")
			drainUntil = now + int64(max(e.o.ioTimeout, e.o.lossTimeout))
		}
		if e.live == 0 || ended && (e.pendingAll == 0 || now >= drainUntil) {
			break
		}
		if now-lastScan >= scanEvery {
			lastScan = now
			e.scan(now)
		}
		// A zero-timeout wait first: a busy generator never pays for the
		// scheduler-aware blocking call.
		n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(e.epfd),
			uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
		if errno != 0 {
			n = 0
		}
		if n == 0 {
			k, err := unix.EpollWait(e.epfd, events, 1)
			if err != nil || k < 0 {
				k = 0
			}
			n = uintptr(k)
		}
		for i := 0; i < int(n); i++ {
			if s := e.senders[events[i].Fd]; !s.dead {
				e.readable(s)
			}
		}
	}
	// Whatever is still pending after the drain bound counts as lost.
	for _, s := range e.senders {
		if s.dead {
			continue
		}
		for q := s.base; q < s.next; q++ {
			if s.slots[q%uint64(e.win)].state == slotPending {
				e.giveUp(s, q, true)
			}
		}
	}
}

// scan gives up datagrams more than -losstimeout overdue and refills
// windows a failed send left short.
func (e *udpEngine) scan(now int64) {
	limit := now - int64(e.o.lossTimeout)
	for _, s := range e.senders {
		if s.dead {
			continue
		}
		for q := s.base; q < s.next; q++ {
			sl := &s.slots[q%uint64(e.win)]
			if sl.state != slotPending {
				continue
			}
			if sl.sent > limit {
				break // later ones were sent later still
			}
			e.giveUp(s, q, true)
		}
		e.advance(s)
		e.refill(s, now)
	}
}

func (e *udpEngine) giveUp(s *udpSender, q uint64, byTimeout bool) {
	sl := &s.slots[q%uint64(e.win)]
	sl.state = slotLost
	s.gaveUp++
	s.pending--
	e.pendingAll--
	if sl.inWin {
		e.lost++
		if byTimeout {
			e.lostByTimeout++
		}
	}
}

// advance moves base past the datagrams that are no longer pending.
func (e *udpEngine) advance(s *udpSender) {
	for s.base < s.next && s.slots[s.base%uint64(e.win)].state != slotPending {
		s.base++
	}
}

func (e *udpEngine) fail(s *udpSender, err error) {
	e.errs.add(err)
	s.dead = true
	e.pendingAll -= s.pending
	s.pending = 0
	e.live--
	_ = unix.EpollCtl(e.epfd, unix.EPOLL_CTL_DEL, s.fd, nil)
}

// readable receives the sender's echoes, then refills its window.
func (e *udpEngine) readable(s *udpSender) {
	var now int64
	for {
		r, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&e.rhdr[0])),
			uintptr(e.win), unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno == unix.EAGAIN {
			break
		}
		if errno != 0 {
			e.fail(s, fmt.Errorf("sender %d: recvmmsg: %w", s.id, errno))
			return
		}
		now = e.now()
		inWin := now >= e.start && now < e.end
		n := int(r)
		for i := 0; i < n; i++ {
			b := e.rbuf[i*e.rsz : i*e.rsz+int(e.rhdr[i].n)]
			if err := e.echo(s, b, now, inWin); err != nil {
				e.fail(s, err)
				return
			}
		}
		if n < e.win {
			break
		}
	}
	e.advance(s)
	if now == 0 {
		now = e.now()
	}
	e.refill(s, now)
}

// echo accounts for one received datagram.
func (e *udpEngine) echo(s *udpSender, b []byte, now int64, inWin bool) error {
	if len(b) < headerLen {
		return mismatchError(fmt.Sprintf("sender %d: echo of %d bytes, want %d", s.id, len(b), e.o.size))
	}
	id := binary.LittleEndian.Uint32(b[0:4])
	seq := binary.LittleEndian.Uint64(b[4:12])
	if id != s.pat.id || seq >= s.next {
		return mismatchError(fmt.Sprintf("sender %d: echo of a datagram never sent (header says sender %d seq %d; seqs sent: < %d)",
			s.id, id, seq, s.next))
	}
	if err := s.pat.verify(b, e.scratch, seq); err != nil {
		return err
	}
	if seq < s.base {
		if s.gaveUp == 0 {
			// Behind the window, and the sender never gave up a
			// datagram: this one was echoed already.
			return mismatchError(fmt.Sprintf("sender %d: duplicate echo of seq %d", s.id, seq))
		}
		e.late++ // given up earlier (a duplicate this old cannot be told apart)
		return nil
	}
	sl := &s.slots[seq%uint64(e.win)]
	switch sl.state {
	case slotDone:
		return mismatchError(fmt.Sprintf("sender %d: duplicate echo of seq %d", s.id, seq))
	case slotLost:
		e.late++
		return nil
	}
	sl.state = slotDone
	s.pending--
	e.pendingAll--
	if inWin {
		e.echoed++
		e.hist.record(uint64(now - sl.sent))
	}
	// Older datagrams still pending were dropped: loopback keeps order.
	for q := s.base; q < seq; q++ {
		if s.slots[q%uint64(e.win)].state == slotPending {
			e.giveUp(s, q, false)
		}
	}
	return nil
}

// refill sends new datagrams until the sender has a full window again.
func (e *udpEngine) refill(s *udpSender, now int64) {
	if !e.sending || s.dead {
		return
	}
	k := e.win - int(s.next-s.base)
	if k <= 0 {
		return
	}
	for i := 0; i < k; i++ {
		s.pat.fill(e.sbuf[i*e.o.size:(i+1)*e.o.size], s.next+uint64(i))
	}
	var m int
	for {
		r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&e.shdr[0])),
			uintptr(k), unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno == unix.EAGAIN || errno == unix.ENOBUFS {
			break // the send queue is full: the next scan retries
		}
		if errno != 0 {
			e.fail(s, fmt.Errorf("sender %d: sendmmsg: %w", s.id, errno))
			return
		}
		m = int(r)
		break
	}
	if m < k {
		e.retriedSends++
	}
	inWin := now >= e.start && now < e.end
	for i := 0; i < m; i++ {
		s.slots[s.next%uint64(e.win)] = udpSlot{sent: now, state: slotPending, inWin: inWin}
		s.next++
	}
	s.pending += m
	e.pendingAll += m
	if inWin {
		e.sent += uint64(m)
	}
}
