// Package socket holds mill's socket plumbing: listening and UDP
// sockets, accept, connect, descriptor duplication, socket options,
// multicast membership, address conversion, and the non-blocking read,
// write, writev and datagram calls of the hot path. It is not API.
package socket
