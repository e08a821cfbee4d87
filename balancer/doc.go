// Package balancer decides which sub-reactor (event loop) receives each newly
// accepted connection.
//
// A [Balancer] is consulted once per connection, on the accepting goroutine,
// with a read-only view of the loops ([Loop]). Three policies are provided:
//
//   - [NewRoundRobin] cycles through the loops in order.
//   - [NewLeastConnections] picks the loop serving the fewest connections,
//     spreading ties round-robin.
//   - [NewSourceAddrHash] hashes the client's IP address, so every
//     connection from one host lands on the same loop (like nginx ip_hash).
//
// All of them are safe for concurrent use and, for TCP, UDP and IP
// addresses, do not allocate.
package balancer
