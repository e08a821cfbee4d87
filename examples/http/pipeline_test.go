package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mill-io/mill"
)

// Pipelining against a client that reads slowly, or not until it has
// sent everything: every response must come back, in order, or the
// connection must close — never a gap, never a response out of step.
// (Before flow control, a client pipelining 300,000 requests got 150,295
// responses with a gap in the middle on a connection that stayed open.)

// seqRequest appends request i of a pipelined sequence: a POST /echo
// whose body is i, or a GET of /plaintext or /json, in turn, so that a
// missing or repeated response shows at once.
func seqRequest(b []byte, i int) []byte {
	switch i % 3 {
	case 0:
		id := fmt.Sprintf("%09d", i)
		return fmt.Appendf(b, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", len(id), id)
	case 1:
		return append(b, get...)
	}
	return append(b, "GET /json HTTP/1.1\r\nHost: h\r\n\r\n"...)
}

// seqBody is the body of the response to request i.
func seqBody(i int) string {
	switch i % 3 {
	case 0:
		return fmt.Sprintf("%09d", i)
	case 1:
		return "Hello, World!"
	}
	return `{"message":"Hello, World!"}`
}

// respReader reads responses without net/http's allocations, fast
// enough for a million of them.
type respReader struct {
	br   *bufio.Reader
	body []byte
}

// next reads one response; body is valid until the next call.
func (r *respReader) next() (status int, body []byte, err error) {
	line, err := r.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, nil, fmt.Errorf("status line %q", line)
	}
	status, _ = strconv.Atoi(string(line[9:12]))
	length := -1
	for {
		line, err = r.br.ReadSlice('\n')
		if err != nil {
			return status, nil, err
		}
		if len(line) == 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if length < 0 {
		return status, nil, errors.New("no Content-Length")
	}
	if cap(r.body) < length {
		r.body = make([]byte, length)
	}
	r.body = r.body[:length]
	_, err = io.ReadFull(r.br, r.body)
	return status, r.body, err
}

// slowReader reads from r, first after a pause of first, then sleeping
// every per bytes for every: a client that reads more slowly than the
// server answers, so that the server's output backs up.
type slowReader struct {
	r            io.Reader
	first, every time.Duration
	per, since   int
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.first > 0 {
		time.Sleep(s.first)
		s.first = 0
	}
	if s.since >= s.per {
		time.Sleep(s.every)
		s.since = 0
	}
	n, err := s.r.Read(p[:min(len(p), s.per-s.since)])
	s.since += n
	return n, err
}

// pipeline sends n sequenced requests on a new connection to s, from a
// writer that never waits for responses (in writes of chunk bytes, or
// all in one write if chunk is 0), while a slow reader checks every
// response in order. It fails the test on a gap, a response out of
// step, or a close before the last response.
func pipeline(t *testing.T, s *mill.Server, n, chunk int) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(120 * time.Second))
	if err := c.(*net.TCPConn).SetReadBuffer(32 << 10); err != nil { // a small window, likewise
		t.Fatal(err)
	}
	var reqs []byte
	for i := range n {
		reqs = seqRequest(reqs, i)
	}
	werr := make(chan error, 1)
	go func() {
		if chunk == 0 {
			_, err := c.Write(reqs)
			werr <- err
			return
		}
		for b := reqs; len(b) > 0; {
			k := min(chunk, len(b))
			if _, err := c.Write(b[:k]); err != nil {
				werr <- err
				return
			}
			b = b[k:]
		}
		werr <- nil
	}()
	rr := &respReader{br: bufio.NewReaderSize(&slowReader{r: c, first: 300 * time.Millisecond, every: time.Millisecond, per: 256 << 10}, 64<<10)}
	for i := range n {
		status, body, err := rr.next()
		if err != nil {
			t.Fatalf("response %d of %d: %v (the server closed or the stream broke)", i, n, err)
		}
		if want := seqBody(i); status != 200 || string(body) != want {
			t.Fatalf("response %d of %d: %d %q, want 200 %q: out of step", i, n, status, body, want)
		}
	}
	if err := <-werr; err != nil {
		t.Fatalf("writing the requests: %v", err)
	}
	// Nothing more: the connection is open and quiet.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if k, err := rr.br.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after the last response: %d bytes, %v; want an open, quiet connection", k, err)
	}
}

// checkFlowControlUsed wants the server to have paused reading for a
// slow reader, held requests back until the output drained, and closed
// nobody as a slow consumer.
func checkFlowControlUsed(t *testing.T, s *mill.Server, h *server) {
	t.Helper()
	tot := s.Stats().Total
	if tot.FlowPauses == 0 || h.held.Load() == 0 {
		t.Errorf("flow control paused the connection %d times, serve held requests back %d times: the reader was not slow enough to test it",
			tot.FlowPauses, h.held.Load())
	}
	if tot.Closed.SlowConsumer != 0 || tot.WritesRefused != 0 {
		t.Errorf("slow consumers closed %d, writes refused %d", tot.Closed.SlowConsumer, tot.WritesRefused)
	}
	t.Logf("flow-control pauses: %d; requests held back %d times", tot.FlowPauses, h.held.Load())
}

// pipelineServer is the command's server with two loops and small
// socket send buffers, so that its output backs up into mill's queue
// (and not only the kernel's) after a few megabytes of responses.
func pipelineServer(t *testing.T) (*mill.Server, *server) {
	cfg := DefaultConfig
	cfg.Loops = 2
	return startHandler(t, cfg, mill.WithSocketSendBuffer(64<<10))
}

// TestPipelinedSlowReader: 300,000 requests pipelined in 16 KiB writes
// (30,000 under -race or -short), read slowly.
func TestPipelinedSlowReader(t *testing.T) {
	n := 300_000
	if raceEnabled || testing.Short() {
		n = 30_000
	}
	s, h := pipelineServer(t)
	pipeline(t, s, n, 16<<10)
	checkFlowControlUsed(t, s, h)
}

// TestPipelinedOneWrite: a million requests in one write (50,000 under
// -race or -short), read slowly. (Before flow control: 595,403
// responses, then silence.)
func TestPipelinedOneWrite(t *testing.T) {
	n := 1_000_000
	if raceEnabled || testing.Short() {
		n = 50_000
	}
	s, h := pipelineServer(t)
	pipeline(t, s, n, 0)
	checkFlowControlUsed(t, s, h)
}
