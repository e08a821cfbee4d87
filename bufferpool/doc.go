// Package bufferpool provides a size-classed byte-slice [Pool] and a growable
// ring buffer, [Ring], whose storage comes from such a pool.
//
// A Pool hands out slices whose capacity is a power of two between 64 B and
// 64 MiB (larger requests are allocated plainly and never pooled) and keeps an
// atomic count of the slices handed out and not yet returned, so tests can
// prove that nothing leaks.
//
// A Ring is meant to be embedded by value in a per-connection struct: its zero
// value holds no storage, it takes storage from its Pool only while it holds
// data (or until [Ring.Release]), and it shrinks back once a burst has been
// drained.
//
// The package keeps no global state; two Pools are fully independent.
package bufferpool
