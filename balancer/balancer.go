package balancer

import (
	"net/netip"
	"sync/atomic"
)

// Loop is a balancer's view of one sub-reactor (event loop).
type Loop interface {
	// Conns reports how many connections the loop currently serves. Any
	// goroutine may call it; the value may be stale.
	Conns() int
}

// Balancer picks the loop that receives a new connection.
type Balancer interface {
	// Pick returns an index into loops (len(loops) >= 1) for a connection
	// from remote (for a dialled connection, the address dialled). remote
	// is the zero AddrPort when the peer has no IP address (a Unix-domain
	// socket), and an IPv4 peer comes as IPv4, not IPv4-mapped.
	// Implementations must be safe for concurrent use. Pick must not
	// retain loops after it returns; mill sends a connection for an
	// index out of range to loop 0.
	Pick(remote netip.AddrPort, loops []Loop) int
}

// errNoLoops is the panic value of Pick when loops is empty.
const errNoLoops = "balancer: Pick called with no loops"

// roundRobin hands connections to the loops in turn.
type roundRobin struct {
	next atomic.Uint64
}

// NewRoundRobin returns a Balancer that cycles through the loops in index
// order, ignoring the remote address and the loops' loads. Its position is
// one atomic counter shared by all callers, so concurrent Picks still take
// consecutive turns; Pick does not allocate. If the number of loops changes
// between calls, the cycle simply continues from the counter modulo the new
// count.
func NewRoundRobin() Balancer {
	return &roundRobin{}
}

// Pick returns the next index in the cycle. Any goroutine may call it
// concurrently. It does not retain loops. It panics if loops is empty.
func (b *roundRobin) Pick(_ netip.AddrPort, loops []Loop) int {
	if len(loops) == 0 {
		panic(errNoLoops)
	}
	return int((b.next.Add(1) - 1) % uint64(len(loops)))
}

// leastConns hands each connection to the least loaded loop.
type leastConns struct {
	ties atomic.Uint64 // turns among equally loaded loops
}

// NewLeastConnections returns a Balancer that picks the loop with the lowest
// Conns(), ignoring the remote address. When several loops share that lowest
// count, they take turns (round-robin among the tied loops, driven by one
// atomic counter), so a burst of connections arriving before any loop has
// updated its count still spreads evenly instead of piling onto loop 0.
//
// Pick calls Conns once per loop, and a second time per loop only when there
// is a tie; it does not allocate. The counts may change while Pick runs, so
// the choice is a best effort, never a guarantee.
func NewLeastConnections() Balancer {
	return &leastConns{}
}

// Pick returns the index of a loop with the fewest connections. Any goroutine
// may call it concurrently. It does not retain loops. It panics if loops is
// empty.
func (b *leastConns) Pick(_ netip.AddrPort, loops []Loop) int {
	if len(loops) == 0 {
		panic(errNoLoops)
	}
	best, low, ties := 0, loops[0].Conns(), 1
	for i := 1; i < len(loops); i++ {
		switch c := loops[i].Conns(); {
		case c < low:
			best, low, ties = i, c, 1
		case c == low:
			ties++
		}
	}
	if ties == 1 {
		return best
	}
	// Take the turn-th of the tied loops. Counts read again may have moved;
	// if the tie no longer holds, fall back to the first minimum seen.
	turn := int((b.ties.Add(1) - 1) % uint64(ties))
	for i := best; i < len(loops); i++ {
		if loops[i].Conns() == low {
			if turn == 0 {
				return i
			}
			turn--
		}
	}
	return best
}
