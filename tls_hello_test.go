//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"crypto/tls"
	"testing"
)

// helloReference is scanClientHello written the slow, obvious way:
// reassemble the handshake records, then look at the message.
func helloReference(b []byte) helloStatus {
	var msg []byte
	for off := 0; ; {
		if len(b)-off < recordHeaderLen {
			if !plausibleHeader(b[off:]) {
				return notTLS(b)
			}
			return helloMore
		}
		h := b[off : off+recordHeaderLen]
		n := int(h[3])<<8 | int(h[4])
		if !plausibleHeader(h) || n == 0 || n > maxRecordPayload {
			return notTLS(b)
		}
		end := off + recordHeaderLen + n
		if end > len(b) {
			end = len(b)
		}
		msg = append(msg, b[off+recordHeaderLen:end]...)
		if len(msg) >= 1 && msg[0] != msgClientHello {
			return helloNotTLS
		}
		if len(msg) >= 4 {
			l := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
			if l > maxClientHello {
				return helloNotTLS
			}
			if len(msg) >= 4+l {
				return helloComplete
			}
		}
		if end < off+recordHeaderLen+n {
			return helloMore
		}
		off = end
	}
}

func TestScanClientHello(t *testing.T) {
	for _, cfg := range []*tls.Config{tlsClientConfig(t), {ServerName: "x", CurvePreferences: []tls.CurveID{tls.X25519}}} {
		hello := clientHello(t, cfg)
		for i := 0; i < len(hello); i++ {
			if got := scanClientHello(hello[:i]); got != helloMore {
				t.Fatalf("prefix of %d of %d bytes: %v, want helloMore", i, len(hello), got)
			}
		}
		if got := scanClientHello(hello); got != helloComplete {
			t.Fatalf("whole ClientHello: %v", got)
		}
		// The same message cut into records of 100 bytes.
		body := hello[recordHeaderLen:]
		var split []byte
		for len(body) > 0 {
			n := min(100, len(body))
			split = append(split, recordTypeHS, 3, 1, byte(n>>8), byte(n))
			split = append(split, body[:n]...)
			body = body[n:]
		}
		if got := scanClientHello(split); got != helloComplete {
			t.Fatalf("ClientHello over %d-byte records: %v", 100, got)
		}
		if got := scanClientHello(split[:len(split)-1]); got != helloMore {
			t.Fatalf("ClientHello over records, less its last byte: %v", got)
		}
	}
	for _, tc := range []struct {
		in   string
		want helloStatus
	}{
		{"", helloMore},
		{"\x16", helloMore},
		{"\x16\x03\x01", helloMore},
		{"\x17\x03\x01\x00\x10", helloNotTLS},                 // application data first
		{"\x16\x02\x00", helloNotTLS},                         // SSL 2-style version
		{"\x16\x03\x01\x00\x00", helloNotTLS},                 // an empty record
		{"\x16\x03\x01\x40\x01", helloNotTLS},                 // a record past 16 KiB
		{"\x16\x03\x01\x00\x04\x02\x00\x00\x00", helloNotTLS}, // a ServerHello
		{"\x16\x03\x01\x00\x04\x01\x01\x00\x01", helloNotTLS}, // a ClientHello past 64 KiB
		{"\x16\x03\x01\x00\x04\x01\x00\x00\x00", helloComplete},
		{"GET / HTTP/1.1\r\n", helloHTTP},
		{"GE", helloMore},
		{"PRI * HTTP/2.0", helloNotTLS},
		{"\x80\x2e\x01\x03\x01", helloNotTLS}, // an SSL 2 ClientHello
	} {
		if got := scanClientHello([]byte(tc.in)); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzScanClientHello: scanClientHello agrees with the obvious
// implementation on any input, and never panics.
func FuzzScanClientHello(f *testing.F) {
	f.Add(clientHello(f, tlsClientConfig(f)))
	f.Add([]byte("\x16\x03\x01\x00\x04\x01\x00\x00\x00"))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		want := helloReference(b)
		if got := scanClientHello(b); got != want {
			t.Fatalf("%x: %v, reference says %v", b, got, want)
		}
		// The same bytes arriving in pieces, scanned as they come.
		var h helloScan
		step := 1 + len(b)%7
		for end := 0; ; end = min(end+step, len(b)) {
			got := h.scan(b[:end])
			if ref := helloReference(b[:end]); got != ref {
				t.Fatalf("%x, first %d bytes, in pieces of %d: %v, reference says %v", b, end, step, got, ref)
			}
			if got != helloMore || end == len(b) {
				break
			}
		}
	})
}

// TestScanClientHelloLargest: the largest ClientHello crypto/tls takes,
// in four full records and a bit, arriving one byte at a time: the
// incremental scan says "more" at every byte and "complete" at the last
// (each byte is looked at once: the scan keeps its place).
func TestScanClientHelloLargest(t *testing.T) {
	var b []byte
	msg := make([]byte, 4+maxClientHello)
	size := maxClientHello // a variable, for the byte conversions
	msg[0], msg[1], msg[2], msg[3] = msgClientHello, byte(size>>16), byte(size>>8), byte(size)
	for rest := msg; len(rest) > 0; {
		n := min(len(rest), maxRecordPayload)
		b = append(b, recordTypeHS, 3, 1, byte(n>>8), byte(n))
		b = append(b, rest[:n]...)
		rest = rest[n:]
	}
	var h helloScan
	for i := 1; i < len(b); i++ {
		if got := h.scan(b[:i]); got != helloMore {
			t.Fatalf("after %d of %d bytes: %v", i, len(b), got)
		}
	}
	if got := h.scan(b); got != helloComplete {
		t.Fatalf("whole: %v", got)
	}
	if len(b) >= handshakeInputLimit {
		t.Fatalf("the largest ClientHello (%d bytes) reaches the handshake input bound %d", len(b), handshakeInputLimit)
	}
}
