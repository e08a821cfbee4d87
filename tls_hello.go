package mill

// The ClientHello pre-read. A server reads a TLS connection's first
// bytes on its loop, without a goroutine, until they hold one whole
// ClientHello message; only then does a handshake goroutine start. So a
// client that connects and sends nothing, or dribbles a ClientHello,
// costs a buffer and a timer, not a goroutine, and bytes that are not
// TLS at all are refused at once.
//
// The ClientHello may span several records (a post-quantum key share
// makes it larger than one TCP segment), each a TLS record header (type,
// version, length; RFC 8446 section 5.1) and a fragment of the
// handshake message, which starts with its type (1) and a 24-bit length.

const (
	recordHeaderLen  = 5
	recordTypeHS     = 22      // handshake
	maxRecordPayload = 1 << 14 // a plaintext record's fragment (RFC 8446 5.1)
	// maxClientHello bounds the ClientHello message, as crypto/tls's
	// maxHandshake does.
	maxClientHello = 1 << 16
	msgClientHello = 1
)

// helloStatus is what the pre-read makes of the bytes so far.
type helloStatus int

const (
	helloMore     helloStatus = iota // a prefix of a ClientHello: read more
	helloComplete                    // a whole ClientHello is buffered
	helloNotTLS                      // not a TLS ClientHello
	helloHTTP                        // not TLS, and it looks like a plaintext HTTP request
)

// scanClientHello reports whether b, the first bytes of a connection,
// begin with a whole ClientHello, might still become one, or cannot.
func scanClientHello(b []byte) helloStatus {
	var h helloScan
	return h.scan(b)
}

// helloScan is the pre-read's progress through a connection's first
// bytes, so that each read costs only its own bytes: a client that
// sends a ClientHello a byte at a time must not make the loop rescan
// what came before.
type helloScan struct {
	off     int     // the next byte of the buffer to look at
	recLeft int     // bytes of the current record's fragment still to come; 0: a header is next
	head    [4]byte // the handshake message's header, which may span records
	have    int     // bytes of the handshake message seen
	msgLen  int     // its length, once its header is whole
}

// scan looks at what b, the bytes so far (those of the last call and
// more), adds. It does not allocate.
func (h *helloScan) scan(b []byte) helloStatus {
	for h.off < len(b) {
		if h.recLeft == 0 {
			hd := b[h.off:min(h.off+recordHeaderLen, len(b))]
			if !plausibleHeader(hd) {
				return notTLS(b)
			}
			if len(hd) < recordHeaderLen {
				return helloMore
			}
			n := int(hd[3])<<8 | int(hd[4])
			if n == 0 || n > maxRecordPayload {
				return notTLS(b)
			}
			h.off += recordHeaderLen
			h.recLeft = n
			continue
		}
		k := min(h.recLeft, len(b)-h.off)
		frag := b[h.off : h.off+k]
		h.off += k
		h.recLeft -= k
		for len(frag) > 0 && h.have < 4 {
			h.head[h.have] = frag[0]
			h.have++
			frag = frag[1:]
			if h.have == 1 && h.head[0] != msgClientHello {
				return helloNotTLS
			}
			if h.have == 4 {
				h.msgLen = int(h.head[1])<<16 | int(h.head[2])<<8 | int(h.head[3])
				if h.msgLen > maxClientHello {
					return helloNotTLS
				}
			}
		}
		if h.have >= 4 {
			h.have += len(frag) // the message's body: counted, not looked at
			if h.have >= 4+h.msgLen {
				return helloComplete
			}
		}
	}
	return helloMore
}

// plausibleHeader reports whether h, a prefix of a record header, can
// start a handshake record: type 22, version 3.x with x at most 4.
func plausibleHeader(h []byte) bool {
	switch {
	case len(h) > 0 && h[0] != recordTypeHS:
		return false
	case len(h) > 1 && h[1] != 3:
		return false
	case len(h) > 2 && h[2] > 4:
		return false
	}
	return true
}

// notTLS tells plaintext HTTP, which deserves a readable answer, from
// other bytes that are not TLS.
func notTLS(b []byte) helloStatus {
	for _, m := range [...]string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "} {
		switch {
		case len(b) >= len(m) && string(b[:len(m)]) == m:
			return helloHTTP
		case len(b) < len(m) && string(b) == m[:len(b)]:
			return helloMore // perhaps a request line: wait to tell
		}
	}
	return helloNotTLS
}

// httpToTLSReply answers a plaintext HTTP request sent to a TLS address,
// as Go's net/http does, so that a user who typed http:// for https://
// reads why nothing works.
const httpToTLSReply = "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" +
	"Client sent an HTTP request to an HTTPS server.\n"
