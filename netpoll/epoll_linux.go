//go:build linux

package netpoll

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	initialEvents = 128
	maxEvents     = 8192
	// wakeGen marks the wake eventfd's registration; callers never see it.
	wakeGen = ^uint32(0)
)

// Poller is an epoll instance plus an eventfd for wake-ups.
type Poller struct {
	epfd   int
	wakefd int
	events []unix.EpollEvent
	wake   wakeState
	buf    [8]byte
}

// New creates a poller. The caller must Close it.
func New() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	p := &Poller{epfd: epfd, wakefd: wakefd, events: make([]unix.EpollEvent, initialEvents)}
	if err := p.ctl(unix.EPOLL_CTL_ADD, wakefd, wakeGen, Readable); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Close releases the epoll and eventfd descriptors. Loop goroutine only,
// after the last Wait.
func (p *Poller) Close() error {
	err1 := unix.Close(p.wakefd)
	err2 := unix.Close(p.epfd)
	if err1 != nil {
		return os.NewSyscallError("close", err1)
	}
	if err2 != nil {
		return os.NewSyscallError("close", err2)
	}
	return nil
}

// Add starts watching fd for the given interest, tagging its events with
// gen. Loop goroutine only.
func (p *Poller) Add(fd int, gen uint32, in Interest) error {
	return p.ctl(unix.EPOLL_CTL_ADD, fd, gen, in)
}

// Modify replaces fd's interest set. Loop goroutine only.
func (p *Poller) Modify(fd int, gen uint32, in Interest) error {
	return p.ctl(unix.EPOLL_CTL_MOD, fd, gen, in)
}

// Delete stops watching fd. Call it before closing fd. Loop goroutine only.
func (p *Poller) Delete(fd int) error {
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (p *Poller) ctl(op, fd int, gen uint32, in Interest) error {
	ev := unix.EpollEvent{Fd: int32(fd), Pad: int32(gen)}
	if in&Readable != 0 {
		ev.Events |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if in&Writable != 0 {
		ev.Events |= unix.EPOLLOUT
	}
	if err := unix.EpollCtl(p.epfd, op, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Wait waits for events: timeout < 0 blocks until one arrives or Wake is
// called, 0 polls, > 0 waits at most that long (rounded up to a
// millisecond). It returns how many events Event can report; a wake-up is
// consumed here and not reported. It first polls with a raw system call,
// which is all a busy loop ever needs; only when nothing is ready does it
// block, through the Go scheduler so that other goroutines keep running.
// EINTR yields zero events and no error. Loop goroutine only; the events
// stay readable until the next Wait.
func (p *Poller) Wait(timeout time.Duration) (int, error) {
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd),
		uintptr(unsafe.Pointer(&p.events[0])), uintptr(len(p.events)), 0, 0, 0)
	n := int(r)
	if errno == 0 && n == 0 && timeout != 0 {
		ms := -1
		if timeout > 0 {
			ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
		}
		var err error
		n, err = unix.EpollWait(p.epfd, p.events, ms)
		if err != nil {
			n = 0
			if errno, _ = err.(unix.Errno); errno == 0 {
				return 0, err
			}
		}
	}
	p.wake.awake()
	if errno != 0 {
		if errno == unix.EINTR {
			return 0, nil
		}
		return 0, os.NewSyscallError("epoll_wait", errno)
	}
	full := n == len(p.events)
	for i := 0; i < n; i++ {
		if uint32(p.events[i].Pad) == wakeGen && int(p.events[i].Fd) == p.wakefd {
			p.drainWake()
			n--
			p.events[i] = p.events[n]
			i--
		}
	}
	if full && len(p.events) < maxEvents {
		// The kernel may hold more; see them all next time.
		p.events = make([]unix.EpollEvent, 2*len(p.events))
	}
	return n, nil
}

// Event returns the i-th event of the last Wait, 0 <= i < n. Loop
// goroutine only.
func (p *Poller) Event(i int) Event {
	e := &p.events[i]
	var f Flags
	if e.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLPRI) != 0 {
		f |= In
	}
	if e.Events&unix.EPOLLOUT != 0 {
		f |= Out
	}
	if e.Events&(unix.EPOLLHUP|unix.EPOLLRDHUP) != 0 {
		f |= Hangup
	}
	if e.Events&unix.EPOLLERR != 0 {
		f |= Error
	}
	return Event{Fd: int(e.Fd), Gen: uint32(e.Pad), Flags: f}
}

// Arm announces that the loop is about to block in Wait, so that the next
// Wake must write to the eventfd. After Arm the caller must re-check its
// own queues and pass a zero timeout to Wait if they are not empty. Loop
// goroutine only.
func (p *Poller) Arm() { p.wake.arm() }

// Wake makes a blocked (or about to block) Wait return. Any goroutine may
// call it; calls made while the loop is awake, or before it consumes an
// earlier wake-up, cost one atomic operation and no system call.
func (p *Poller) Wake() error {
	if !p.wake.claim() {
		return nil
	}
	var one = [8]byte{1}
	for {
		_, err := unix.Write(p.wakefd, one[:])
		switch err {
		case nil, unix.EAGAIN: // EAGAIN: the counter is saturated, a wake-up is pending anyway
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
		_, err := unix.Read(p.wakefd, p.buf[:])
		if err != unix.EINTR {
			return
		}
	}
}
