package websocket

// Conformance sections 12 and 13: permessage-deflate (RFC 7692):
// negotiation by the offer's parameters, compressed messages of many
// sizes with and without context takeover on either side, fragmented
// compressed messages, and the failures (RSV1 where it may not be,
// invalid deflate data, a bomb past the limit). The client's side is
// compress/flate, keeping its compressor and the server's window
// across messages when the negotiation lets (or makes) it.

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
)

// pmdParams are the parameters of one permessage-deflate offer or
// response (RFC 7692 §7.1). bits holds a window-bits parameter's value,
// -1 for one given without a value.
type pmdParams struct {
	serverNoCtx, clientNoCtx bool
	serverBits, clientBits   int // 0: absent
}

// confParsePMD parses one extension element "permessage-deflate; a; b=c";
// it returns an error for anything RFC 7692 §7.1 does not allow in a
// server's response: an unknown or repeated parameter, a value where
// none belongs, a window size outside 8..15.
func confParsePMD(s string) (pmdParams, error) {
	var p pmdParams
	parts := strings.Split(s, ";")
	if strings.TrimSpace(parts[0]) != "permessage-deflate" {
		return p, fmt.Errorf("extension %q", parts[0])
	}
	seen := map[string]bool{}
	for _, part := range parts[1:] {
		name, val, hasVal := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		val = strings.Trim(strings.TrimSpace(val), `"`)
		if seen[name] {
			return p, fmt.Errorf("parameter %s repeated", name)
		}
		seen[name] = true
		bits := func() (int, error) {
			if !hasVal {
				return -1, nil
			}
			n, err := strconv.Atoi(val)
			if err != nil || n < 8 || n > 15 {
				return 0, fmt.Errorf("%s=%q", name, val)
			}
			return n, nil
		}
		var err error
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if hasVal {
				return p, fmt.Errorf("%s with a value", name)
			}
			if name[0] == 's' {
				p.serverNoCtx = true
			} else {
				p.clientNoCtx = true
			}
		case "server_max_window_bits":
			p.serverBits, err = bits()
			if p.serverBits == -1 {
				err = fmt.Errorf("server_max_window_bits without a value")
			}
		case "client_max_window_bits":
			p.clientBits, err = bits()
			if p.clientBits == -1 {
				err = fmt.Errorf("client_max_window_bits without a value in a response")
			}
		default:
			err = fmt.Errorf("unknown parameter %q", name)
		}
		if err != nil {
			return p, err
		}
	}
	return p, nil
}

// pmdClient is the client's half of permessage-deflate.
type pmdClient struct {
	noCtx    bool // we reset our compressor for each message
	srvNoCtx bool // the server resets its compressor for each message
	w        *flate.Writer
	out      bytes.Buffer
	window   []byte // the last 32 KiB the server's compressed messages carried
}

// compress compresses one message's payload (RFC 7692 §7.2.1): a
// flushed deflate stream without its final 00 00 ff ff.
func (c *pmdClient) compress(p []byte) []byte {
	c.out.Reset()
	if c.w == nil || c.noCtx {
		c.w, _ = flate.NewWriter(&c.out, flate.BestSpeed)
	}
	c.w.Write(p)
	c.w.Flush()
	z := bytes.Clone(c.out.Bytes())
	if !bytes.HasSuffix(z, []byte{0, 0, 0xff, 0xff}) {
		panic("flate: no sync flush marker")
	}
	return z[:len(z)-4]
}

// decompress inflates one compressed message from the server (RFC 7692
// §7.2.2), with the window of the previous ones unless the server
// declared server_no_context_takeover.
func (c *pmdClient) decompress(z []byte) ([]byte, error) {
	var dict []byte
	if !c.srvNoCtx {
		dict = c.window
	}
	tail := []byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff} // the marker, then an empty final block
	out, err := io.ReadAll(flate.NewReaderDict(io.MultiReader(bytes.NewReader(z), bytes.NewReader(tail)), dict))
	if err != nil {
		return nil, err
	}
	c.window = append(c.window, out...)
	if n := len(c.window) - 32<<10; n > 0 {
		c.window = append(c.window[:0], c.window[n:]...)
	}
	return out, nil
}

// extensionsOf returns the Sec-WebSocket-Extensions value of a response
// head, "" if there is none.
func extensionsOf(head string) string {
	var vals []string
	for _, line := range strings.Split(head, "\r\n") {
		name, val, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Sec-WebSocket-Extensions") {
			vals = append(vals, strings.TrimSpace(val))
		}
	}
	return strings.Join(vals, ", ")
}

// pmdOffer is a negotiation case: an offer, whether the server must
// accept it, and the response's constraints from the offer.
type pmdOffer struct {
	name   string
	offer  string
	accept bool
	// want: the accepted element's server_max_window_bits must be at
	// most this (0: the offer set no limit; 15 allows it absent).
	maxServerBits int
	srvNoCtx      bool // the response must declare server_no_context_takeover
	clientBitsOK  bool // the offer allows client_max_window_bits in the response
	clientNoCtx   bool // we promised client_no_context_takeover
}

// negotiate upgrades with offer and checks the server's answer by RFC
// 7692 §5 and §7.1; it returns the raw client and, when accepted, the
// client's half of the extension.
func negotiate(t *testing.T, addr string, o pmdOffer) (*raw, *pmdClient) {
	t.Helper()
	extra := ""
	if o.offer != "" {
		extra = "Sec-WebSocket-Extensions: " + o.offer + "\r\n"
	}
	r, h := upgrade(t, addr, extra)
	ext := extensionsOf(h)
	if !o.accept {
		if ext != "" {
			t.Fatalf("offer %q: the server accepted %q, want it declined (no Sec-WebSocket-Extensions)", o.offer, ext)
		}
		return r, nil
	}
	if ext == "" {
		t.Fatalf("offer %q: declined, want accepted", o.offer)
	}
	if strings.Contains(ext, ",") {
		t.Fatalf("offer %q: response %q accepts more than one element", o.offer, ext)
	}
	p, err := confParsePMD(ext)
	if err != nil {
		t.Fatalf("offer %q: response %q: %v", o.offer, ext, err)
	}
	switch {
	case o.maxServerBits == 0 && p.serverBits != 0:
		t.Fatalf("offer %q: response %q sets server_max_window_bits the offer did not ask for", o.offer, ext)
	case o.maxServerBits != 0 && o.maxServerBits < 15 && (p.serverBits == 0 || p.serverBits > o.maxServerBits):
		t.Fatalf("offer %q: response %q does not honour server_max_window_bits=%d", o.offer, ext, o.maxServerBits)
	case o.maxServerBits == 15 && p.serverBits != 0 && p.serverBits > 15:
		t.Fatalf("offer %q: response %q", o.offer, ext)
	case o.srvNoCtx && !p.serverNoCtx:
		t.Fatalf("offer %q: response %q lacks server_no_context_takeover", o.offer, ext)
	case !o.clientBitsOK && p.clientBits != 0:
		t.Fatalf("offer %q: response %q has client_max_window_bits, not offered", o.offer, ext)
	case p.clientBits != 0 && p.clientBits < 15:
		t.Fatalf("offer %q: response %q limits our window below what compress/flate can keep to", o.offer, ext)
	}
	return r, &pmdClient{noCtx: o.clientNoCtx || p.clientNoCtx, srvNoCtx: p.serverNoCtx}
}

// pmdExchange sends each payload compressed (odd-indexed ones under 64
// bytes uncompressed, which RFC 7692 §6 allows), each several times so
// that context takeover matters, and checks every echo.
func pmdExchange(t *testing.T, r *raw, c *pmdClient, op Opcode, payloads [][]byte) {
	t.Helper()
	n := 0
	for i, p := range payloads {
		for rep := 0; rep < 3; rep++ {
			n++
			if i%2 == 1 && len(p) < 64 && rep == 1 {
				r.send(op, p)
			} else {
				r.write(frameBytes(rawFrame{fin: true, rsv: 0x40, op: op, masked: true, p: c.compress(p)}))
			}
			f, err := confRead(r)
			if err != nil {
				t.Fatalf("message %d (%d bytes, repeat %d): %v", n, len(p), rep, err)
			}
			if f.op == OpClose {
				t.Fatalf("message %d (%d bytes, repeat %d): closed with %s", n, len(p), rep, closeDesc(f.p))
			}
			got := f.p
			if f.rsv&0x40 != 0 {
				if got, err = c.decompress(f.p); err != nil {
					t.Fatalf("message %d: the echo does not inflate: %v", n, err)
				}
			}
			checkFrame(t, n-1, rawFrame{fin: f.fin, op: f.op, masked: f.masked, rsv: f.rsv &^ 0x40, p: got}, echo(op, p))
		}
	}
	r.send(OpClose, closePayload(StatusNormal, ""))
	r.expectClose(StatusNormal)
}

// pmdPayloads are messages of many sizes, compressible and not.
func pmdPayloads() [][]byte {
	var out [][]byte
	for i, n := range []int{0, 16, 64, 125, 200, 1000, 4096, 32768, 65536, 256 << 10} {
		p := bytes.Repeat([]byte("mill websocket permessage-deflate "), n/34+1)[:n]
		if i%3 == 2 { // incompressible: pseudo-random bytes, as text-safe hex
			q := make([]byte, n)
			x := uint32(2463534242 + i)
			for k := range q {
				x ^= x << 13
				x ^= x >> 17
				x ^= x << 5
				q[k] = "0123456789abcdef"[x&15]
			}
			p = q
		}
		out = append(out, p)
	}
	return out
}

// pmdOffers is the negotiation matrix of section 13 (RFC 7692 §7.1).
// compress/flate always compresses with a 32 KiB window (golang/go#3155
// is about it), so an offer limiting the server's window below 15 bits
// must be declined; limits on the client's window cost the server
// nothing (its inflater reads any window up to 15 bits).
var pmdOffers = []pmdOffer{
	{name: "13.1.plain", offer: "permessage-deflate", accept: true},
	{name: "13.2.client_no_context_takeover", offer: "permessage-deflate; client_no_context_takeover", accept: true, clientNoCtx: true},
	{name: "13.3.server_no_context_takeover", offer: "permessage-deflate; server_no_context_takeover", accept: true, srvNoCtx: true},
	{name: "13.4.both_no_context_takeover", offer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover", accept: true, srvNoCtx: true, clientNoCtx: true},
	{name: "13.5.client_max_window_bits", offer: "permessage-deflate; client_max_window_bits", accept: true, clientBitsOK: true},
	{name: "13.6.client_max_window_bits=10", offer: "permessage-deflate; client_max_window_bits=10", accept: true, clientBitsOK: true},
	{name: "13.7.server_max_window_bits=15", offer: "permessage-deflate; server_max_window_bits=15", accept: true, maxServerBits: 15},
	{name: "13.8.server_max_window_bits=10", offer: "permessage-deflate; server_max_window_bits=10", accept: false},
	{name: "13.9.fallback", offer: "permessage-deflate; server_max_window_bits=10, permessage-deflate; client_no_context_takeover", accept: true, clientNoCtx: true},
	{name: "13.10.quoted", offer: `permessage-deflate; client_max_window_bits="10"`, accept: true, clientBitsOK: true},
	{name: "13.11.all", offer: "permessage-deflate; client_max_window_bits; server_max_window_bits=15; client_no_context_takeover; server_no_context_takeover",
		accept: true, clientBitsOK: true, maxServerBits: 15, srvNoCtx: true, clientNoCtx: true},
	{name: "13.12.unknown_param", offer: "permessage-deflate; foo=bar", accept: false},
	{name: "13.13.repeated_param", offer: "permessage-deflate; server_no_context_takeover; server_no_context_takeover", accept: false},
	{name: "13.14.server_bits=16", offer: "permessage-deflate; server_max_window_bits=16", accept: false},
	{name: "13.15.server_bits=7", offer: "permessage-deflate; server_max_window_bits=7", accept: false},
	{name: "13.16.value_on_flag", offer: "permessage-deflate; client_no_context_takeover=1", accept: false},
	{name: "13.17.client_bits=16", offer: "permessage-deflate; client_max_window_bits=16", accept: false},
	{name: "13.18.other_extension", offer: "x-webkit-deflate-frame", accept: false},
	{name: "13.19.server_bits_no_value", offer: "permessage-deflate; server_max_window_bits", accept: false},
}

// TestConformance13Negotiation: every offer of the matrix against a
// server with default compression settings and one that keeps its
// context, then an exchange of compressed messages in both directions
// within what was agreed; a declined offer leaves an uncompressed
// connection, on which RSV1 fails with 1002.
func TestConformance13Negotiation(t *testing.T) {
	t.Parallel()
	servers := []struct {
		name string
		cfg  Compression
	}{
		{"default", Compression{Enabled: true}},
		{"takeover", Compression{Enabled: true, ContextTakeover: true, Threshold: -1, Level: flate.BestCompression}},
	}
	payloads := pmdPayloads()
	for _, s := range servers {
		addr := confServe(t, WithCompression(s.cfg))
		for _, o := range pmdOffers {
			t.Run(o.name+"."+s.name, func(t *testing.T) {
				t.Parallel()
				r, c := negotiate(t, addr, o)
				if c == nil {
					r.write(rsvMsg(0x40, OpText, []byte("not compressed")))
					r.expectClose(StatusProtocolError)
					return
				}
				pmdExchange(t, r, c, OpText, payloads)
			})
		}
	}
}

// TestConformance12Deflate: compressed messages of many sizes, text and
// binary, against servers at several compression levels and thresholds,
// the client keeping its context (the RFC 7692 default); fragmented
// compressed messages; and the failures.
func TestConformance12Deflate(t *testing.T) {
	t.Parallel()
	payloads := pmdPayloads()
	for i, cfg := range []Compression{
		{Enabled: true},
		{Enabled: true, Level: flate.BestCompression, Threshold: -1},
		{Enabled: true, Level: flate.HuffmanOnly, ContextTakeover: true},
		{Enabled: true, Threshold: 1 << 30}, // the server never compresses
	} {
		addr := confServe(t, WithCompression(cfg))
		for j, op := range []Opcode{OpText, OpBinary} {
			for _, clientNoCtx := range []bool{false, true} {
				o := pmdOffer{offer: "permessage-deflate", accept: true}
				name := fmt.Sprintf("12.%d.%d.client_takeover", i+1, j+1)
				if clientNoCtx {
					o = pmdOffer{offer: "permessage-deflate; client_no_context_takeover", accept: true, clientNoCtx: true}
					name = fmt.Sprintf("12.%d.%d.client_no_takeover", i+1, j+1)
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					r, c := negotiate(t, addr, o)
					pmdExchange(t, r, c, op, payloads)
				})
			}
		}
	}

	const limit = 64 << 10
	addr := confServe(t, WithCompression(Compression{Enabled: true}), WithMaxMessage(limit))
	plain := pmdOffer{offer: "permessage-deflate; client_no_context_takeover", accept: true, clientNoCtx: true}
	fresh := func() *pmdClient { return &pmdClient{noCtx: true} }
	text := bytes.Repeat([]byte("fragmented compressed message "), 3000)[:limit]
	z := fresh().compress(text)
	bomb := fresh().compress(make([]byte, 8<<20))
	cases := []struct {
		name string
		send [][]byte
		want []byte // the echo's inflated payload; nil: close expected
		code StatusCode
	}{
		// A compressed message in three fragments: RSV1 on the first only.
		{name: "12.5.1", send: pieces(
			frameBytes(rawFrame{fin: false, rsv: 0x40, op: OpText, masked: true, p: z[:len(z)/3]}),
			frag(false, OpContinuation, z[len(z)/3:2*len(z)/3]),
			frag(true, OpContinuation, z[2*len(z)/3:])), want: text},
		// Empty fragments around it, and a ping between them.
		{name: "12.5.2", send: pieces(
			frameBytes(rawFrame{fin: false, rsv: 0x40, op: OpBinary, masked: true}),
			frag(false, OpContinuation, z), msg(OpPing, []byte("p")),
			frag(true, OpContinuation, nil)), want: text},
		// RSV1 on a continuation frame (RFC 7692 §6.1): 1002.
		{name: "12.6.1", send: pieces(
			frameBytes(rawFrame{fin: false, rsv: 0x40, op: OpText, masked: true, p: z[:10]}),
			frameBytes(rawFrame{fin: true, rsv: 0x40, op: OpContinuation, masked: true, p: z[10:]})), code: StatusProtocolError},
		{name: "12.6.2", send: pieces(
			frag(false, OpText, []byte("uncompressed ")),
			frameBytes(rawFrame{fin: true, rsv: 0x40, op: OpContinuation, masked: true, p: []byte("x")})), code: StatusProtocolError},
		// RSV1 on control frames: 1002.
		{name: "12.6.3", send: pieces(rsvMsg(0x40, OpPing, []byte("p"))), code: StatusProtocolError},
		{name: "12.6.4", send: pieces(rsvMsg(0x40, OpClose, closePayload(StatusNormal, ""))), code: StatusProtocolError},
		// RSV2/RSV3 stay reserved under permessage-deflate.
		{name: "12.6.5", send: pieces(rsvMsg(0x60, OpText, z)), code: StatusProtocolError},
		// Data that does not inflate: 1007 (RFC 7692 §8.2.2... fails
		// the connection; mill's code for it is 1007).
		{name: "12.7.1", send: pieces(rsvMsg(0x40, OpBinary, []byte{0xff, 0xff, 0xff, 0xff})), code: StatusInvalidPayload},
		{name: "12.7.2", send: pieces(rsvMsg(0x40, OpText, z[:len(z)/2])), code: StatusInvalidPayload},
		// Compressed text that inflates to invalid UTF-8: 1007.
		{name: "12.7.3", send: pieces(rsvMsg(0x40, OpText, fresh().compress([]byte("κόσμε\xed\xa0\x80edited")))), code: StatusInvalidPayload},
		// A bomb: 8 MiB of zeros in a few KiB, past the 64 KiB limit: 1009.
		{name: "12.8.1", send: pieces(rsvMsg(0x40, OpBinary, bomb)), code: StatusMessageTooBig},
		{name: "12.8.2", send: pieces(frameBytes(rawFrame{fin: false, rsv: 0x40, op: OpBinary, masked: true, p: bomb[:len(bomb)/2]}),
			frag(true, OpContinuation, bomb[len(bomb)/2:])), code: StatusMessageTooBig},
		// Exactly the limit, inflated: echoed.
		{name: "12.8.3", send: pieces(rsvMsg(0x40, OpBinary, fresh().compress(make([]byte, limit)))), want: make([]byte, limit)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := negotiate(t, addr, plain)
			for _, p := range tc.send {
				r.write(p)
			}
			if tc.want == nil {
				r.expectClose(tc.code)
				return
			}
			for {
				f, err := confRead(r)
				if err != nil {
					t.Fatalf("waiting for the echo: %v", err)
				}
				if f.op == OpPong {
					continue
				}
				if f.op == OpClose {
					t.Fatalf("closed with %s, want the echo", closeDesc(f.p))
				}
				got := f.p
				if f.rsv&0x40 != 0 {
					if got, err = fresh().decompress(f.p); err != nil {
						t.Fatalf("the echo does not inflate: %v", err)
					}
				}
				if !bytes.Equal(got, tc.want) {
					t.Fatalf("echo %q, want %q", trunc(got), trunc(tc.want))
				}
				break
			}
			r.send(OpClose, closePayload(StatusNormal, ""))
			r.expectClose(StatusNormal)
		})
	}
}
