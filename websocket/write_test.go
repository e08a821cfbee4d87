package websocket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/mill-io/mill"
)

// TestAsyncWritesKeepOrder: messages written from several goroutines
// arrive whole, and each goroutine's in its order.
func TestAsyncWritesKeepOrder(t *testing.T) {
	t.Parallel()
	const writers, each = 8, 200
	srv := newRecorder(false)
	_, addr := serve(t, srv, nil)
	got := &collector{done: make(chan struct{}), want: writers * each}
	cl := newClient(t, got)
	dialWS(t, cl, "ws://"+addr)
	sc := recv(t, srv.opens, "server OnOpen")
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				p := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(w)), uint32(i))
				p = append(p, bytes.Repeat([]byte{byte(i)}, i*7)...)
				if err := sc.AsyncWriteMessage(OpBinary, p, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	recv(t, got.done, "every message")
	next := make([]uint32, writers)
	for _, m := range got.msgs {
		w, i := binary.BigEndian.Uint32(m), binary.BigEndian.Uint32(m[4:])
		if i != next[w] || len(m) != 8+int(i)*7 {
			t.Fatalf("writer %d: message %d (%d bytes), want %d", w, i, len(m), next[w])
		}
		next[w]++
	}
}

// collector keeps every message until want have come.
type collector struct {
	mu   sync.Mutex
	msgs [][]byte
	want int
	done chan struct{}
}

func (c *collector) OnOpen(*Conn) {}
func (c *collector) OnMessage(_ *Conn, _ Opcode, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, append([]byte(nil), p...))
	if len(c.msgs) == c.want {
		close(c.done)
	}
}
func (c *collector) OnClose(*Conn, error) {}

// TestBroadcast: one prepared message reaches every client, compressed
// or not as each negotiated.
func TestBroadcast(t *testing.T) {
	t.Parallel()
	const clients = 50
	srv := newRecorder(false)
	ws, addr := serve(t, srv, []Option{WithCompression(Compression{Enabled: true, Threshold: -1})})
	got := newRecorder(false)
	plain := newClient(t, got)
	zipped := newClient(t, got, WithCompression(Compression{Enabled: true}))
	for i := 0; i < clients; i++ {
		cl := plain
		if i%2 == 1 {
			cl = zipped
		}
		c := dialWS(t, cl, "ws://"+addr)
		if c.Compressed() != (i%2 == 1) {
			t.Fatalf("client %d: Compressed %v", i, c.Compressed())
		}
		recv(t, srv.opens, "server OnOpen")
	}
	msg := bytes.Repeat([]byte("broadcast "), 100)
	pm, err := NewPrepared(OpText, msg)
	if err != nil {
		t.Fatal(err)
	}
	if n := ws.Broadcast(pm); n != clients {
		t.Fatalf("Broadcast reached %d", n)
	}
	for i := 0; i < clients; i++ {
		if m := recv(t, got.messages, "broadcast"); !bytes.Equal(m.p, msg) || m.op != OpText {
			t.Fatalf("client got %v %q", m.op, trunc(m.p))
		}
	}
	if _, err := NewPrepared(OpPing, nil); !errors.Is(err, ErrBadOpcode) {
		t.Fatalf("NewPrepared(OpPing): %v", err)
	}
}

// TestSlowConsumer: a client that never reads is closed by mill's
// outbound limit, and OnClose says so.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	h := newRecorder(false)
	_, addr := serve(t, h, nil, mill.WithWriteWatermarks(32<<10, 128<<10), mill.WithOutboundLimit(256<<10, mill.CloseSlowConsumer), mill.WithSocketSendBuffer(16<<10))
	r, _ := upgrade(t, addr, "")
	c := recv(t, h.opens, "OnOpen")
	big := make([]byte, 32<<10)
	var werr error
	done := make(chan struct{})
	c.NetConn().Do(func(mill.Conn) {
		defer close(done)
		for i := 0; i < 1000 && werr == nil; i++ {
			werr = c.WriteMessage(OpBinary, big)
		}
	})
	recv(t, done, "writes")
	if !errors.Is(werr, mill.ErrSlowConsumer) {
		t.Fatalf("write: %v", werr)
	}
	err := recv(t, h.closes, "OnClose")
	var ce *CloseError
	if !errors.Is(err, mill.ErrSlowConsumer) || CloseStatus(err) != StatusAbnormal || !errors.As(err, &ce) || ce.Remote {
		t.Fatalf("OnClose: %v, want 1006 by us (Remote false) for a slow consumer", err)
	}
	_ = r
}

// TestIdleHoldsNoBuffer: between messages a connection holds no pooled
// buffer, whatever the messages' sizes and fragmentation.
func TestIdleHoldsNoBuffer(t *testing.T) {
	t.Parallel()
	h := newRecorder(true)
	ws, addr := serve(t, h, []Option{WithCompression(Compression{Enabled: true})})
	r, _ := upgrade(t, addr, "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n")
	c := recv(t, h.opens, "OnOpen")
	held := make(chan int64, 1)
	for _, n := range []int{0, 10, 1000, 100000} {
		p := bytes.Repeat([]byte("x"), n)
		r.write(frameBytes(rawFrame{fin: false, op: OpText, masked: true, p: p[:n/2]}))
		r.write(frameBytes(rawFrame{fin: true, op: OpContinuation, masked: true, p: p[n/2:]}))
		f, err := r.read()
		if err != nil || f.op != OpText {
			t.Fatalf("echo of %d: %v %v", n, f.op, err)
		}
		recv(t, h.messages, "message")
		// Counted on the loop, after the callback that delivered the
		// message has returned (and released what it held).
		c.NetConn().Do(func(mill.Conn) { held <- ws.ep.bufs.Outstanding() })
		if out := recv(t, held, "the count"); out != 0 {
			t.Fatalf("after a %d-byte message: %d buffers held", n, out)
		}
	}
}

// streamer is a StreamHandler that records frames.
type streamer struct {
	*recorder
	frames chan string
}

func (s *streamer) OnFrame(c *Conn, op Opcode, p []byte, final bool) {
	s.frames <- fmt.Sprintf("%v %d %v", op, len(p), final)
}

// TestStreamHandler: frames reach OnFrame as they complete; the limit
// bounds each frame.
func TestStreamHandler(t *testing.T) {
	t.Parallel()
	s := &streamer{recorder: newRecorder(false), frames: make(chan string, 16)}
	_, addr := serve(t, s, []Option{WithMaxMessage(1000)})
	r, _ := upgrade(t, addr, "")
	recv(t, s.opens, "OnOpen")
	p := make([]byte, 1000)
	r.write(frameBytes(rawFrame{op: OpBinary, masked: true, p: p}))
	if f := recv(t, s.frames, "frame 1"); f != "binary 1000 false" {
		t.Fatalf("frame 1: %s", f)
	}
	r.write(frameBytes(rawFrame{op: OpContinuation, masked: true, p: p}))
	r.write(frameBytes(rawFrame{fin: true, op: OpContinuation, masked: true, p: p[:3]}))
	for _, want := range []string{"binary 1000 false", "binary 3 true"} {
		if f := recv(t, s.frames, "frame"); f != want {
			t.Fatalf("frame %q, want %q", f, want)
		}
	}
	r.write(frameBytes(rawFrame{fin: true, op: OpBinary, masked: true, p: make([]byte, 1001)}))
	r.expectClose(StatusMessageTooBig)
	if err := recv(t, s.closes, "OnClose"); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("OnClose: %v", err)
	}
}
