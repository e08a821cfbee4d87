//go:build linux

package mill

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sockoptSetter applies the per-connection socket settings in OnOpen and
// reads each back with getsockopt on the descriptor, from inside the
// callback (the only place the descriptor is certainly the
// connection's); in OnClose it checks that they all fail with ErrClosed.
// It reports what went wrong, or "" when nothing did, once from each.
type sockoptSetter struct {
	BuiltinHandler
	unixSocket bool
	opened     chan string
	closed     chan string
}

func (h *sockoptSetter) OnOpen(c Conn) ([]byte, Action) {
	h.opened <- h.check(c)
	return nil, None
}

func (h *sockoptSetter) check(c Conn) string {
	fd := c.Fd()
	if h.unixSocket {
		if err := c.SetNoDelay(true); err == nil {
			return "SetNoDelay on a Unix-domain socket succeeded"
		}
		if err := c.SetReadBuffer(64 << 10); err != nil {
			return fmt.Sprintf("SetReadBuffer on a Unix-domain socket: %v", err)
		}
		return ""
	}
	if err := c.SetNoDelay(false); err != nil {
		return fmt.Sprintf("SetNoDelay: %v", err)
	}
	if v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || v != 0 {
		return fmt.Sprintf("TCP_NODELAY = %d, %v after SetNoDelay(false)", v, err)
	}
	if err := c.SetKeepAlive(7 * time.Second); err != nil {
		return fmt.Sprintf("SetKeepAlive: %v", err)
	}
	for _, o := range []struct {
		level, opt, want int
		name             string
	}{
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1, "SO_KEEPALIVE"},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 7, "TCP_KEEPIDLE"},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 7, "TCP_KEEPINTVL"},
	} {
		if v, err := unix.GetsockoptInt(fd, o.level, o.opt); err != nil || v != o.want {
			return fmt.Sprintf("%s = %d, %v after SetKeepAlive(7s); want %d", o.name, v, err, o.want)
		}
	}
	if err := c.SetKeepAlive(0); err != nil {
		return fmt.Sprintf("SetKeepAlive(0): %v", err)
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE); err != nil || v != 0 {
		return fmt.Sprintf("SO_KEEPALIVE = %d, %v after SetKeepAlive(0)", v, err)
	}
	if err := c.SetLinger(3); err != nil {
		return fmt.Sprintf("SetLinger: %v", err)
	}
	if l, err := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER); err != nil || l.Onoff == 0 || l.Linger != 3 {
		return fmt.Sprintf("SO_LINGER = %+v, %v after SetLinger(3)", l, err)
	}
	if err := c.SetLinger(-1); err != nil { // back to the default: close in the background
		return fmt.Sprintf("SetLinger(-1): %v", err)
	}
	if l, err := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER); err != nil || l.Onoff != 0 {
		return fmt.Sprintf("SO_LINGER = %+v, %v after SetLinger(-1)", l, err)
	}
	// Linux doubles the value asked for (for its bookkeeping).
	if err := c.SetReadBuffer(96 << 10); err != nil {
		return fmt.Sprintf("SetReadBuffer: %v", err)
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err != nil || v < 96<<10 {
		return fmt.Sprintf("SO_RCVBUF = %d, %v after SetReadBuffer(96 KiB)", v, err)
	}
	if err := c.SetWriteBuffer(80 << 10); err != nil {
		return fmt.Sprintf("SetWriteBuffer: %v", err)
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF); err != nil || v < 80<<10 {
		return fmt.Sprintf("SO_SNDBUF = %d, %v after SetWriteBuffer(80 KiB)", v, err)
	}
	return ""
}

func (h *sockoptSetter) OnClose(c Conn, _ error) Action {
	var bad []string
	for name, err := range map[string]error{
		"SetNoDelay":     c.SetNoDelay(true),
		"SetKeepAlive":   c.SetKeepAlive(time.Second),
		"SetLinger":      c.SetLinger(0),
		"SetReadBuffer":  c.SetReadBuffer(1 << 16),
		"SetWriteBuffer": c.SetWriteBuffer(1 << 16),
	} {
		if !errors.Is(err, ErrClosed) {
			bad = append(bad, fmt.Sprintf("%s after close: %v, want ErrClosed", name, err))
		}
	}
	h.closed <- fmt.Sprint(bad)
	return None
}

// TestConnSocketSettings: the socket settings work inside OnOpen on a TCP
// connection, as getsockopt sees them; fail with ErrClosed once the
// connection has closed; and SetNoDelay fails on a Unix-domain socket.
func TestConnSocketSettings(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			h := &sockoptSetter{unixSocket: network == "unix", opened: make(chan string, 1), closed: make(chan string, 1)}
			addr := ""
			if network == "unix" {
				addr = "unix://" + filepath.Join(t.TempDir(), "mill.sock")
			}
			s := serve(t, h, addr, WithLoops(1))
			c := dial(t, s)
			if bad := recv(t, h.opened, "OnOpen"); bad != "" {
				t.Fatal(bad)
			}
			c.Close()
			if bad := recv(t, h.closed, "OnClose"); bad != "[]" {
				t.Fatal(bad)
			}
		})
	}
}
