//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package mill

import (
	"context"
	"crypto/tls"
	"net"
)

// engine is absent on systems without epoll or kqueue.
type engine struct{}

func newEngine(*Server, []string) (*engine, error) { return nil, ErrUnsupportedPlatform }

func checkCPU(int) error { return ErrUnsupportedPlatform }

func (*engine) boot() error { return ErrUnsupportedPlatform }

func (*engine) run() error            { return ErrUnsupportedPlatform }
func (*engine) closeUnstarted()       {}
func (*engine) addr() net.Addr        { return nil }
func (*engine) addrs() []net.Addr     { return nil }
func (*engine) countConnections() int { return 0 }
func (*engine) onLoop() bool          { return false }
func (*engine) stats() Stats          { return Stats{} }

func (*engine) dial(context.Context, context.Context, string, string, any, *tls.Config, func(Conn, error)) {
}
func (*engine) enroll(net.Conn) (Conn, error) { return nil, ErrUnsupportedPlatform }
