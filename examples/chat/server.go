package main

import (
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
	"github.com/mill-io/mill/websocket"
)

// server is the mill.Handler: HTTP/1.1 on every connection (package
// http1) until a GET /ws upgrades one, which then belongs to the
// websocket.Server ws. Every event of such a connection is handed to ws
// while ws.Owns it.
type server struct {
	mill.BuiltinHandler
	ws  *websocket.Server
	lim http1.Limits
	// httpTimeout closes an HTTP connection that sends nothing for this
	// long (before its first request, between two) or leaves a request
	// unfinished for this long: without it, sockets that never complete
	// an upgrade request would pile up and use the descriptors. (A
	// dedicated websocket.Server has WithHandshakeTimeout; beside HTTP
	// routes, the HTTP side's timeouts are the handler's.) Once upgraded,
	// a connection has neither: the ping interval notices a peer that
	// vanished.
	httpTimeout time.Duration
}

// httpConn is an HTTP connection's state: its request parser. Only the
// connection's loop touches it.
type httpConn struct {
	http1.Codec
	closing bool // the last response is out: drop any more input
}

// OnOpen gives a new connection its parser and the HTTP side's
// timeouts.
func (s *server) OnOpen(mc mill.Conn) ([]byte, mill.Action) {
	hc := &httpConn{}
	hc.Init(s.lim)
	mc.SetContext(hc)
	mc.SetIdleTimeout(s.httpTimeout)
	mc.SetReadTimeout(s.httpTimeout)
	return nil, mill.None
}

// OnTraffic hands a WebSocket connection's input to ws, and answers an
// HTTP connection's requests one by one, in order.
func (s *server) OnTraffic(mc mill.Conn) mill.Action {
	if s.ws.Owns(mc) {
		return s.ws.OnTraffic(mc)
	}
	hc, ok := mc.Context().(*httpConn)
	if !ok {
		return mill.Close
	}
	if hc.closing {
		mc.Discard(-1)
		return mill.None
	}
	var out []byte
	for {
		in, _ := mc.Peek(-1)
		n, perr := hc.Parse(in)
		if perr != nil {
			out = appendResponse(out, perr.Status, textPlain, []byte(perr.Reason+"\n"), false, true)
			return s.finish(mc, hc, out)
		}
		if n == 0 {
			break // the rest has not arrived
		}
		r := &hc.Req
		if string(r.Path) == "/ws" {
			// The upgrade request is at the start of the input (the
			// requests before it are discarded): write their responses
			// first, then hand the connection over.
			if len(out) > 0 {
				if _, err := mc.Write(out); err != nil {
					return mill.Close
				}
			}
			a := s.ws.Upgrade(mc, r, n)
			if !s.ws.Owns(mc) {
				hc.closing = true // refused: the response is on its way, then the close
				return a
			}
			mc.SetIdleTimeout(0) // a member may be quiet for hours: pings tell
			mc.SetReadTimeout(0)
			return a
		}
		var keep bool
		out, keep = respond(out, r)
		mc.Discard(n) // r is not used past here
		if !keep {
			return s.finish(mc, hc, out)
		}
	}
	if len(out) > 0 {
		if _, err := mc.Write(out); err != nil {
			return mill.Close
		}
	}
	return mill.None
}

// finish writes the last response of a connection and closes it once
// the response is out, lingering so that input still coming does not
// reset it before the client reads it.
func (s *server) finish(mc mill.Conn, hc *httpConn, out []byte) mill.Action {
	hc.closing = true
	if _, err := mc.Write(out); err != nil {
		return mill.Close
	}
	mc.Discard(-1)
	if mc.CloseLingering() != nil {
		return mill.Close
	}
	return mill.None
}

// OnClose ends a WebSocket connection in ws (the room hears of it).
func (s *server) OnClose(mc mill.Conn, err error) mill.Action {
	if s.ws.Owns(mc) {
		return s.ws.OnClose(mc, err)
	}
	return mill.None
}

// OnWritabilityChanged relays mill's event to ws for its connections.
func (s *server) OnWritabilityChanged(mc mill.Conn, writable bool) {
	if s.ws.Owns(mc) {
		s.ws.OnWritabilityChanged(mc, writable)
	}
}

// OnShutdown sends every browser a close frame with 1001 (going away).
func (s *server) OnShutdown(ms *mill.Server) { s.ws.OnShutdown(ms) }

const (
	textPlain = "text/plain; charset=utf-8"
	textHTML  = "text/html; charset=utf-8"
)

// respond appends the response to r, a request for anything but /ws, and
// reports whether the connection stays open after it.
func respond(dst []byte, r *http1.Request) ([]byte, bool) {
	head := string(r.Method) == "HEAD"
	get := head || string(r.Method) == "GET"
	keep := r.KeepAlive
	switch {
	case string(r.Path) == "/" && get:
		return appendResponse(dst, 200, textHTML, page, head, !keep), keep
	case string(r.Path) == "/":
		dst = http1.AppendStatusLine(dst, 405)
		dst = http1.AppendField(dst, "Allow", "GET, HEAD")
		return appendRest(dst, textPlain, []byte("405 Method Not Allowed\n"), false, !keep), keep
	}
	return appendResponse(dst, 404, textPlain, []byte("404 Not Found\n"), head, !keep), keep
}

// appendResponse appends a whole response: status, Content-Type,
// Content-Length, and the body unless head.
func appendResponse(dst []byte, status int, ctype string, body []byte, head, closing bool) []byte {
	dst = http1.AppendStatusLine(dst, status)
	return appendRest(dst, ctype, body, head, closing)
}

// appendRest appends the fields every response has, the end of the head
// and the body (unless head).
func appendRest(dst []byte, ctype string, body []byte, head, closing bool) []byte {
	dst = append(dst, "Server: mill\r\n"...)
	dst = http1.AppendField(dst, "Content-Type", ctype)
	dst = http1.AppendContentLength(dst, len(body))
	dst = append(dst, "Cache-Control: no-store\r\n"...)
	if closing {
		dst = append(dst, "Connection: close\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	if !head {
		dst = append(dst, body...)
	}
	return dst
}
