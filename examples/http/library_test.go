package main

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mill-io/mill"
)

// Two faults of the library itself, found through this example and
// fixed there; each minimal test keeps them fixed.

// TestLingeringCloseReadsInput: a lingering close must read and drop the
// client's input until the client's FIN, and close then. It once did not
// (conn.HandleEvent read only while no close was requested, and a
// lingering close is one): the input was not drained (an uploading
// client blocked, then got a reset at the linger timeout), the client's
// FIN went unnoticed, and the loop spun on the unread socket.
func TestLingeringCloseReadsInput(t *testing.T) {
	s := startConfig(t, Config{Loops: 1}, mill.WithLingerTimeout(10*time.Second))
	rc := dialRaw(t, s.Addr().String())
	rc.send("GET / HTTP/1.1\r\n\r\n") // no Host: 400, then a lingering close
	if r := rc.read("GET"); r.Status != 400 {
		t.Fatalf("%+v", r)
	}
	rc.send(string(bytes.Repeat([]byte("x"), 8192)))
	if err := rc.c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(rc.br); len(rest) > 0 || err != nil {
		t.Fatalf("after the response: %q, %v", rest, err)
	}
	deadline := time.Now().Add(5 * time.Second) // prompt, but the machine may be loaded
	for s.Stats().Total.Open > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	tot := s.Stats().Total
	if tot.Open != 0 || tot.LingerDropped != 8192 {
		t.Fatalf("after the client's FIN: %d connections open, %d bytes dropped while lingering; want 0 and 8192",
			tot.Open, tot.LingerDropped)
	}
}

// TestReadTimeoutSparesAStreamThatProgresses: WithReadTimeout is to
// close a connection whose partial input is not completed within d
// (slowloris). A client that streams requests without pause, each write
// ending in the middle of a request, completes a request every few
// milliseconds and must not be closed. It once was, d after its first
// write (the clock restarted only when the input buffer emptied, not when
// the handler consumed input; now it restarts on progress and stops while
// mill itself holds reading off).
func TestReadTimeoutSparesAStreamThatProgresses(t *testing.T) {
	cfg := DefaultConfig
	cfg.Loops, cfg.ReadTimeout = 1, 300*time.Millisecond
	s := startConfig(t, cfg)
	rc := dialRaw(t, s.Addr().String())
	go io.Copy(io.Discard, rc.c) // read every response
	const half = len(get) / 2
	stream := []byte(get[half:] + get[:half]) // each write ends in the middle of a request
	rc.send(get[:half])
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		if _, err := rc.c.Write(stream); err != nil {
			t.Fatalf("the server closed a connection that completes a request every 5 ms: %v (closed: %+v)",
				err, s.Stats().Total.Closed)
		}
		time.Sleep(5 * time.Millisecond) // a steady stream, not an ordering
	}
	if n := s.Stats().Total.Closed.ReadTimeout; n != 0 {
		t.Fatalf("%d connections closed by the read timeout", n)
	}
}
