package websocket

// Fuzzers for the opening handshake (the server's judgement of upgrade
// requests, the client's parsing of responses) and for a whole server
// connection driven over a milltest fake Conn.

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/mill-io/mill/http1"
	"github.com/mill-io/mill/milltest"
)

// fuzzEcho is the Handler of the fuzzed servers: it echoes every
// message; a text message "close" makes it close with 1000.
type fuzzEcho struct{}

// OnOpen does nothing. Loop goroutine.
func (fuzzEcho) OnOpen(*Conn) {}

// OnMessage echoes. Loop goroutine.
func (fuzzEcho) OnMessage(c *Conn, op Opcode, p []byte) {
	if op == OpText && string(p) == "close" {
		_ = c.Close(StatusNormal, "bye")
		return
	}
	_ = c.WriteMessage(op, p)
}

// OnClose does nothing. Loop goroutine.
func (fuzzEcho) OnClose(*Conn, error) {}

// wsOracle is an independent reading of RFC 6455 §4.2.1 (and of the
// default same-origin policy) for a parsed request: ok reports whether
// every condition for a 101 holds; originOK whether the Origin check
// passes.
func wsOracle(r *http1.Request) (ok, originOK bool) {
	values := func(name string) []string {
		var vs []string
		for _, h := range r.Headers {
			if strings.EqualFold(string(h.Name), name) {
				vs = append(vs, string(h.Value))
			}
		}
		return vs
	}
	// hasTok: some field named name lists tok among its comma-separated
	// elements, in any case.
	hasTok := func(name, tok string) bool {
		for _, v := range values(name) {
			for _, e := range strings.Split(v, ",") {
				if strings.EqualFold(strings.Trim(e, " \t"), tok) {
					return true
				}
			}
		}
		return false
	}
	keys, versions := values("Sec-WebSocket-Key"), values("Sec-WebSocket-Version")
	ok = string(r.Method) == "GET" && r.Minor >= 1 && r.Host != nil &&
		hasTok("Upgrade", "websocket") && hasTok("Connection", "upgrade") &&
		len(versions) == 1 && strings.Trim(versions[0], " \t") == "13" &&
		len(keys) == 1
	if ok {
		k, err := base64.StdEncoding.DecodeString(strings.Trim(keys[0], " \t"))
		ok = err == nil && len(k) == 16
	}
	origins := values("Origin")
	switch len(origins) {
	case 0:
		originOK = true
	case 1:
		// scheme://host[:port]: host names compared in any case and
		// without a trailing dot, ports with the scheme's default for a
		// missing one.
		scheme, rest, found := strings.Cut(origins[0], "://")
		host := rest
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		// User information (which a browser never sends in an Origin)
		// is refused.
		if strings.Contains(host, "@") {
			found = false
		}
		def := map[string]string{"http": "80", "ws": "80", "https": "443", "wss": "443"}[strings.ToLower(scheme)]
		oh, op := oracleHostPort(host, def)
		hh, hp := oracleHostPort(string(r.Host), def)
		originOK = found && host != "" && op != "" && op == hp && oh == hh
	}
	return ok, originOK
}

// oracleHostPort splits "name[:port]" or "[v6][:port]" into the name (in
// lower case, without a trailing dot or brackets) and the port (def if
// there is none).
func oracleHostPort(s, def string) (name, port string) {
	name = s
	if strings.HasPrefix(s, "[") {
		if end := strings.IndexByte(s, ']'); end >= 0 {
			name = s[1:end]
			port, _ = strings.CutPrefix(s[end+1:], ":")
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		name, port = s[:i], s[i+1:]
	}
	if port == "" {
		port = def
	}
	return strings.ToLower(strings.TrimSuffix(name, ".")), port
}

func FuzzUpgradeRequest(f *testing.F) {
	f.Add([]byte("GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	f.Add([]byte("GET /chat HTTP/1.1\r\nHost: example.com:80\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://Example.com.\r\n\r\n"))
	f.Add([]byte("GET /chat HTTP/1.1\r\nHost: [::1]\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: https://[::1]:443\r\n\r\n"))
	ws, err := NewServer(fuzzEcho{}, WithSubprotocols("chat", "superchat"),
		WithCompression(Compression{Enabled: true}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var codec http1.Codec
		codec.Init(http1.Limits{})
		n, perr := codec.Parse(in)
		if perr != nil || n == 0 {
			return
		}
		r := &codec.Req
		a, rf := ws.ep.checkUpgrade(milltest.NewConn(), r)
		if (a == nil) == (rf == nil) {
			t.Fatalf("checkUpgrade returned %v and %v", a, rf)
		}
		ok, originOK := wsOracle(r)
		if rf != nil {
			if rf.status < 400 || rf.status > 599 {
				t.Fatalf("refused with status %d", rf.status)
			}
			var out []byte
			out = rf.appendResponse(out)
			if resp, m, err := parseResponse(out); err != nil || m != len(out)-len(rf.reason)-1 || resp.status != rf.status {
				t.Fatalf("refusal response %q does not parse back: %v", out, err)
			}
			// A request that meets every condition, with no body and
			// an acceptable Origin, must be accepted.
			if ok && originOK && len(r.Body) == 0 && !r.Chunked {
				t.Fatalf("valid upgrade request refused with %d %s:\n%q", rf.status, rf.reason, in[:n])
			}
			return
		}
		if !ok {
			t.Fatalf("101 for a request RFC 6455 §4.2.1 refuses:\n%q", in[:n])
		}
		if !originOK {
			t.Fatalf("101 for a cross-origin request:\n%q", in[:n])
		}
		if a.protocol != "" {
			offered := false
			for _, h := range r.Headers {
				if strings.EqualFold(string(h.Name), "Sec-WebSocket-Protocol") {
					for _, e := range strings.Split(string(h.Value), ",") {
						offered = offered || strings.Trim(e, " \t") == a.protocol
					}
				}
			}
			if !offered {
				t.Fatalf("subprotocol %q chosen but not offered:\n%q", a.protocol, in[:n])
			}
		}
		// The 101 response: well formed, with the right accept value.
		out := a.appendResponse(nil)
		resp, m, err := parseResponse(out)
		if err != nil || m != len(out) || resp.status != 101 {
			t.Fatalf("101 response %q does not parse: %v", out, err)
		}
		sum := sha1.Sum([]byte(strings.Trim(string(a.key), " \t") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		want := "Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n"
		if !bytes.Contains(out, []byte(want)) {
			t.Fatalf("101 response %q lacks %q", out, want)
		}
	})
}

func FuzzResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x02hi"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, n, err := parseResponse(in)
		if n < 0 || n > len(in) {
			t.Fatalf("n = %d for %d bytes", n, len(in))
		}
		if err != nil {
			if r != nil || n != 0 {
				t.Fatalf("error %v with a response (n = %d)", err, n)
			}
			return
		}
		if n == 0 {
			if r != nil {
				t.Fatal("a response with n = 0")
			}
			return
		}
		if r.status < 100 || r.status > 599 {
			t.Fatalf("status %d", r.status)
		}
		for _, f := range r.fields {
			if !http1.IsToken(f.Name) || bytes.ContainsAny(f.Value, "\r\n\x00") {
				t.Fatalf("field %q: %q", f.Name, f.Value)
			}
		}
		if !bytes.HasSuffix(in[:n], []byte("\r\n\r\n")) {
			t.Fatalf("head %q does not end in an empty line", in[:n])
		}
		// The head alone parses the same as with what follows it, and
		// every prefix of it is incomplete (so a head read in pieces
		// parses the same as one read whole).
		head := bytes.Clone(in[:n])
		r2, n2, err2 := parseResponse(head)
		if err2 != nil || n2 != n || !sameResponse(r, r2) {
			t.Fatalf("head alone: %v, n %d; want n %d", err2, n2, n)
		}
		for _, k := range []int{0, 1, n / 3, n / 2, n - 2, n - 1} {
			if k < 0 || k >= n {
				continue
			}
			if rp, np, errp := parseResponse(head[:k]); rp != nil || np != 0 || errp != nil {
				t.Fatalf("prefix of %d of a %d-byte head: n %d, %v", k, n, np, errp)
			}
		}
	})
}

// sameResponse reports whether a and b have the same status and fields.
func sameResponse(a, b *response) bool {
	if a.status != b.status || len(a.fields) != len(b.fields) {
		return false
	}
	for i := range a.fields {
		if !bytes.Equal(a.fields[i].Name, b.fields[i].Name) || !bytes.Equal(a.fields[i].Value, b.fields[i].Value) {
			return false
		}
	}
	return true
}

// wireFrame is one frame as the fuzz tests' own parser reads it.
type wireFrame struct {
	op      byte
	masked  bool
	payload []byte
}

// readFrames parses frames from b by RFC 6455 §5.2, unmasking masked
// payloads; rest is an incomplete frame at the end.
func readFrames(b []byte) (frames []wireFrame, rest []byte) {
	for {
		if len(b) < 2 {
			return frames, b
		}
		op, masked, l := b[0]&0x0f, b[1]&0x80 != 0, uint64(b[1]&0x7f)
		i := 2
		switch l {
		case 126:
			if len(b) < 4 {
				return frames, b
			}
			l, i = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return frames, b
			}
			l, i = binary.BigEndian.Uint64(b[2:]), 10
		}
		var key []byte
		if masked {
			if len(b) < i+4 {
				return frames, b
			}
			key, i = b[i:i+4], i+4
		}
		if uint64(len(b)-i) < l {
			return frames, b
		}
		p := bytes.Clone(b[i : i+int(l)])
		for j := range p {
			if masked {
				p[j] ^= key[j%4]
			}
		}
		frames = append(frames, wireFrame{op: op, masked: masked, payload: p})
		b = b[i+int(l):]
	}
}

// fuzzUpgrade is the upgrade request FuzzServerStream opens with; with
// compression it offers permessage-deflate.
func fuzzUpgrade(compress bool) []byte {
	s := "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if compress {
		s += "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n"
	}
	return []byte(s + "\r\n")
}

func FuzzServerStream(f *testing.F) {
	hello := []byte{0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1}
	f.Add(hello, []byte{3, 0, 200}, false)
	ws, err := NewServer(fuzzEcho{}, WithMaxMessage(4096))
	if err != nil {
		f.Fatal(err)
	}
	wsz, err := NewServer(fuzzEcho{}, WithMaxMessage(4096), WithCompression(Compression{Enabled: true, Threshold: -1}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in, cuts []byte, compress bool) {
		srv := ws
		if compress {
			srv = wsz
		}
		h := milltest.NewHarness(srv)
		c := h.Open()
		h.Traffic(c, fuzzUpgrade(compress))
		c.RunPending()
		out := c.Output()
		end := bytes.Index(out, []byte("\r\n\r\n"))
		if end < 0 || !bytes.HasPrefix(out, []byte("HTTP/1.1 101 ")) {
			t.Fatalf("no 101 for the upgrade request: %q", out)
		}
		head := len(out[:end+4])
		// The input in pieces: each cut byte is the length of the next
		// piece (0 delivers nothing new); what is left goes last.
		data := in
		for _, k := range cuts {
			if len(data) == 0 {
				break
			}
			k := min(int(k), len(data))
			h.Traffic(c, data[:k])
			c.RunPending()
			data = data[k:]
		}
		if len(data) > 0 {
			h.Traffic(c, data)
		}
		for c.RunPending() > 0 {
		}
		h.Close(c, nil)

		// The close codes the client sent, which the server may echo.
		peerCodes := map[uint16]bool{}
		sent, _ := readFrames(in)
		for _, fr := range sent {
			if fr.op == 0x8 && len(fr.payload) >= 2 {
				peerCodes[binary.BigEndian.Uint16(fr.payload)] = true
			}
		}
		frames, rest := readFrames(c.Output()[head:])
		if len(rest) > 0 {
			t.Fatalf("the server's output ends in %d bytes of a partial frame", len(rest))
		}
		closed := false
		for i, fr := range frames {
			if closed {
				t.Fatalf("frame %d (opcode %#x) after the server's close frame", i, fr.op)
			}
			if fr.masked {
				t.Fatalf("frame %d is masked: a server must not mask", i)
			}
			if fr.op != 0x8 {
				continue
			}
			closed = true
			switch len(fr.payload) {
			case 0:
				continue
			case 1:
				t.Fatal("a close frame with a 1-byte payload")
			}
			code := binary.BigEndian.Uint16(fr.payload)
			ok := (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) || peerCodes[code]
			if !ok {
				t.Fatalf("the server sent close code %d", code)
			}
		}
	})
}
