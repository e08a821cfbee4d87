package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"unicode"

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
// query (the raw value if its escapes are malformed), or "".
func queryName(r *http1.Request) string {
	for _, kv := range strings.Split(string(r.Query()), "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k == "name" {
			if s, err := url.QueryUnescape(v); err == nil {
				return s
			}
			return v
		}
	}
	return ""
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
	case len(text) > maxText: // (json.Unmarshal made it valid UTF-8)
		_ = c.Close(websocket.StatusPolicyViolation, fmt.Sprintf("text longer than %d bytes", maxText))
		return
	}
	rm.broadcast(Out{Name: name(c), Text: text})
}

// OnClose tells the others that c left.
func (rm *room) OnClose(c *websocket.Conn, _ error) {
	rm.broadcast(Out{Name: name(c), Event: "leave"})
}
