package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/http1"
)

func TestMain(m *testing.M) {
	// IgnoreCurrent: goroutines that dependencies start when the program
	// loads are not this package's leaks.
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// startServer serves a fresh server with the command's defaults, two
// loops and limits lim on 127.0.0.1:0 until the test ends, and returns
// its address. extra options come last.
func startServer(t testing.TB, lim http1.Limits, extra ...mill.Option) string {
	t.Helper()
	cfg := DefaultConfig
	cfg.Loops, cfg.Limits = 2, lim
	return startConfig(t, cfg, extra...).Addr().String()
}

// startConfig serves a fresh server configured by cfg, as the command
// does, on 127.0.0.1:0 until the test ends. Its ticker runs every 100 ms.
func startConfig(t testing.TB, cfg Config, extra ...mill.Option) *mill.Server {
	t.Helper()
	s, _ := startHandler(t, cfg, extra...)
	return s
}

// startHandler is startConfig that also returns the handler.
func startHandler(t testing.TB, cfg Config, extra ...mill.Option) (*mill.Server, *server) {
	t.Helper()
	h := newServer(cfg.Limits)
	h.tick = 100 * time.Millisecond
	s, err := mill.NewServer(h, "tcp://127.0.0.1:0", append(cfg.options(), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.ready = s.IsReady
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, mill.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, h
}

// newClient returns a net/http client of its own, whose idle connections
// close when the test ends.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, url string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestClientGet(t *testing.T) {
	base := "http://" + startServer(t, http1.Limits{})
	c := newClient(t)
	for _, tt := range []struct{ path, ctype, body string }{
		{"/plaintext", "text/plain", "Hello, World!"},
		{"/json", "application/json", `{"message":"Hello, World!"}`},
	} {
		resp, body := do(t, c, "GET", base+tt.path, nil)
		if resp.StatusCode != 200 || body != tt.body || resp.ContentLength != int64(len(tt.body)) {
			t.Errorf("%s: %d %q (length %d)", tt.path, resp.StatusCode, body, resp.ContentLength)
		}
		if resp.Header.Get("Content-Type") != tt.ctype || resp.Header.Get("Server") != "mill" {
			t.Errorf("%s: header %v", tt.path, resp.Header)
		}
		if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || time.Since(d).Abs() > 3*time.Second {
			t.Errorf("%s: Date %q (%v)", tt.path, resp.Header.Get("Date"), err)
		}
	}
	resp, body := do(t, c, "HEAD", base+"/plaintext", nil)
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != 13 {
		t.Errorf("HEAD: %d %q (length %d)", resp.StatusCode, body, resp.ContentLength)
	}
	if resp, _ := do(t, c, "GET", base+"/nowhere", nil); resp.StatusCode != 404 {
		t.Errorf("GET /nowhere: %d", resp.StatusCode)
	}
}

// TestClientKeepAlive wants one connection to carry all requests.
func TestClientKeepAlive(t *testing.T) {
	base := "http://" + startServer(t, http1.Limits{})
	c := newClient(t)
	reused := 0
	for i := 0; i < 100; i++ {
		path := []string{"/plaintext", "/json"}[i%2]
		req, _ := http.NewRequest("GET", base+path, nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				if info.Reused {
					reused++
				}
			},
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	if reused != 99 {
		t.Errorf("%d of 99 requests reused the connection", reused)
	}
}

// unknownLength hides a reader's length, so net/http sends it chunked.
type unknownLength struct{ io.Reader }

func TestClientEcho(t *testing.T) {
	base := "http://" + startServer(t, http1.Limits{})
	c := newClient(t)
	payload := make([]byte, 300<<10)
	rand.NewChaCha8([32]byte{1}).Read(payload)
	for _, size := range []int{0, 1, 5000, len(payload)} {
		p := payload[:size]
		resp, body := do(t, c, "POST", base+"/echo", bytes.NewReader(p))
		if resp.StatusCode != 200 || body != string(p) {
			t.Errorf("Content-Length %d: %d, %d bytes back", size, resp.StatusCode, len(body))
		}
		req, _ := http.NewRequest("POST", base+"/echo", unknownLength{bytes.NewReader(p)})
		if req.ContentLength != 0 || req.Body == nil { // that is: unknown, so chunked
			t.Fatalf("the request would not be chunked")
		}
		resp, body = do(t, c, "POST", base+"/echo", unknownLength{bytes.NewReader(p)})
		if resp.StatusCode != 200 || body != string(p) {
			t.Errorf("chunked %d: %d, %d bytes back", size, resp.StatusCode, len(body))
		}
	}
}

// TestClientBodyLimit posts bodies at the limit and just over it.
func TestClientBodyLimit(t *testing.T) {
	base := "http://" + startServer(t, http1.Limits{})
	c := newClient(t)
	p := bytes.Repeat([]byte("0123456789abcdef"), http1.DefaultLimits.MaxBody/16)
	if resp, body := do(t, c, "POST", base+"/echo", bytes.NewReader(p)); resp.StatusCode != 200 || body != string(p) {
		t.Errorf("at the limit: %d, %d bytes back", resp.StatusCode, len(body))
	}
	if resp, _ := do(t, c, "POST", base+"/echo", unknownLength{bytes.NewReader(p)}); resp.StatusCode != 200 {
		t.Errorf("chunked at the limit: %d", resp.StatusCode)
	}
	p = append(p, 'x')
	if resp, _ := do(t, c, "POST", base+"/echo", bytes.NewReader(p)); resp.StatusCode != 413 || !resp.Close {
		t.Errorf("over the limit: %d, close %v", resp.StatusCode, resp.Close)
	}
	if resp, _ := do(t, c, "POST", base+"/echo", unknownLength{bytes.NewReader(p)}); resp.StatusCode != 413 {
		t.Errorf("chunked over the limit: %d", resp.StatusCode)
	}
}

// TestDate wants the Date header to be current, the same within a
// second, and refreshed by the ticker.
func TestDate(t *testing.T) {
	rc := dialRaw(t, startServer(t, http1.Limits{}))
	date := func() time.Time {
		rc.send(get)
		d, err := http.ParseTime(rc.read("GET").Header.Get("Date"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d1, d2 := date(), date()
	if !d1.Equal(d2) { // a second turned in between: try again
		d1, d2 = date(), date()
	}
	if !d1.Equal(d2) {
		t.Fatalf("Date changed twice within two pairs of requests: %v, %v", d1, d2)
	}
	if off := time.Since(d1); off < -time.Second || off > 2*time.Second {
		t.Fatalf("Date %v is %v off", d1, off)
	}
	deadline := time.Now().Add(2500 * time.Millisecond)
	for {
		time.Sleep(20 * time.Millisecond)
		d := date()
		if d.After(d1) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Date still %v after 2.5 s", d)
		}
	}
}

func TestClockFormat(t *testing.T) {
	var c clock
	now := time.Date(2026, 3, 4, 5, 6, 7, 999, time.FixedZone("X", 3600))
	c.set(now)
	if got := string(c.get()); got != "Wed, 04 Mar 2026 04:06:07 GMT" {
		t.Fatalf("got %q", got)
	}
	if got := untilNextSecond(now); got != time.Second-999+time.Millisecond {
		t.Fatalf("untilNextSecond = %v", got)
	}
}
