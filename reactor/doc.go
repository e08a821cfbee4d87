// Package reactor runs mill's event loops.
//
// A Loop is one goroutine, by default locked to its OS thread and
// optionally pinned to a CPU, that owns one netpoll.Poller. Every
// iteration it runs a bounded batch of tasks submitted by other
// goroutines, calls the optional Config.BeforeWait hook, waits for
// readiness (or, within Config.BusyPoll of its last work, only looks),
// dispatches each event to the Handler registered for the descriptor and
// fires due timers. Descriptors are
// looked up in a table indexed by fd; each registration gets a fresh
// generation number, and an event whose generation does not match the
// table (a stale report for a descriptor number that was closed and
// reused) is dropped.
//
// The package knows nothing of connections or protocols: whatever
// registers a descriptor decides what readiness means.
//
// On platforms other than Linux and the BSDs the package is empty.
package reactor
