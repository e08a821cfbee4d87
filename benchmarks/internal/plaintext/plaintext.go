// Package plaintext is the GET /plaintext handler of the net/http-style
// benchmark servers (servers/nethttp, servers/nbhttp). It answers with the
// header fields and body of examples/http (mill) and servers/gnethttp:
// Server: mill, a Date refreshed once a second, Content-Type: text/plain,
// Content-Length: 13 and "Hello, World!". The order of the header fields
// is the server library's (net/http sorts them), so the bytes on the wire
// have the same size but may differ in order.
package plaintext

import (
	"net/http"
	"sync/atomic"
	"time"
)

// Body is the response body of GET /plaintext.
const Body = "Hello, World!"

var (
	body = []byte(Body)
	date atomic.Pointer[[]string]
)

func setDate(now time.Time) {
	v := []string{now.UTC().Format(http.TimeFormat)}
	date.Store(&v)
}

func init() {
	setDate(time.Now())
	go func() {
		for {
			now := time.Now()
			time.Sleep(time.Second - time.Duration(now.Nanosecond()) + time.Millisecond)
			setDate(time.Now())
		}
	}()
}

var (
	server = []string{"mill"}
	ctype  = []string{"text/plain"}
	clen   = []string{"13"}
)

// Handler answers GET and HEAD /plaintext, and 404 to everything else.
func Handler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/plaintext" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h["Server"] = server
	h["Date"] = *date.Load()
	h["Content-Type"] = ctype
	h["Content-Length"] = clen
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}
