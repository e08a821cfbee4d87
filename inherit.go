package mill

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Listening sockets the process did not open itself: inherited from a
// parent (a restart that hands them on), from systemd (socket
// activation), or taken from a net.Listener. Each has a name, which is
// the address WithTLS and WithProxyProtocol refer to it by; names that
// end in "#i/n" are loop i's of n SO_REUSEPORT sockets of one address
// (the name before '#'), as Server.ListenerFiles names them, so that
// per-loop sockets survive the trip.

// inheritedFD is one socket to adopt: a descriptor mill duplicates, so
// that the caller may close its own.
type inheritedFD struct {
	name string
	fd   int
	from string // the option, for errors
	keep any    // the caller's file or listener, kept reachable (its finalizer would close fd) until NewServer has adopted it
}

// WithListenerFiles serves on listening sockets the process did not
// open: files inherited from a parent (exec.Cmd.ExtraFiles, tableflip's
// Fds.File) or from systemd (SystemdListeners), each a listening TCP or
// Unix stream socket. Each is known by its Name(): a name ending in
// "#i/n" makes it the i-th of n SO_REUSEPORT sockets of one address, the
// name before '#', as Server.ListenerFiles names them; any other name is
// an address of its own. The names are the addresses WithTLS and
// WithProxyProtocol refer to them by, and must not repeat the server's
// other addresses. mill serves duplicates of the descriptors (made
// non-blocking, close-on-exec; the flag belongs to the socket, so the
// caller's descriptors turn non-blocking too): close the files once
// NewServer returns.
// Inherited per-loop sockets go to the loops, one each, and the main
// reactor accepts on any beyond the number of loops, so a successor with
// fewer loops drops nothing. With inherited sockets NewServer's addr may
// be empty.
func WithListenerFiles(files ...*os.File) Option {
	return optionFunc(func(o *options) {
		for _, f := range files {
			if f == nil {
				o.inheritErr = errors.Join(o.inheritErr, errors.New("mill: WithListenerFiles(nil): want an *os.File"))
				continue
			}
			fd, err := fileFD(f)
			if err != nil {
				o.inheritErr = errors.Join(o.inheritErr, fmt.Errorf("mill: WithListenerFiles(%q): %w", f.Name(), err))
				continue
			}
			o.inherited = append(o.inherited, inheritedFD{name: f.Name(), fd: fd, from: "WithListenerFiles", keep: f})
		}
	})
}

// WithListeners is WithListenerFiles for listeners made with Go's net
// package (*net.TCPListener, *net.UnixListener): each is known as
// network://address (tcp://127.0.0.1:8080, unix:///run/x.sock). mill
// serves a duplicate of its socket: close the listener once NewServer
// returns (a Unix listener: after SetUnlinkOnClose(false), if the file
// must stay).
func WithListeners(ls ...net.Listener) Option {
	return optionFunc(func(o *options) {
		for _, l := range ls {
			if l == nil {
				o.inheritErr = errors.Join(o.inheritErr, errors.New("mill: WithListeners(nil): want a net.Listener"))
				continue
			}
			name := "tcp://" + l.Addr().String()
			if l.Addr().Network() == "unix" {
				name = "unix://" + l.Addr().String()
			}
			sc, ok := l.(syscall.Conn)
			if !ok {
				o.inheritErr = errors.Join(o.inheritErr, fmt.Errorf("mill: WithListeners(%s): a %T has no socket to take over", name, l))
				continue
			}
			fd, err := connFD(sc)
			if err != nil {
				o.inheritErr = errors.Join(o.inheritErr, fmt.Errorf("mill: WithListeners(%s): %w", name, err))
				continue
			}
			o.inherited = append(o.inherited, inheritedFD{name: name, fd: fd, from: "WithListeners", keep: l})
		}
	})
}

// fileFD is f's descriptor, asked without os.File.Fd, which would make
// the socket blocking.
func fileFD(f *os.File) (int, error) { return connFD(f) }

func connFD(sc syscall.Conn) (int, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := rc.Control(func(d uintptr) { fd = int(d) }); err != nil {
		return -1, err
	}
	return fd, nil
}

// loopSocketName splits a name of the form base#i/n.
func loopSocketName(name string) (base string, i, n int, ok bool) {
	i0 := strings.LastIndexByte(name, '#') // a Unix path may hold a '#' of its own
	if i0 < 0 {
		return name, 0, 0, false
	}
	base, part := name[:i0], name[i0+1:]
	si, sn, found := strings.Cut(part, "/")
	i, err1 := strconv.Atoi(si)
	n, err2 := strconv.Atoi(sn)
	if !found || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return name, 0, 0, false
	}
	return base, i, n, true
}
