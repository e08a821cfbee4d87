package websocket

import (
	"compress/flate"
	"fmt"
	"io"
	"sync"
)

// Compression and decompression of message payloads for
// permessage-deflate (RFC 7692 §7.2). A message is one DEFLATE stream
// segment ended by a sync flush whose 00 00 ff ff tail is left off the
// wire; the receiver puts it back before inflating.

// deflateTail is what a sync flush ends with and what RFC 7692 §7.2.1
// strips from every compressed message.
var deflateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// minLevel and maxLevel bound the compress/flate levels (HuffmanOnly to
// BestCompression); writerPools has one pool for each.
const (
	minLevel = flate.HuffmanOnly
	maxLevel = flate.BestCompression
)

// pooledWriter is a flate.Writer with the adapter it writes through,
// pooled together so that neither allocates per message.
type pooledWriter struct {
	fw  *flate.Writer
	out sliceWriter
}

// sliceWriter is an io.Writer appending to b.
type sliceWriter struct{ b []byte }

// Write appends p to w.b; it never fails.
func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// writerPools holds idle compressors, one pool per level (index
// level-minLevel).
var writerPools [maxLevel - minLevel + 1]sync.Pool

// getWriter takes a compressor of the given level from its pool (or
// makes one), reset to write into its own adapter.
func getWriter(level int) *pooledWriter {
	if w, _ := writerPools[level-minLevel].Get().(*pooledWriter); w != nil {
		w.fw.Reset(&w.out)
		return w
	}
	w := new(pooledWriter)
	fw, err := flate.NewWriter(&w.out, level)
	if err != nil { // unreachable: level was checked by init
		panic(err)
	}
	w.fw = fw
	return w
}

// putWriter returns w to the pool of its level, dropping its reference
// to the last output buffer.
func putWriter(level int, w *pooledWriter) {
	w.out.b = nil
	writerPools[level-minLevel].Put(w)
}

// deflater compresses one connection's outgoing messages. Zero value + init. When noContext, it holds no
// flate.Writer between messages (taken from a per-level sync.Pool for the call, returned after); with
// context it keeps its own flate.Writer for the connection's life.
//
// One goroutine at a time may use it (the one writing the connection's
// messages).
type deflater struct {
	level     int
	noContext bool
	w         *pooledWriter // context takeover: our compressor, taken at first use
}

// init prepares d for a connection: level is a compress/flate level
// (a value out of HuffmanOnly..BestCompression means BestSpeed), and
// noContext says whether we reset our compressor after every message.
func (d *deflater) init(level int, noContext bool) {
	if level < minLevel || level > maxLevel {
		level = flate.BestSpeed
	}
	*d = deflater{level: level, noContext: noContext}
}

// deflate appends the compressed form of one whole message p to dst (without the 00 00 ff ff tail) and
// returns it. Safe to call from one goroutine at a time. No allocation in steady state (no-context path:
// pooled writer writing into dst via a small reusable io.Writer adapter that is part of the pooled object).
//
// The result aliases dst's array when it had room, as append does; d
// keeps no reference to dst or p after the call.
func (d *deflater) deflate(dst, p []byte) []byte {
	w := d.w
	if w == nil {
		w = getWriter(d.level)
		if !d.noContext {
			d.w = w
		}
	}
	w.out.b = dst
	w.fw.Write(p) // writes into w.out, which cannot fail
	w.fw.Flush()
	out := w.out.b
	w.out.b = nil
	if d.noContext {
		putWriter(d.level, w)
	}
	// A sync flush always ends with the empty stored block's LEN/NLEN.
	if n := len(out) - len(deflateTail); n >= len(dst) && [4]byte(out[n:]) == deflateTail {
		out = out[:n]
	}
	return out
}

// release drops any state (connection closed).
//
// The compressor of a context-takeover connection goes back to its pool.
// d may be init'ed again afterwards.
func (d *deflater) release() {
	if d.w != nil {
		putWriter(d.level, d.w)
		d.w = nil
	}
}

// windowSize is the DEFLATE window: what a peer keeping its context may
// refer back to, and so what we keep of our output between messages.
const windowSize = 32 << 10

// inflateSuffix follows every compressed message on its way into the
// decompressor: RFC 7692's 00 00 ff ff, then an empty final stored
// block. After a well-formed message the decompressor stands at a block
// boundary, reads the final block and reports io.EOF with every byte
// used; a message cut inside a block would instead swallow the suffix
// and fail.
var inflateSuffix = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// msgSource is what the decompressor reads: a message's compressed
// bytes followed by inflateSuffix. It is a flate.Reader (it has
// ReadByte), so the decompressor wraps it in no bufio.Reader.
type msgSource struct {
	data []byte
	pos  int // over data then inflateSuffix
}

// remaining is how many bytes of data and inflateSuffix are unread.
func (s *msgSource) remaining() int { return len(s.data) + len(inflateSuffix) - s.pos }

// ReadByte returns the next byte, or io.EOF after the suffix.
func (s *msgSource) ReadByte() (byte, error) {
	switch {
	case s.pos < len(s.data):
		s.pos++
		return s.data[s.pos-1], nil
	case s.pos < len(s.data)+len(inflateSuffix):
		s.pos++
		return inflateSuffix[s.pos-1-len(s.data)], nil
	}
	return 0, io.EOF
}

// Read copies the next bytes into p.
func (s *msgSource) Read(p []byte) (int, error) {
	n := 0
	if s.pos < len(s.data) {
		n = copy(p, s.data[s.pos:])
		s.pos += n
	}
	if n < len(p) && s.pos >= len(s.data) {
		k := copy(p[n:], inflateSuffix[s.pos-len(s.data):])
		s.pos += k
		n += k
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// pooledReader is a decompressor with the source it reads, pooled
// together.
type pooledReader struct {
	fr  io.ReadCloser // a flate.Resetter too
	src msgSource
}

// readerPool holds idle decompressors.
var readerPool sync.Pool

// getReader takes a decompressor from the pool (or makes one) and sets
// it to inflate data, with dict as the preceding output (nil for none).
func getReader(data, dict []byte) *pooledReader {
	r, _ := readerPool.Get().(*pooledReader)
	if r == nil {
		r = new(pooledReader)
		r.src.data = data
		r.fr = flate.NewReader(&r.src)
		if dict != nil {
			r.fr.(flate.Resetter).Reset(&r.src, dict)
		}
		return r
	}
	r.src = msgSource{data: data}
	r.fr.(flate.Resetter).Reset(&r.src, dict)
	return r
}

// putReader returns r to the pool, dropping its reference to the data.
func putReader(r *pooledReader) {
	r.src = msgSource{}
	readerPool.Put(r)
}

// pendingPool holds buffers for the compressed frames of messages in
// progress; buffers above maxPooledPending are left to the collector.
var pendingPool sync.Pool

// maxPooledPending is the largest buffer pendingPool keeps.
const maxPooledPending = 256 << 10

// inflater decompresses one connection's incoming compressed messages,
// frame by frame.
//
// The compressed frames of a message before its last are buffered (the
// stdlib decompressor cannot pause at the end of a frame); the whole
// message is inflated at its last frame. A single-frame message is
// inflated straight from its payload. One goroutine at a time may use it
// (the one reading the connection).
type inflater struct {
	peerNoContext bool
	dict          []byte  // context takeover: up to the last 32 KiB of output (cap windowSize)
	pending       *[]byte // compressed frames of the message in progress, from pendingPool
}

// init prepares f for a connection; peerNoContext says whether the peer
// resets its compressor after every message (then f keeps no window).
func (f *inflater) init(peerNoContext bool) {
	f.release()
	*f = inflater{peerNoContext: peerNoContext}
}

// pendingLimit bounds the compressed bytes buffered for one message
// whose inflated size may be at most limit: limit plus an eighth plus
// 4 KiB, room enough for stored blocks, sync flushes after every frame
// and other overhead of incompressible data.
func pendingLimit(limit int) int {
	return limit + limit/8 + 4096
}

// inflate appends the decompressed bytes of compressed data to dst. data is one frame's payload of a
// compressed message (or a whole message); final is true on the message's last frame (the
// 00 00 ff ff tail RFC 7692 strips is put back here: msgSource). It fails with an error wrapping ErrMessageTooBig
// as soon as len(dst) would exceed limit (a decompression bomb must stop there, without allocating past
// limit+small slack), and with an error wrapping ErrBadCompression on invalid deflate data (including
// trailing garbage / a BFINAL block followed by more data).
// Between messages, when peerNoContext, it holds NO flate state or buffers (pooled flate reader returned
// at final); otherwise it keeps the last 32 KiB of decompressed output as the dictionary for the next message
// (flate.Resetter's Reset(r, dict)) and nothing else.
//
// Calls before the final one return dst unchanged (their data is
// copied, so the caller may reuse it), and fail with ErrMessageTooBig
// once the buffered compressed bytes pass limit+limit/8+4 KiB. When dst
// must grow, its capacity never goes past limit+1. A message may end
// with a BFINAL block followed by nothing or by the single 0x00 octet
// of RFC 7692 §7.2.3.4; anything else after it is ErrBadCompression.
// On error, dst is returned with its length on entry and the message is
// dropped; after an error the connection must not inflate again
// (the shared window is lost).
func (f *inflater) inflate(dst, data []byte, final bool, limit int) ([]byte, error) {
	if !final {
		if f.pending == nil {
			if b, _ := pendingPool.Get().(*[]byte); b != nil {
				f.pending = b
			} else {
				f.pending = new([]byte)
			}
		}
		if len(*f.pending)+len(data) > pendingLimit(limit) {
			f.dropPending()
			return dst, fmt.Errorf("%w: over %d bytes compressed", ErrMessageTooBig, pendingLimit(limit))
		}
		*f.pending = append(*f.pending, data...)
		return dst, nil
	}
	msg := data
	if f.pending != nil {
		if len(*f.pending)+len(data) > pendingLimit(limit) {
			f.dropPending()
			return dst, fmt.Errorf("%w: over %d bytes compressed", ErrMessageTooBig, pendingLimit(limit))
		}
		*f.pending = append(*f.pending, data...)
		msg = *f.pending
	}
	start := len(dst)
	var dict []byte
	if !f.peerNoContext {
		dict = f.dict
	}
	r := getReader(msg, dict)
	dst, err := readAll(r, dst, limit)
	rest := r.src.remaining()
	putReader(r)
	f.dropPending()
	if err == nil && rest != 0 {
		// The message ended with a BFINAL block: an empty stored one
		// that the 00 00 ff ff tail completed (RFC 7692 §7.2.1 allows
		// it), or one followed by the single 0x00 octet of §7.2.3.4, or
		// (tolerated) by nothing.
		after := rest - len(inflateSuffix) // bytes of msg after the final block
		if !(after == -len(deflateTail) || after == 0 || after == 1 && msg[len(msg)-1] == 0x00) {
			err = fmt.Errorf("%w: data after the final block", ErrBadCompression)
		}
	}
	if err != nil {
		return dst[:start], err
	}
	if !f.peerNoContext {
		f.keepWindow(dst[start:])
	}
	return dst, nil
}

// readAll appends r's output to dst until its end, failing once len(dst)
// would pass limit; dst's capacity is never grown past limit+1.
func readAll(r *pooledReader, dst []byte, limit int) ([]byte, error) {
	for {
		if len(dst) > limit {
			return dst, fmt.Errorf("%w: over %d bytes inflated", ErrMessageTooBig, limit)
		}
		end := min(cap(dst), limit+1)
		if len(dst) >= end {
			dst = growUpTo(dst, limit+1)
			end = cap(dst)
		}
		n, err := r.fr.Read(dst[len(dst):end])
		dst = dst[:len(dst)+n]
		switch err {
		case nil:
		case io.EOF:
			if len(dst) > limit {
				return dst, fmt.Errorf("%w: over %d bytes inflated", ErrMessageTooBig, limit)
			}
			return dst, nil
		default:
			return dst, fmt.Errorf("%w: %w", ErrBadCompression, err)
		}
	}
}

// growUpTo returns dst with a larger capacity, about double, but not
// above most (which must exceed len(dst)).
func growUpTo(dst []byte, most int) []byte {
	c := min(max(2*cap(dst), 1024), most)
	n := make([]byte, len(dst), c)
	copy(n, dst)
	return n
}

// keepWindow slides the dictionary: the last windowSize bytes of what
// it held followed by out.
func (f *inflater) keepWindow(out []byte) {
	if f.dict == nil {
		f.dict = make([]byte, 0, windowSize)
	}
	if len(out) >= windowSize {
		f.dict = append(f.dict[:0], out[len(out)-windowSize:]...)
		return
	}
	if drop := len(f.dict) + len(out) - windowSize; drop > 0 {
		n := copy(f.dict, f.dict[drop:])
		f.dict = f.dict[:n]
	}
	f.dict = append(f.dict, out...)
}

// dropPending gives the buffer of a message in progress back.
func (f *inflater) dropPending() {
	if f.pending == nil {
		return
	}
	if cap(*f.pending) <= maxPooledPending {
		*f.pending = (*f.pending)[:0]
		pendingPool.Put(f.pending)
	}
	f.pending = nil
}

// release drops any state (connection closed). f may be init'ed again
// afterwards.
func (f *inflater) release() {
	f.dropPending()
	f.dict = nil
}
