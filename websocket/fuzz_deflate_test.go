package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"testing"
)

// FuzzInflate feeds arbitrary compressed messages, whole and split in
// two frames, to an inflater: it must not panic, must keep to the limit,
// must fail only with ErrBadCompression or ErrMessageTooBig, must agree
// with itself across the split, and what it accepts must be what
// compress/flate makes of the message with its tail.
func FuzzInflate(f *testing.F) {
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, uint16(3), uint16(100), false)
	f.Add([]byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, uint16(0), uint16(5), true)
	f.Add([]byte{0x00}, uint16(0), uint16(0), true)
	f.Add(deflateAll(flate.BestCompression, true, [][]byte{make([]byte, 4096)})[0], uint16(2), uint16(1000), true)
	f.Fuzz(func(t *testing.T, data []byte, split, limit uint16, noContext bool) {
		lim := int(limit)
		var whole inflater
		whole.init(noContext)
		got, err := whole.inflate(nil, data, true, lim)
		check := func(got []byte, err error) {
			t.Helper()
			if len(got) > lim || cap(got) > lim+1 {
				t.Fatalf("limit %d: got %d bytes (cap %d), err %v", lim, len(got), cap(got), err)
			}
			if err != nil && !errors.Is(err, ErrBadCompression) && !errors.Is(err, ErrMessageTooBig) {
				t.Fatalf("unexpected error %v", err)
			}
			if err != nil && len(got) != 0 {
				t.Fatalf("error %v with %d bytes", err, len(got))
			}
		}
		check(got, err)

		s := min(int(split), len(data))
		var parts inflater
		parts.init(noContext)
		got2, err2 := parts.inflate(nil, data[:s], false, lim)
		if err2 == nil {
			got2, err2 = parts.inflate(got2, data[s:], true, lim)
		}
		check(got2, err2)
		if parts.pending != nil || whole.pending != nil {
			t.Fatal("buffer kept after the message")
		}
		// The split may only add a too-big verdict on the compressed size.
		if err2 == nil && (err != nil || !bytes.Equal(got, got2)) {
			t.Fatalf("split at %d: %q %v; whole: %q %v", s, got2, err2, got, err)
		}
		if err == nil && err2 != nil && !errors.Is(err2, ErrMessageTooBig) {
			t.Fatalf("split at %d failed: %v", s, err2)
		}
		if err == nil {
			in := append(append([]byte(nil), data...), deflateTail[:]...)
			want, _ := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(in)), int64(lim)+1))
			if !bytes.Equal(got, want) {
				t.Fatalf("inflated %q, compress/flate %q", got, want)
			}
		}
	})
}

// FuzzNegotiate feeds arbitrary Sec-WebSocket-Extensions fields (split
// at newlines) to both sides of the negotiation: no panics, a server
// response our client accepts with matching parameters, client errors
// that wrap ErrHandshake.
func FuzzNegotiate(f *testing.F) {
	f.Add("permessage-deflate; client_max_window_bits", true)
	f.Add("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=\"15\"\npermessage-deflate", false)
	f.Add("permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=9", true)
	f.Add("foo; a=\"b\\\"c,d\", permessage-deflate;server_max_window_bits=8", false)
	f.Fuzz(func(t *testing.T, s string, ctx bool) {
		values := fields(splitLines(s)...)
		cfg := Compression{Enabled: true, ContextTakeover: ctx}
		p, resp, ok := negotiateServer(values, cfg)
		if ok {
			if !bytes.HasPrefix(resp, []byte(pmdName)) || (!ctx && !p.ourNoContext) {
				t.Fatalf("%q: %q %+v", s, resp, p)
			}
			cp, cok, err := clientAccept([][]byte{resp}, cfg)
			if err != nil || !cok || cp.peerNoContext != p.ourNoContext || (cp.ourNoContext != p.peerNoContext && ctx) {
				t.Fatalf("%q: server %q %+v, client %+v %v %v", s, resp, p, cp, cok, err)
			}
		} else if resp != nil {
			t.Fatalf("%q: resp %q without ok", s, resp)
		}
		cp, cok, err := clientAccept(values, cfg)
		if err != nil && (!errors.Is(err, ErrHandshake) || cok || cp != (deflateParams{})) {
			t.Fatalf("%q: %+v %v %v", s, cp, cok, err)
		}
	})
}

// splitLines splits s at '\n' into header field values.
func splitLines(s string) []string {
	var out []string
	for {
		i := bytes.IndexByte([]byte(s), '\n')
		if i < 0 {
			return append(out, s)
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
}
