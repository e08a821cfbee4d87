package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/mill-io/mill/http1"
	"github.com/mill-io/mill/websocket"
)

// Limits of the room.
const (
	// maxText is the longest message text, in bytes.
	maxText = 4 << 10
	// maxMessage is the longest WebSocket message a browser may send:
	// the text, JSON-escaped at its worst (\uXXXX for every byte would
	// be 6×; most text is far less), with room for the braces. Longer
	// ones close the connection with 1009.
	maxMessage = 2*maxText + 64
	// maxName is the longest name, in runes.
	maxName = 32
)

// Out is what the room sends every browser, as a JSON text message:
// a message ({"name", "text"}) or a join or leave notice ({"name",
// "event"}).
type Out struct {
	Name  string `json:"name"`
	Text  string `json:"text,omitempty"`
	Event string `json:"event,omitempty"` // "join" or "leave"
}

// In is what a browser sends: {"text": "..."}. A "name" field is
// ignored: the room stamps every message with the name the connection
// joined with, so that nobody speaks as somebody else.
type In struct {
	Text string `json:"text"`
}

// room is the websocket.Handler of the chat: every message is relayed
// to every connected browser, framed once (websocket.NewPrepared) and
// written by each connection's own loop (Server.Broadcast).
type room struct {
	ws    *websocket.Server // set before the server starts
	anons atomic.Uint64     // for names of those who gave none
}

// accept is the WithAccept hook: it takes the name from the upgrade
// request's query (/ws?name=NAME) and makes it the connection's context.
// Loop goroutine.
func (rm *room) accept(u *websocket.Upgrade) error {
	name := cleanName(queryName(u.Request))
	if name == "" {
		name = fmt.Sprintf("guest-%d", rm.anons.Add(1))
	}
	u.SetContext(name)
	return nil
}

// queryName returns the unescaped value of the name parameter of r's
// query, or "".
func queryName(r *http1.Request) string {
	_, q, ok := strings.Cut(string(r.Target), "?")
	if !ok {
		return ""
	}
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k == "name" {
			return unescape(v)
		}
	}
	return ""
}

// unescape undoes the query's percent-encoding and + for space; a
// malformed escape is kept as it is.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// cleanName makes a name fit to show: valid UTF-8, no control or
// formatting characters, spaces collapsed, at most maxName runes.
func cleanName(s string) string {
	s = strings.ToValidUTF8(s, "")
	var b strings.Builder
	n := 0
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if n == maxName {
			break
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
			if n == maxName {
				break
			}
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// name is the name c joined with. Loop-only (it reads c's Context).
func name(c *websocket.Conn) string {
	s, _ := c.Context().(string)
	return s
}

// broadcast sends o to every connected browser. Any goroutine.
func (rm *room) broadcast(o Out) {
	b, err := json.Marshal(o)
	if err != nil {
		return // strings always marshal
	}
	pm, err := websocket.NewPrepared(websocket.OpText, b)
	if err != nil {
		return
	}
	rm.ws.Broadcast(pm)
}

// OnOpen announces the newcomer to the room (the newcomer too).
func (rm *room) OnOpen(c *websocket.Conn) {
	rm.broadcast(Out{Name: name(c), Event: "join"})
}

// OnMessage relays a message: text JSON {"text": ...}. Anything else
// (binary, not JSON, no text, text too long) closes the connection with
// 1003 or 1008, saying why; empty text is dropped.
func (rm *room) OnMessage(c *websocket.Conn, op websocket.Opcode, payload []byte) {
	if op != websocket.OpText {
		_ = c.Close(websocket.StatusUnsupportedData, "messages are JSON text")
		return
	}
	var in In
	if err := json.Unmarshal(payload, &in); err != nil {
		_ = c.Close(websocket.StatusPolicyViolation, `messages are JSON {"text": "..."}`)
		return
	}
	text := strings.TrimSpace(in.Text)
	switch {
	case text == "":
		return
	case len(text) > maxText || !utf8.ValidString(text):
		_ = c.Close(websocket.StatusPolicyViolation, fmt.Sprintf("text longer than %d bytes", maxText))
		return
	}
	rm.broadcast(Out{Name: name(c), Text: text})
}

// OnClose tells the others that c left.
func (rm *room) OnClose(c *websocket.Conn, _ error) {
	rm.broadcast(Out{Name: name(c), Event: "leave"})
}
