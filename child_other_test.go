//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package mill

// osChild: no test here runs a child of its own.
func osChild() (int, bool) { return 0, false }
