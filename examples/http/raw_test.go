package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mill-io/mill/http1"
)

// rawConn is a client connection that speaks bytes, reading responses
// with net/http's parser.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatal(err)
	}
}

type rawResp struct {
	Status int
	Header http.Header // net/http drops "Connection: close" from it...
	Close  bool        // ...and sets this instead
	Body   string
}

// read reads one response to a request with the given method.
func (rc *rawConn) read(method string) rawResp {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatalf("reading body: %v", err)
	}
	return rawResp{resp.StatusCode, resp.Header, resp.Close, string(body)}
}

// expectClosed wants the server to close the connection, with nothing
// more to read.
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := rc.br.Read(make([]byte, 1)); err != io.EOF {
		rc.t.Fatalf("want EOF, got %d bytes, %v", n, err)
	}
}

// expectOpen wants the connection open and quiet.
func (rc *rawConn) expectOpen() {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := rc.br.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		rc.t.Fatalf("want an open, quiet connection, got %v", err)
	}
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
}

// checkHeaders checks what every response carries.
func checkHeaders(t *testing.T, r rawResp) {
	t.Helper()
	if got := r.Header.Get("Server"); got != "mill" {
		t.Errorf("Server = %q", got)
	}
	if _, err := time.Parse(http.TimeFormat, r.Header.Get("Date")); err != nil {
		t.Errorf("Date: %v", err)
	}
	if r.Header.Get("Content-Length") == "" {
		t.Errorf("no Content-Length")
	}
}

// TestRefused sends each refused request of the parser tests over TCP:
// the status comes back, with Connection: close, then the server closes.
func TestRefused(t *testing.T) {
	addr := startServer(t, http1.Limits{})
	for _, tt := range badRequests {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			rc := dialRaw(t, addr)
			rc.send(tt.In)
			r := rc.read("GET")
			if r.Status != tt.Status {
				t.Fatalf("status %d, want %d (%q)", r.Status, tt.Status, r.Body)
			}
			checkHeaders(t, r)
			if !r.Close || r.Body == "" {
				t.Errorf("no Connection: close, or no body: %+v", r)
			}
			rc.expectClosed()
		})
	}
}

// TestRefusedMidStream: a bad request after good ones gets its status
// after their responses.
func TestRefusedMidStream(t *testing.T) {
	rc := dialRaw(t, startServer(t, http1.Limits{}))
	rc.send(get + get + "GET / HTTP/2.0\r\nHost: h\r\n\r\n" + get)
	for i := 0; i < 2; i++ {
		if r := rc.read("GET"); r.Status != 200 {
			t.Fatalf("response %d: %d", i, r.Status)
		}
	}
	if r := rc.read("GET"); r.Status != 505 {
		t.Fatalf("got %d, want 505", r.Status)
	}
	rc.expectClosed()
}

func TestRoutes(t *testing.T) {
	rc := dialRaw(t, startServer(t, http1.Limits{}))
	rc.send("GET /nope HTTP/1.1\r\nHost: h\r\n\r\n" +
		"POST /plaintext HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" +
		"GET /echo HTTP/1.1\r\nHost: h\r\n\r\n" +
		"HEAD /json HTTP/1.1\r\nHost: h\r\n\r\n" +
		"DELETE /json?x=1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"GET http://h/json HTTP/1.1\r\nHost: h\r\n\r\n" +
		"POST /echo HTTP/1.1\r\nHost: h\r\n\r\n" +
		"GET /plaintext HTTP/1.1\r\nHost: h\r\n\r\n")
	want := []struct {
		method      string
		status      int
		allow, body string
	}{
		{"GET", 404, "", "404 Not Found\n"},
		{"POST", 405, "GET, HEAD", "405 Method Not Allowed\n"},
		{"GET", 405, "POST", "405 Method Not Allowed\n"},
		{"HEAD", 200, "", ""},
		{"DELETE", 405, "GET, HEAD", "405 Method Not Allowed\n"},
		{"GET", 200, "", `{"message":"Hello, World!"}`},
		{"POST", 200, "", ""},
		{"GET", 200, "", "Hello, World!"},
	}
	for i, w := range want {
		r := rc.read(w.method)
		checkHeaders(t, r)
		if r.Status != w.status || r.Header.Get("Allow") != w.allow || r.Body != w.body {
			t.Errorf("response %d: %d Allow %q body %q, want %+v", i, r.Status, r.Header.Get("Allow"), r.Body, w)
		}
		if r.Close || r.Header.Get("Connection") != "" {
			t.Errorf("response %d: Connection %q, close %v", i, r.Header.Get("Connection"), r.Close)
		}
	}
	rc.expectOpen()
}

func TestHeadContentLength(t *testing.T) {
	rc := dialRaw(t, startServer(t, http1.Limits{}))
	rc.send("HEAD /plaintext HTTP/1.1\r\nHost: h\r\n\r\n" + get)
	r := rc.read("HEAD")
	if r.Status != 200 || r.Header.Get("Content-Length") != "13" || r.Body != "" ||
		r.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("HEAD: %+v", r)
	}
	if r := rc.read("GET"); r.Body != "Hello, World!" { // nothing stray in between
		t.Fatalf("GET after HEAD: %+v", r)
	}
}

func TestHTTP10(t *testing.T) {
	addr := startServer(t, http1.Limits{})
	t.Run("close", func(t *testing.T) {
		rc := dialRaw(t, addr)
		rc.send("GET /plaintext HTTP/1.0\r\n\r\n")
		r := rc.read("GET")
		if r.Status != 200 || r.Body != "Hello, World!" || !r.Close {
			t.Fatalf("%+v", r)
		}
		rc.expectClosed()
	})
	t.Run("keep-alive", func(t *testing.T) {
		rc := dialRaw(t, addr)
		for i := 0; i < 3; i++ {
			rc.send("GET /json HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
			r := rc.read("GET")
			if r.Status != 200 || r.Header.Get("Connection") != "keep-alive" {
				t.Fatalf("request %d: %+v", i, r)
			}
			rc.expectOpen()
		}
		rc.send("GET /json HTTP/1.0\r\n\r\n")
		if r := rc.read("GET"); !r.Close {
			t.Fatalf("%+v", r)
		}
		rc.expectClosed()
	})
}

func TestConnectionClose(t *testing.T) {
	rc := dialRaw(t, startServer(t, http1.Limits{}))
	// The second request is never answered: the first closes.
	rc.send("GET /plaintext HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" + get)
	r := rc.read("GET")
	if r.Status != 200 || r.Body != "Hello, World!" || !r.Close {
		t.Fatalf("%+v", r)
	}
	rc.expectClosed()
}

// TestPipelined writes many requests at once and wants the answers in
// order.
func TestPipelined(t *testing.T) {
	rc := dialRaw(t, startServer(t, http1.Limits{}))
	const n = 2000
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("request %d", i)
		switch i % 4 {
		case 0:
			b.WriteString(get)
		case 1:
			fmt.Fprintf(&b, "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		case 2:
			fmt.Fprintf(&b, "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
		case 3:
			b.WriteString("GET /json HTTP/1.1\r\nHost: h\r\n\r\n")
		}
	}
	done := make(chan error, 1)
	go func() { _, err := rc.c.Write(b.Bytes()); done <- err }()
	for i := 0; i < n; i++ {
		want := "Hello, World!"
		switch i % 4 {
		case 1, 2:
			want = fmt.Sprintf("request %d", i)
		case 3:
			want = `{"message":"Hello, World!"}`
		}
		if r := rc.read("GET"); r.Status != 200 || r.Body != want {
			t.Fatalf("response %d: %d %q, want %q", i, r.Status, r.Body, want)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rc.expectOpen()
}

// TestTrickle sends requests one byte per write.
func TestTrickle(t *testing.T) {
	rc := dialRaw(t, startServer(t, http1.Limits{}))
	req := "POST /echo?x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;a=b\r\nhello\r\n7\r\n, world\r\n0\r\nT: x\r\n\r\n" + get
	for i := 0; i < len(req); i++ {
		rc.send(req[i : i+1])
		if i%16 == 0 {
			time.Sleep(time.Millisecond) // let some writes arrive alone
		}
	}
	if r := rc.read("POST"); r.Status != 200 || r.Body != "hello, world" {
		t.Fatalf("%+v", r)
	}
	if r := rc.read("GET"); r.Body != "Hello, World!" {
		t.Fatalf("%+v", r)
	}
}

func TestExpectContinue(t *testing.T) {
	rc := dialRaw(t, startServer(t, http1.Limits{}))
	rc.send("POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	line, err := rc.br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v", line, err)
	}
	if blank, _ := rc.br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("got %q after 100 Continue", blank)
	}
	rc.send("hello")
	if r := rc.read("POST"); r.Status != 200 || r.Body != "hello" {
		t.Fatalf("%+v", r)
	}
	// Body already there: no 100.
	rc.send("POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi")
	if r := rc.read("POST"); r.Status != 200 || r.Body != "hi" {
		t.Fatalf("%+v", r)
	}
}

// TestTooLargeUpload: the client is still sending when the 413 comes; it
// must get to read it, then the server closes. The upload runs on its own
// goroutine while the response is read, as a real client's would: the
// server reads and drops it while its close lingers, until the client's
// FIN (or the linger timeout; then the rest of the upload may meet a
// reset, which is no longer the response's concern).
func TestTooLargeUpload(t *testing.T) {
	rc := dialRaw(t, startServer(t, http1.Limits{}))
	rc.send("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 4000000\r\n\r\n")
	uploaded := make(chan error, 1)
	go func() {
		_, err := rc.c.Write(make([]byte, 4000000))
		uploaded <- err
	}()
	r := rc.read("POST")
	if r.Status != 413 || !strings.Contains(r.Body, "too large") || !r.Close {
		t.Fatalf("%+v", r)
	}
	rc.expectClosed() // the server's FIN follows the response
	if err := <-uploaded; err != nil {
		t.Logf("upload: %v", err)
	}
}
