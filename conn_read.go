//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import "io"

// buffered returns the unread input as one slice, making the view if
// handler code asks outside OnTraffic. Loop goroutine.
func (c *conn) buffered() []byte {
	if c.view == nil && c.in.Len() > 0 {
		c.view = c.in.Contiguous(-1)
		c.setViewRing(true)
	}
	return c.view
}

// settle folds the view back after handler code ran: input taken from
// the ring is discarded, input left in the loop's read buffer is copied
// into the ring, an empty ring goes back to the pool, and reading pauses
// or resumes per the inbound limit. Loop goroutine, never while handler
// code for c is running.
func (c *conn) settle() {
	if c.view == nil {
		if c.inboundFull() {
			c.checkInbound()
		}
		return
	}
	if c.viewIsRing() {
		c.in.Discard(c.in.Len() - len(c.view)) // the ring does not change under a view
	} else if len(c.view) > 0 {
		c.in.Write(c.view)
	}
	c.view = nil
	c.setViewRing(false)
	if c.in.Len() == 0 {
		c.in.Release()
	}
	c.checkInbound()
	c.inputState(c.takeConsumed())
}

// Peek returns up to n unread bytes without consuming them. Loop
// goroutine only; the slice is valid until the callback returns.
func (c *conn) Peek(n int) ([]byte, error) {
	b := c.buffered()
	if n < 0 {
		return b, nil
	}
	if n > len(b) {
		return b, io.ErrShortBuffer
	}
	return b[:n:n], nil
}

// Next returns up to n unread bytes and consumes them. Loop goroutine
// only; the slice is valid until the callback returns.
func (c *conn) Next(n int) ([]byte, error) {
	b, err := c.Peek(n)
	if len(b) > 0 {
		c.view = c.view[len(b):]
		c.markConsumed()
	}
	return b, err
}

// Discard drops up to n unread bytes. Loop goroutine only.
func (c *conn) Discard(n int) (int, error) {
	b := c.buffered()
	if n < 0 || n > len(b) {
		n = len(b)
	}
	if n > 0 {
		c.view = c.view[n:]
		c.markConsumed()
	}
	return n, nil
}

// Read copies unread bytes into p. Loop goroutine only.
func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b := c.buffered()
	if len(b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b)
	c.view = b[n:]
	c.markConsumed()
	return n, nil
}

// InboundBuffered is the number of unread bytes. Loop goroutine only.
func (c *conn) InboundBuffered() int {
	if c.view != nil {
		return len(c.view)
	}
	return c.in.Len()
}
