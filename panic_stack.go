package mill

import "runtime/debug"

// stack returns the calling goroutine's stack, for panic reports.
func stack() []byte { return debug.Stack() }
