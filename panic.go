//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"fmt"
	"runtime/debug"

	"go.uber.org/zap"
)

// PanicError is the error a connection closes with when handler code for
// it panicked: a callback, a codec, an asynchronous-write callback or a
// worker-pool task. It matches ErrHandlerPanic with errors.Is.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string { return fmt.Sprintf("mill: handler panic: %v", e.Value) }

// Is makes errors.Is(err, ErrHandlerPanic) true.
func (e *PanicError) Is(target error) bool { return target == ErrHandlerPanic }

// stack returns the calling goroutine's stack, for panic reports.
func stack() []byte { return debug.Stack() }

// recovered logs a panic recovered on a loop and returns it as an error.
func (e *engine) recovered(where string, v any, stack []byte) *PanicError {
	e.log.Error("recovered panic", zap.String("in", where), zap.Any("panic", v),
		zap.ByteString("stack", stack))
	return &PanicError{Value: v, Stack: stack}
}

// Each wrapper below runs handler code for c with a deferred recover: a
// panic closes c with a *PanicError once the code has returned, and the
// loop and every other connection carry on. Open-coded defers make the
// no-panic path cost about a nanosecond.

func (c *conn) onOpen() (out []byte, a Action) {
	defer func() {
		if v := recover(); v != nil {
			c.fail(c.loop.e.recovered("OnOpen", v, stack()))
			out, a = nil, None
		}
	}()
	return c.loop.h.OnOpen(c)
}

func (c *conn) onTraffic() (a Action) {
	defer func() {
		if v := recover(); v != nil {
			c.fail(c.loop.e.recovered("OnTraffic", v, stack()))
			a = None
		}
	}()
	return c.loop.h.OnTraffic(c)
}

func (c *conn) onClose(err error) (a Action) {
	defer func() {
		if v := recover(); v != nil {
			c.loop.e.recovered("OnClose", v, stack())
			a = None
		}
	}()
	return c.loop.h.OnClose(c, err)
}

func (c *conn) onCallback(cb AsyncCallback, err error) {
	defer func() {
		if v := recover(); v != nil {
			c.fail(c.loop.e.recovered("AsyncCallback", v, stack()))
		}
	}()
	cb(c, err)
}
