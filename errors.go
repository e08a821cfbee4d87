package mill

import "errors"

var (
	// ErrServerClosed is returned by Serve after Shutdown, and passed to
	// OnClose for connections the shutdown closed.
	ErrServerClosed = errors.New("mill: server closed")
	// ErrClosed is returned by operations on a closed connection and
	// passed to the callbacks of asynchronous writes it did not finish.
	ErrClosed = errors.New("mill: connection closed")
	// ErrUnsupportedPlatform is returned by NewServer on systems without
	// epoll or kqueue.
	ErrUnsupportedPlatform = errors.New("mill: unsupported platform (need Linux, macOS or a BSD)")
	// ErrInvalidAddress is returned by NewServer for an address it cannot
	// parse.
	ErrInvalidAddress = errors.New("mill: invalid address")
)
