package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
	"github.com/mill-io/mill/internal/httpcases"
)

// Requests larger than mill's default inbound limit (4 MiB) must be
// served when the server's own limits accept them, and refused with their
// status when not — never left hanging. (Before, a 5 MiB POST to a server
// started with -max-body 33554432 got 100 Continue, then nothing.)

// raisedBody is the command run with -max-body 33554432.
func raisedBody(t *testing.T, extra ...mill.Option) string {
	t.Helper()
	cfg := DefaultConfig
	cfg.Loops, cfg.Limits = 2, http1.Limits{MaxBody: 32 << 20}
	return startConfig(t, cfg, extra...).Addr().String()
}

func randomBytes(n int, seed byte) []byte {
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(p)
	return p
}

// TestLargeBodies posts bodies past mill's default inbound limit, and past
// its default outbound limit, to a server whose -max-body accepts them:
// each comes back whole, Content-Length and chunked.
func TestLargeBodies(t *testing.T) {
	base := "http://" + raisedBody(t)
	c := newClient(t)
	c.Timeout = 60 * time.Second
	sizes := []int{5 << 20, 20 << 20}
	if raceEnabled || testing.Short() {
		sizes = sizes[:1]
	}
	for _, size := range sizes {
		p := randomBytes(size, byte(size>>20))
		resp, body := do(t, c, "POST", base+"/echo", bytes.NewReader(p))
		if resp.StatusCode != 200 || body != string(p) {
			t.Errorf("%d MiB: %d, %d bytes back", size>>20, resp.StatusCode, len(body))
		}
		resp, body = do(t, c, "POST", base+"/echo", unknownLength{bytes.NewReader(p)})
		if resp.StatusCode != 200 || body != string(p) {
			t.Errorf("%d MiB chunked: %d, %d bytes back", size>>20, resp.StatusCode, len(body))
		}
	}
}

// TestLargeBodyExpectContinue is the report's case: a 5 MiB POST with
// Expect: 100-continue, as curl sends it, gets 100 Continue, then its
// response.
func TestLargeBodyExpectContinue(t *testing.T) {
	rc := dialRaw(t, raisedBody(t))
	p := randomBytes(5<<20, 5)
	rc.send(fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(p)))
	if line, err := rc.br.ReadString('\n'); line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v", line, err)
	}
	if blank, _ := rc.br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("got %q after 100 Continue", blank)
	}
	sent := make(chan error, 1)
	go func() { _, err := rc.c.Write(p); sent <- err }()
	if r := rc.read("POST"); r.Status != 200 || r.Body != string(p) {
		t.Fatalf("%d, %d bytes back", r.Status, len(r.Body))
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// TestLargestChunkedRequest sends the largest request a server with
// MaxBody 4 MiB accepts, near Limits.MaxRequest: a chunked body of
// almost 4 MiB of data whose framing (long chunk extensions) takes almost
// as much again, about 8 MiB on the wire, twice mill's default inbound
// limit. The inbound limit the command sets lets it through.
func TestLargestChunkedRequest(t *testing.T) {
	cfg := DefaultConfig
	cfg.Loops, cfg.Limits = 2, http1.Limits{MaxBody: 4 << 20}
	rc := dialRaw(t, startConfig(t, cfg).Addr().String())
	var req bytes.Buffer
	req.WriteString("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
	ext := ";x=" + strings.Repeat("e", 1000)
	data := randomBytes(1000, 9)
	n := 0
	for framing := 0; n+len(data) <= cfg.Limits.MaxBody && framing+len(ext)+16 <= cfg.Limits.MaxBody-1024; {
		line := fmt.Sprintf("%x%s\r\n", len(data), ext)
		req.WriteString(line)
		req.Write(data)
		req.WriteString("\r\n")
		framing += len(line) + 2
		n += len(data)
	}
	req.WriteString("0\r\n\r\n")
	if req.Len() <= mill.DefaultInboundLimit || req.Len() > cfg.Limits.MaxRequest() {
		t.Fatalf("request of %d bytes: want between mill's default inbound limit %d and MaxRequest %d",
			req.Len(), mill.DefaultInboundLimit, cfg.Limits.MaxRequest())
	}
	sent := make(chan error, 1)
	go func() { _, err := rc.c.Write(req.Bytes()); sent <- err }()
	r := rc.read("POST")
	if r.Status != 200 || len(r.Body) != n {
		t.Fatalf("%d bytes on the wire: status %d, %d bytes back, want %d", req.Len(), r.Status, len(r.Body), n)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// keepSending writes junk on c until stop is closed or a write fails,
// as a client whose upload never ends; done is closed when it returns.
func keepSending(c net.Conn, stop <-chan struct{}) (done <-chan struct{}) {
	d := make(chan struct{})
	go func() {
		defer close(d)
		junk := bytes.Repeat([]byte("x"), 16<<10)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Write(junk); err != nil {
				return
			}
		}
	}()
	return d
}

// expectEnd wants the connection to end (EOF, or a reset once the
// server's close stopped lingering) with no more bytes.
func (rc *rawConn) expectEnd() {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(rc.br)
	if len(rest) > 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
		rc.t.Fatalf("after the response: %q, %v; want EOF or a reset", rest, err)
	}
}

// TestRefusedWhileSending: a client that goes on sending after a refused
// request — an upload that never stops — reads the whole error response
// (status, headers, body), then the connection ends. The server closes
// lingering: it sends the response and its FIN, and reads and drops the
// client's input for the linger timeout, so that its close does not reset
// the connection before the response is read.
func TestRefusedWhileSending(t *testing.T) {
	addr := startServer(t, http1.Limits{}, mill.WithLingerTimeout(time.Second))
	cases := append([]httpcases.Case{
		{Name: "upload too large", In: "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n", Status: 413},
		{Name: "chunked upload too large", In: "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n", Status: 413},
	}, badRequests...)
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			rc := dialRaw(t, addr)
			rc.send(tt.In)
			stop := make(chan struct{})
			done := keepSending(rc.c, stop)
			defer func() { close(stop); rc.c.Close(); <-done }()
			r := rc.read("GET") // the body is read in full, to its Content-Length
			if r.Status != tt.Status || !r.Close || r.Body == "" {
				t.Fatalf("got %d (close %v, body %q), want %d", r.Status, r.Close, r.Body, tt.Status)
			}
			rc.expectEnd()
		})
	}
}

// TestUploadOverRaisedLimit: with -max-body 33554432, a 40 MiB upload
// that goes on sending gets its 413 in full, then the connection ends.
func TestUploadOverRaisedLimit(t *testing.T) {
	rc := dialRaw(t, raisedBody(t, mill.WithLingerTimeout(time.Second)))
	rc.send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 41943040\r\n\r\n")
	stop := make(chan struct{})
	done := keepSending(rc.c, stop)
	defer func() { close(stop); rc.c.Close(); <-done }()
	r := rc.read("POST")
	if r.Status != 413 || r.Body != "request body too large\n" || !r.Close {
		t.Fatalf("%+v", r)
	}
	rc.expectEnd()
}

// TestInboundLimitFollowsTheLimits checks the arithmetic: the inbound
// limit holds the largest request and a read more, and the outbound
// limit the largest response past the high watermark and a batch.
func TestInboundLimitFollowsTheLimits(t *testing.T) {
	for _, lim := range []http1.Limits{{}, {MaxBody: 32 << 20}, {MaxHead: 64 << 10, MaxBody: 1}} {
		cfg := Config{Limits: lim}
		l := lim.WithDefaults()
		if in := cfg.InboundLimit(); in < 2*(l.MaxHead+l.MaxBody)+mill.DefaultReadBufferCap {
			t.Errorf("%+v: inbound limit %d", lim, in)
		}
		if out := cfg.OutboundLimit(); out < mill.DefaultHighWatermark+flushAt+l.MaxBody+l.MaxHead || out < mill.DefaultOutboundLimit {
			t.Errorf("%+v: outbound limit %d", lim, out)
		}
	}
}
