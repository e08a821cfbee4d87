//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"fmt"

	"github.com/mill-io/mill/codec"
)

// maxEncodeScratch bounds the per-loop encode buffer kept between frames;
// a larger one, grown for an unusually large frame, is dropped after use.
const maxEncodeScratch = 1 << 20

// SetCodec sets the codec that frames this connection's byte stream from
// now on; nil removes it. Unread input stays buffered and is decoded by
// the new codec. Loop goroutine only.
func (c *conn) SetCodec(cd codec.Codec) { c.codec = cd }

// ReadFrame decodes the next frame from the buffered input and consumes
// it. It returns nil, nil when no complete frame is buffered yet (a
// complete but empty frame is a non-nil empty slice). A decode error is
// returned (again by every later call), and the connection closes
// lingering, with it, once the callback returns. The frame is valid until
// the callback returns. Loop goroutine only.
func (c *conn) ReadFrame() ([]byte, error) {
	if c.codec == nil {
		return nil, ErrNoCodec
	}
	if err := c.readable(); err != nil {
		return nil, err
	}
	in := c.buffered()
	if len(in) == 0 {
		return nil, nil
	}
	frame, n, err := c.codec.Decode(in)
	if err == nil && n > len(in) {
		err = codecOverrun(n, len(in))
	}
	if err != nil {
		c.decodeFailed(err)
		return nil, err
	}
	if n <= 0 {
		return nil, nil
	}
	if frame == nil {
		frame = in[:0]
	}
	c.view = in[n:]
	c.markConsumed()
	return frame, nil
}

// WriteFrame encodes p with the connection's codec and writes it as Write
// does. Loop goroutine only; p is not retained.
func (c *conn) WriteFrame(p []byte) error {
	b, err := c.encodeFrame(p)
	if err != nil {
		return err
	}
	return c.writeEncoded(b)
}

// encodeFrame encodes p with the connection's codec into the loop's
// scratch buffer, if the connection can take output. Loop goroutine.
func (c *conn) encodeFrame(p []byte) ([]byte, error) {
	if c.codec == nil {
		return nil, ErrNoCodec
	}
	if err := c.writeErr(); err != nil {
		return nil, err
	}
	return c.codec.Encode(c.loop.encBuf[:0], p)
}

// writeEncoded writes a frame encoded into the loop's scratch buffer and
// keeps the buffer for the next frame, unless it grew unusually large.
// Loop goroutine.
func (c *conn) writeEncoded(b []byte) error {
	_, err := c.Write(b)
	if cap(b) > maxEncodeScratch {
		b = nil
	}
	c.loop.encBuf = b[:0]
	return err
}

// AsyncWriteFrame encodes p on the connection's loop and writes it, as
// AsyncWrite does. Any goroutine; p must not be modified until cb runs.
func (c *conn) AsyncWriteFrame(p []byte, cb AsyncCallback) error {
	if err := c.refuseInDrain(cb); err != nil {
		return err
	}
	return c.submitWrite(func() {
		// The codec is handler code: it runs through run. The write
		// itself, like AsyncWrite's, is not held back for a batch.
		var b []byte
		err := ErrClosed // what cb hears if the codec panics (c then closes)
		c.run("AsyncWriteFrame (Encode)", func() Action { b, err = c.encodeFrame(p); return None })
		if err == nil {
			err = c.writeEncoded(b)
		}
		c.asyncDone(cb, err)
		c.wrote()
	}, cb)
}

// decodeFailed dooms a connection whose input cannot be decoded: it
// closes with err once the callback returns. Unlike a broken socket, it
// can still be written to until then, so the handler can answer with a
// protocol error, and the close lingers (see linger) so that the answer
// reaches the peer rather than a reset. Loop goroutine.
func (c *conn) decodeFailed(err error) {
	c.markDoomed(err, true)
	if !c.inCallback() {
		c.closeDoomed()
	}
}

// readable reports why input cannot be decoded any more, if so: a decode
// error or a broken socket already doomed the connection.
func (c *conn) readable() error {
	if c.doomed() {
		return c.closeErr()
	}
	return nil
}

// codecOverrun reports a Decoder that claimed more bytes than it was given.
func codecOverrun(n, have int) error {
	return fmt.Errorf("%w: decoder consumed %d of %d buffered bytes", codec.ErrCorruptFrame, n, have)
}
