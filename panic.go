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

// Error reports the panic's value.
func (e *PanicError) Error() string { return fmt.Sprintf("mill: handler panic: %v", e.Value) }

// Is makes errors.Is(err, ErrHandlerPanic) true.
func (e *PanicError) Is(target error) bool { return target == ErrHandlerPanic }

// stack returns the calling goroutine's stack, for panic reports.
func stack() []byte { return debug.Stack() }

// guard runs handler code, fn, and recovers a panic in it: the panic is
// logged with where it happened and its stack, and returned as a
// *PanicError (with Action None) for the caller to act on. It is the one
// recover around handler code on mill's own goroutines (loops and
// Serve's); worker-pool tasks are recovered by the pool's wrapper. An
// open-coded defer makes the path without a panic cost about a
// nanosecond.
func guard(log *zap.Logger, where string, fn func() Action) (a Action, pe *PanicError) {
	defer func() {
		if v := recover(); v != nil {
			pe = &PanicError{Value: v, Stack: stack()}
			log.Error("recovered panic", zap.String("in", where), zap.Any("panic", v),
				zap.ByteString("stack", pe.Stack))
			a = None
		}
	}()
	return fn(), nil
}
