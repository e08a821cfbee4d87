package websocket_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
	"github.com/mill-io/mill/websocket"
)

// echo sends every message back as it came.
type echo struct{}

func (echo) OnOpen(*websocket.Conn)         {}
func (echo) OnClose(*websocket.Conn, error) {}
func (echo) OnMessage(c *websocket.Conn, op websocket.Opcode, p []byte) {
	_ = c.WriteMessage(op, p) // p is valid until OnMessage returns
}

// printer prints what it receives and signals each message.
type printer struct{ got chan struct{} }

func (printer) OnOpen(*websocket.Conn)         {}
func (printer) OnClose(*websocket.Conn, error) {}
func (p printer) OnMessage(c *websocket.Conn, op websocket.Opcode, payload []byte) {
	fmt.Printf("%v: %s\n", op, payload)
	p.got <- struct{}{}
}

// A dedicated WebSocket echo server, and mill's client talking to it.
func Example() {
	ws, err := websocket.NewServer(echo{},
		websocket.WithMaxMessage(1<<20),
		websocket.WithCompression(websocket.Compression{Enabled: true}),
		websocket.WithPingInterval(30*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	s, err := mill.NewServer(ws, "tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve()
	<-s.Ready()
	defer s.Shutdown(context.Background())

	p := printer{got: make(chan struct{})}
	cl, err := websocket.NewClient(p, websocket.WithCompression(websocket.Compression{Enabled: true}))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Stop(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := cl.Dial(ctx, "ws://"+s.Addr().String()+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	// Any goroutine may write with AsyncWriteMessage.
	c.AsyncWriteMessage(websocket.OpText, []byte("hello"), nil)
	<-p.got
	fmt.Println("compressed:", c.Compressed())
	// Output:
	// text: hello
	// compressed: true
}

// A WithAccept hook authenticates the upgrade request, keeps what the
// connection needs later (the user, the path) as its context, and picks
// the subprotocol; a refusal answers with its own status.
func ExampleWithAccept() {
	type session struct{ user, path string }
	ws, err := websocket.NewServer(echo{},
		websocket.WithSubprotocols("chat.v2", "chat.v1"),
		websocket.WithAccept(func(u *websocket.Upgrade) error {
			token := string(u.Request.Header("authorization"))
			if token != "Bearer secret" {
				return &websocket.Refusal{Status: 401, Reason: "a bearer token is required",
					Header: map[string][]string{"Www-Authenticate": {"Bearer"}}}
			}
			// The request's slices alias the input: copy what is kept.
			u.SetContext(&session{user: "alice", path: string(u.Request.Path)})
			u.Header().Set("Set-Cookie", "seen=1")
			return nil
		}))
	if err != nil {
		log.Fatal(err)
	}
	_ = ws // serve it with mill.NewServer(ws, addr)
}

// httpApp serves HTTP routes and, on /ws, WebSocket, on one port.
type httpApp struct {
	mill.BuiltinHandler
	ws *websocket.Server
}

func (a *httpApp) OnOpen(c mill.Conn) ([]byte, mill.Action) {
	c.SetContext(http1.NewCodec(http1.Limits{}))
	return nil, mill.None
}

func (a *httpApp) OnTraffic(c mill.Conn) mill.Action {
	if a.ws.Owns(c) { // upgraded: frames from now on
		return a.ws.OnTraffic(c)
	}
	codec := c.Context().(*http1.Codec)
	for {
		in, _ := c.Peek(-1)
		n, err := codec.Parse(in)
		if err != nil {
			c.Write(http1.AppendStatusLine(nil, err.Status))
			c.Write([]byte("Connection: close\r\nContent-Length: 0\r\n\r\n"))
			c.Discard(-1)
			c.CloseLingering()
			return mill.None
		}
		if n == 0 {
			return mill.None // the rest of the request is still to come
		}
		if string(codec.Req.Path) == "/ws" {
			return a.ws.Upgrade(c, &codec.Req, n)
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"))
		c.Discard(n)
	}
}

func (a *httpApp) OnClose(c mill.Conn, err error) mill.Action { return a.ws.OnClose(c, err) }

func (a *httpApp) OnShutdown(s *mill.Server) { a.ws.OnShutdown(s) }

// HTTP routes and a WebSocket endpoint on one port: the HTTP handler
// calls Upgrade for the WebSocket route and hands the connection's
// events to the Server once it Owns it. examples/chat is a complete one.
func ExampleServer_Upgrade() {
	ws, err := websocket.NewServer(echo{})
	if err != nil {
		log.Fatal(err)
	}
	s, err := mill.NewServer(&httpApp{ws: ws}, "tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	_ = s // s.Serve()
}
