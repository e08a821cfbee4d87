// Package balancer decides which sub-reactor (event loop) receives each new
// connection: accepted by the main reactor, or a Client's dialled or adopted
// one (connections accepted on per-loop SO_REUSEPORT sockets stay on their
// loop).
//
// A [Balancer] is consulted once per connection, on the goroutine that
// accepted, dialled or adopted it, with a read-only view of the loops
// ([Loop]). Three policies are provided:
//
//   - [NewRoundRobin] cycles through the loops in order.
//   - [NewLeastConnections] picks the loop serving the fewest connections,
//     spreading ties round-robin.
//   - [NewSourceAddrHash] hashes the peer's IP address, so every
//     connection from one host lands on the same loop (like nginx ip_hash).
//
// All of them are safe for concurrent use and do not allocate.
package balancer
