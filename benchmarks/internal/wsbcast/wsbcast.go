// Package wsbcast holds what the WebSocket benchmark servers share: the
// broadcast trigger and a set of live connections.
//
// A text message that starts with Prefix is a broadcast trigger: the server
// frames that message once (as its broadcast API allows) and sends it, as a
// text message, to every open connection, the sender included. Every other
// message is echoed to its sender with the same opcode.
package wsbcast

import (
	"bytes"
	"sync"
)

// Prefix starts a broadcast trigger's payload.
const Prefix = "broadcast"

// IsTrigger reports whether a text message with payload p is a broadcast
// trigger.
func IsTrigger(text bool, p []byte) bool {
	return text && bytes.HasPrefix(p, []byte(Prefix))
}

// Set is a set of connections of type T, safe for concurrent use.
type Set[T comparable] struct {
	mu    sync.Mutex
	idx   map[T]int
	conns []T
}

// Add inserts c (any goroutine).
func (s *Set[T]) Add(c T) {
	s.mu.Lock()
	if s.idx == nil {
		s.idx = map[T]int{}
	}
	if _, ok := s.idx[c]; !ok {
		s.idx[c] = len(s.conns)
		s.conns = append(s.conns, c)
	}
	s.mu.Unlock()
}

// Remove deletes c if present (any goroutine).
func (s *Set[T]) Remove(c T) {
	s.mu.Lock()
	if i, ok := s.idx[c]; ok {
		last := len(s.conns) - 1
		s.conns[i] = s.conns[last]
		s.idx[s.conns[i]] = i
		var zero T
		s.conns[last] = zero
		s.conns = s.conns[:last]
		delete(s.idx, c)
	}
	s.mu.Unlock()
}

// Snapshot appends the current members to dst and returns it (any
// goroutine). The result is the caller's.
func (s *Set[T]) Snapshot(dst []T) []T {
	s.mu.Lock()
	dst = append(dst, s.conns...)
	s.mu.Unlock()
	return dst
}

// Len returns the number of members (any goroutine).
func (s *Set[T]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
