// Package interop tests mill's websocket package against other Go
// WebSocket implementations (gorilla/websocket and coder/websocket), as
// clients of a mill server and, for gorilla, as a server for mill's
// client, over real sockets.
//
// It is a module of its own so that those implementations never enter
// mill's go.mod; it always builds against the mill in this checkout (see
// the replace directive in go.mod). It has no API: everything is in its
// tests.
package interop
