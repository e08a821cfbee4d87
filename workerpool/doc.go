// Package workerpool runs blocking work off mill's event loops.
//
// An event loop must never block, so a handler that needs to read a file,
// query a database or call another service submits that work to a [Pool] and
// answers the connection later, from the task, through AsyncWrite:
//
//	err := pool.SubmitKeyed(connID, func() {
//		reply := lookup(req)  // may block
//		c.AsyncWrite(reply, nil)
//	})
//	if err != nil { // ErrPoolOverload: shed load, e.g. answer "busy"
//	}
//
// # Rules
//
//   - At most Config.Size tasks run at once.
//   - At most Config.Capacity accepted tasks wait to start, counted over all
//     keys together; there is no unbounded queue anywhere. When it is full,
//     Submit fails at once with [ErrPoolOverload] (counted in
//     Stats.Rejected), or, in a Blocking pool, waits for room, for its
//     context to end, or for Release. Event loops must use non-blocking
//     pools.
//   - Tasks submitted with the same key run one at a time, in the order of
//     their SubmitKeyed calls (for calls from one goroutine, the order in
//     which it made them). Different keys, and unkeyed tasks, run in
//     parallel. Keys are round-robined: after each task a key with more work
//     goes to the back of the line, so one busy key cannot starve the rest.
//   - A task that panics (or calls runtime.Goexit) is recovered, logged with
//     its stack on Config.Logger, counted in Stats.Failed and reported to
//     Config.PanicHandler with its key; its worker carries on, with the same
//     key's next task if there is one.
//   - Accepted tasks run; new ones are refused. Release makes every later
//     Submit fail with [ErrPoolClosed], lets every task accepted before it
//     run, and returns nil once none is running or waiting and the pool's
//     goroutines have stopped. If its context ends first, the tasks not yet
//     started are dropped (Stats.Dropped), those running finish on their
//     own, and Release returns the context's error; calling Release again
//     waits again. Release must not be called from a task of the same pool.
//   - Tasks that submit more tasks are fine in a non-blocking pool; in a
//     Blocking pool they can deadlock it, by waiting for room that only
//     they could make.
//
// # Design
//
// The pool keeps its own state under one mutex: a FIFO of runnable items
// (unkeyed tasks, and keys whose next task may start), a map from each busy
// key to that key's FIFO of waiting tasks, and counts of running work loops
// and of waiting tasks. A key has a map entry only while one of its tasks is
// running or waiting; idle keys cost nothing, and no goroutine belongs to a
// key.
//
// A work loop runs one item, then takes the next runnable item, and so on
// until none is left, when it exits; a loop that finishes a key's task puts
// the key back at the end of the runnable FIFO if it has more tasks, and
// forgets it otherwise. Submit starts a new work loop when fewer than Size
// are running and nothing has to run before the task (no runnable items, and
// no task of its key running or waiting); otherwise the task is queued, if
// Capacity allows. So a runnable item never waits while a slot is free, and
// under load tasks flow from loop to loop without going through Submit's
// slow path.
//
// Work loops run as jobs of a private pool from github.com/panjf2000/ants/v2,
// which recycles their goroutines and lets idle ones exit after
// Config.IdleTimeout. That ants pool is unbounded and never blocks: the limit
// of Size loops is enforced here, so ants never holds more than Size busy
// goroutines (plus any still parking). Capping ants itself at Size would make
// Submit wait or fail spuriously, because ants counts a goroutine as busy
// until it has parked after its job.
//
// No pool is created at import time. Importing ants, however, creates ants'
// package-level default pool, whose two housekeeping goroutines (top
// functions github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers and
// github.com/panjf2000/ants/v2.(*poolCommon).ticktock) live for the whole
// process. This package never uses that pool (it never calls ants.Submit);
// tests that check for leaked goroutines, in any package importing this
// one, must ignore those two, for instance with goleak.IgnoreCurrent() in
// TestMain. Each Pool adds two such goroutines of its own, stopped by
// Release.
package workerpool
