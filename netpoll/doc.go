// Package netpoll is mill's readiness poller: epoll on Linux, kqueue on
// macOS and the BSDs.
//
// A Poller watches file descriptors for read and write readiness and
// reports events into a reusable buffer that grows when a wait fills it.
// Each registration carries the descriptor and a 32-bit generation chosen
// by the caller; both come back with every event, so the caller can drop
// events that belong to an earlier user of a reused descriptor number. No
// Go pointer is ever stored in the kernel's user data. With epoll the
// generation travels in the kernel's event; with kqueue it is kept in a
// table by descriptor and copied for each event when Wait returns, so
// either way an event of the last Wait whose descriptor was deleted and
// added again since then carries the old generation, and is dropped.
//
// A Poller is owned by one goroutine (the event loop): Add, Modify,
// Delete, Arm, Wait and Event must only be called from it. Wake may be
// called from any goroutine; wake-ups are coalesced so that a busy loop
// costs its producers no system call.
//
// On platforms other than Linux and the BSDs the package is empty.
package netpoll
