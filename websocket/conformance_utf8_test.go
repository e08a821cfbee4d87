package websocket

// Conformance section 6: UTF-8 in text messages (RFC 6455 §5.6, §8.1;
// RFC 3629 §3, §4).

import (
	"fmt"
	"testing"
)

// confValidUTF8 are valid texts: every encoding length and the code
// points at the edges of each, the edges of the surrogate range, and
// noncharacters (which are valid UTF-8).
var confValidUTF8 = []struct{ name, s string }{
	{"empty", ""},
	{"ascii", "Hello, world!"},
	{"greek", "κόσμε"},
	{"mixed", "Hello-µ@ßöäüàá-UTF-8!!"},
	{"4byte", "\U0001F600\U0001D11E"},
	{"U+0000", "\x00"},
	{"U+007F", "\x7f"},
	{"U+0080", "\u0080"},
	{"U+07FF", "\u07ff"},
	{"U+0800", "\u0800"},
	{"U+D7FF", "\ud7ff"},
	{"U+E000", "\ue000"},
	{"U+FFFD", "\ufffd"},
	{"U+FFFE", "\xef\xbf\xbe"},
	{"U+FFFF", "\xef\xbf\xbf"},
	{"U+10000", "\U00010000"},
	{"U+10FFFF", "\U0010ffff"},
	{"all", "\x00\x7f\u0080\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff"},
}

// confInvalidUTF8 are invalid byte sequences, each placed between valid
// text (pre + seq + post) unless end is set (then it ends the message,
// for truncations that only the message's end reveals).
var confInvalidUTF8 = []struct {
	name string
	seq  string
	end  bool
}{
	{"cont80", "\x80", false},
	{"contBF", "\xbf", false},
	{"cont2", "\x80\xbf", false},
	{"C0", "\xc0\x80", false},        // overlong U+0000
	{"C1", "\xc1\xbf", false},        // overlong U+007F
	{"E0-80", "\xe0\x80\x80", false}, // overlong 3-byte
	{"E0-9F", "\xe0\x9f\xbf", false}, // overlong U+07FF
	{"F0-80", "\xf0\x80\x80\x80", false},
	{"F0-8F", "\xf0\x8f\xbf\xbf", false}, // overlong U+FFFF
	{"ED-A0", "\xed\xa0\x80", false},     // surrogate U+D800
	{"ED-BF", "\xed\xbf\xbf", false},     // surrogate U+DFFF
	{"pair", "\xed\xa0\x80\xed\xb0\x80", false},
	{"F4-90", "\xf4\x90\x80\x80", false}, // U+110000
	{"F5", "\xf5\x80\x80\x80", false},
	{"F7", "\xf7\xbf\xbf\xbf", false},
	{"F8", "\xf8\x88\x80\x80\x80", false},
	{"FC", "\xfc\x84\x80\x80\x80\x80", false},
	{"FE", "\xfe", false},
	{"FF", "\xff", false},
	{"C2-ascii", "\xc2A", false},         // a 2-byte sequence cut by ASCII
	{"E2-ascii", "\xe2\x82A", false},     // a 3-byte one
	{"F0-ascii", "\xf0\x9f\x98A", false}, // a 4-byte one
	{"E2-C2", "\xe2\xc2\xa2", false},     // cut by another lead byte
	{"C2-end", "\xc2", true},
	{"E2-end", "\xe2\x82", true},
	{"F0-end", "\xf0\x9f\x98", true},
}

// TestConformance6UTF8: valid texts are echoed however they are split
// across fragments; invalid ones fail with 1007, and fail fast: when
// the invalid byte has arrived, the close comes without waiting for the
// rest of the frame or message (a validator that reads byte by byte
// sees it then).
func TestConformance6UTF8(t *testing.T) {
	t.Parallel()
	addr := confServe(t)
	var cases []confCase
	for i, v := range confValidUTF8 {
		p := []byte(v.s)
		base := fmt.Sprintf("6.1.%d.%s", i+1, v.name)
		cases = append(cases,
			confCase{name: base, send: pieces(msg(OpText, p)), want: []rawFrame{echo(OpText, p)}},
			confCase{name: base + ".chunk1", send: pieces(msg(OpText, p)), chunk: 1, want: []rawFrame{echo(OpText, p)}})
		for k := 1; k < len(p); k++ { // split at every byte
			cases = append(cases, confCase{name: fmt.Sprintf("%s.split%d", base, k),
				send: pieces(frag(false, OpText, p[:k]), frag(true, OpContinuation, p[k:])),
				want: []rawFrame{echo(OpText, p)}})
		}
		if len(p) > 1 { // one fragment per byte
			var fs [][]byte
			for k := range p {
				o := OpContinuation
				if k == 0 {
					o = OpText
				}
				fs = append(fs, frag(k == len(p)-1, o, p[k:k+1]))
			}
			cases = append(cases, confCase{name: base + ".frag1", send: fs, want: []rawFrame{echo(OpText, p)}})
		}
	}
	pre := []byte("κόσμε-")
	for i, v := range confInvalidUTF8 {
		p := concat(pre, []byte(v.seq))
		if !v.end {
			p = append(p, "-edited"...)
		}
		bad := invalidAt(p) // the invalid byte is p[bad-1]; len(p)+1: only the end tells
		base := fmt.Sprintf("6.2.%d.%s", i+1, v.name)
		cases = append(cases, confCase{name: base, send: pieces(msg(OpText, p)), close: StatusInvalidPayload})
		// After a valid message, which is echoed.
		cases = append(cases, confCase{name: base + ".after", send: pieces(msg(OpText, pre), msg(OpText, p), msg(OpPing, nil)),
			want: []rawFrame{echo(OpText, pre)}, close: StatusInvalidPayload})
		if bad <= len(p) {
			// Fail fast within a frame: the header and the payload up to
			// the invalid byte, in 1-byte writes; the rest never sent.
			h := head(true, OpText, len(p))
			cases = append(cases, confCase{name: base + ".fast", send: pieces(h, body(0, p[:bad])), chunk: 1, close: StatusInvalidPayload})
		}
		// Split at every byte across two fragments.
		for k := 1; k < len(p); k++ {
			name := fmt.Sprintf("%s.split%d", base, k)
			first := frag(false, OpText, p[:k])
			if bad <= k {
				// Fail fast across fragments: the invalid byte is in the
				// first, unfinished fragment; the second is never sent.
				cases = append(cases, confCase{name: name, send: pieces(first), close: StatusInvalidPayload})
				continue
			}
			cases = append(cases, confCase{name: name, send: pieces(first, frag(true, OpContinuation, p[k:])), close: StatusInvalidPayload})
		}
		// One fragment per byte, in 1-byte writes, up to the invalid byte.
		var fs [][]byte
		for k := range p {
			if k >= bad {
				break
			}
			o := OpContinuation
			if k == 0 {
				o = OpText
			}
			fs = append(fs, frag(k == len(p)-1, o, p[k:k+1]))
		}
		cases = append(cases, confCase{name: base + ".frag1", send: fs, chunk: 1, close: StatusInvalidPayload})
	}
	runConf(t, addr, cases)
}
