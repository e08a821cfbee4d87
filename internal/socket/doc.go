// Package socket holds mill's socket plumbing: listening sockets, accept,
// socket options, address conversion and the non-blocking read, write
// and writev calls of the hot path. It is not API.
package socket
