//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package netpoll

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

const (
	initialEvents = 128
	maxEvents     = 8192
)

// Poller is a kqueue plus a non-blocking pipe for wake-ups. kqueue's user
// data field is pointer-typed on most BSDs, so the generation of each
// descriptor is kept in a table here instead of in the kernel; Wait
// copies each event's generation from it as it returns, so an event
// carries the generation its descriptor had then.
type Poller struct {
	kq       int
	wr, ww   int // wake pipe: read and write ends
	events   []unix.Kevent_t
	evGens   []uint32 // the generation of events[i]'s fd when Wait returned
	changes  []unix.Kevent_t
	interest []Interest // by fd
	gens     []uint32   // by fd
	wake     wakeState
	buf      [64]byte
}

// New creates a poller. The caller must Close it.
func New() (*Poller, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, os.NewSyscallError("kqueue", err)
	}
	unix.CloseOnExec(kq)
	var fds [2]int
	if err := unix.Pipe(fds[:]); err != nil {
		unix.Close(kq)
		return nil, os.NewSyscallError("pipe", err)
	}
	p := &Poller{kq: kq, wr: fds[0], ww: fds[1], events: make([]unix.Kevent_t, initialEvents)}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			p.Close()
			return nil, os.NewSyscallError("fcntl", err)
		}
	}
	var ev [1]unix.Kevent_t
	unix.SetKevent(&ev[0], p.wr, unix.EVFILT_READ, unix.EV_ADD)
	if _, err := unix.Kevent(kq, ev[:], nil, nil); err != nil {
		p.Close()
		return nil, os.NewSyscallError("kevent", err)
	}
	return p, nil
}

// Close releases the kqueue and the wake pipe. Loop goroutine only, after
// the last Wait.
func (p *Poller) Close() error {
	unix.Close(p.wr)
	unix.Close(p.ww)
	if err := unix.Close(p.kq); err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// Add starts watching fd for the given interest, tagging its events with
// gen. Loop goroutine only.
func (p *Poller) Add(fd int, gen uint32, in Interest) error {
	return p.set(fd, gen, in)
}

// Modify replaces fd's interest set. Loop goroutine only.
func (p *Poller) Modify(fd int, gen uint32, in Interest) error {
	return p.set(fd, gen, in)
}

// Delete stops watching fd. Call it before closing fd. Loop goroutine only.
func (p *Poller) Delete(fd int) error {
	return p.set(fd, 0, 0)
}

func (p *Poller) set(fd int, gen uint32, in Interest) error {
	for fd >= len(p.interest) {
		p.interest = append(p.interest, 0)
		p.gens = append(p.gens, 0)
	}
	had := p.interest[fd]
	p.changes = p.changes[:0]
	p.changes = appendChange(p.changes, fd, unix.EVFILT_READ, had&Readable != 0, in&Readable != 0)
	p.changes = appendChange(p.changes, fd, unix.EVFILT_WRITE, had&Writable != 0, in&Writable != 0)
	p.interest[fd], p.gens[fd] = in, gen
	if len(p.changes) == 0 {
		return nil
	}
	if _, err := unix.Kevent(p.kq, p.changes, nil, nil); err != nil {
		return os.NewSyscallError("kevent", err)
	}
	return nil
}

func appendChange(ch []unix.Kevent_t, fd, filter int, had, want bool) []unix.Kevent_t {
	var k unix.Kevent_t
	switch {
	case want && !had:
		unix.SetKevent(&k, fd, filter, unix.EV_ADD)
	case had && !want:
		unix.SetKevent(&k, fd, filter, unix.EV_DELETE)
	default:
		return ch
	}
	return append(ch, k)
}

// Wait waits for events: timeout < 0 blocks until one arrives or Wake is
// called, 0 polls, > 0 waits at most that long. It returns how many events
// Event can report; a wake-up is consumed here and not reported. EINTR
// yields zero events and no error. Loop goroutine only; the events stay
// readable until the next Wait.
func (p *Poller) Wait(timeout time.Duration) (int, error) {
	var ts *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec(int64(timeout))
		ts = &t
	}
	n, err := unix.Kevent(p.kq, nil, p.events, ts)
	p.wake.awake()
	if err != nil {
		if err == unix.EINTR {
			return 0, nil
		}
		return 0, os.NewSyscallError("kevent", err)
	}
	full := n == len(p.events)
	for i := 0; i < n; i++ {
		if int(p.events[i].Ident) == p.wr {
			p.drainWake()
			n--
			p.events[i] = p.events[n]
			i--
		}
	}
	// Read each event's generation now: a handler run for an earlier
	// event of this batch may close a descriptor and register its number
	// again, and the later event must not carry the new registration's
	// generation.
	if cap(p.evGens) < n {
		p.evGens = make([]uint32, len(p.events))
	}
	p.evGens = p.evGens[:n]
	for i := 0; i < n; i++ {
		var gen uint32
		if fd := int(p.events[i].Ident); fd < len(p.gens) {
			gen = p.gens[fd]
		}
		p.evGens[i] = gen
	}
	if full && len(p.events) < maxEvents {
		p.events = make([]unix.Kevent_t, 2*len(p.events))
	}
	return n, nil
}

// Event returns the i-th event of the last Wait, 0 <= i < n. Loop
// goroutine only.
func (p *Poller) Event(i int) Event {
	k := &p.events[i]
	fd := int(k.Ident)
	var f Flags
	switch int(k.Filter) {
	case unix.EVFILT_READ:
		f |= In
	case unix.EVFILT_WRITE:
		f |= Out
	}
	if k.Flags&unix.EV_EOF != 0 {
		f |= Hangup
	}
	if k.Flags&unix.EV_ERROR != 0 {
		f |= Error
	}
	return Event{Fd: fd, Gen: p.evGens[i], Flags: f}
}

// Arm announces that the loop is about to block in Wait, so that the next
// Wake must write to the pipe. After Arm the caller must re-check its own
// queues and pass a zero timeout to Wait if they are not empty. Loop
// goroutine only.
func (p *Poller) Arm() { p.wake.arm() }

// Wake makes a blocked (or about to block) Wait return. Any goroutine may
// call it; calls made while the loop is awake, or before it consumes an
// earlier wake-up, cost one atomic operation and no system call.
func (p *Poller) Wake() error {
	if !p.wake.claim() {
		return nil
	}
	one := [1]byte{1}
	for {
		_, err := unix.Write(p.ww, one[:])
		switch err {
		case nil, unix.EAGAIN: // a full pipe already holds a pending wake-up
			return nil
		case unix.EINTR:
			continue
		default:
			return os.NewSyscallError("write", err)
		}
	}
}

func (p *Poller) drainWake() {
	for {
		n, err := unix.Read(p.wr, p.buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n < len(p.buf) {
			return
		}
	}
}
