// Package websocket is WebSocket (RFC 6455) with permessage-deflate
// (RFC 7692) on mill's event loops: a server, which upgrades HTTP/1.1
// requests on a dedicated mill server or beside HTTP routes on the same
// port, and a client that dials ws:// and wss:// URLs through a
// mill.Client. See docs/websocket.md.
package websocket
