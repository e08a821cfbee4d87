package websocket_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/mill-io/mill"
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
