//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenBacklog is passed to listen(2); the kernel clamps it to its own
// limit (net.core.somaxconn on Linux, kern.ipc.somaxconn on the BSDs).
const listenBacklog = 65535

// Listener is a bound, non-blocking, close-on-exec socket: a listening
// stream socket from Listen or a datagram socket from ListenPacket.
type Listener struct {
	Fd     int      // the socket, non-blocking and close-on-exec
	Family int      // unix.AF_INET, unix.AF_INET6 or unix.AF_UNIX
	Addr   net.Addr // the bound address, port 0 resolved: *net.TCPAddr, *net.UDPAddr or *net.UnixAddr

	path     string // Unix socket file we created, removed by Close
	dev, ino uint64 // its identity, so Close removes only our own file
}

// Listen opens a listening socket. network is tcp, tcp4, tcp6 or unix.
// For tcp with a wildcard host the socket is dual-stack (AF_INET6 taking
// IPv4 too) where the system allows it, else AF_INET; tcp6 sockets are
// IPv6-only. o is applied before bind; Unix sockets ignore it. For unix,
// an existing socket file is removed only if nothing accepts connections
// on it; a path starting with '@' names a Linux abstract socket.
func Listen(network, address string, o Options) (*Listener, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return listenInet(network, address, unix.SOCK_STREAM, o)
	case "unix":
		return listenUnix(address)
	}
	return nil, fmt.Errorf("socket: unsupported network %q", network)
}

// ListenPacket opens a bound datagram socket. network is udp, udp4 or
// udp6, and the address rules are Listen's: a wildcard host with udp
// gives a dual-stack AF_INET6 socket where the system allows it, else
// AF_INET; udp6 sockets are IPv6-only. o is applied before bind.
// Listener.Addr is a *net.UDPAddr.
func ListenPacket(network, address string, o Options) (*Listener, error) {
	switch network {
	case "udp", "udp4", "udp6":
		return listenInet(network, address, unix.SOCK_DGRAM, o)
	}
	return nil, fmt.Errorf("socket: unsupported network %q", network)
}

// resolveInet resolves address for a tcp* or udp* network.
func resolveInet(network, address string) (ip net.IP, port int, zone string, err error) {
	if strings.HasPrefix(network, "udp") {
		a, err := net.ResolveUDPAddr(network, address)
		if err != nil {
			return nil, 0, "", err
		}
		return a.IP, a.Port, a.Zone, nil
	}
	a, err := net.ResolveTCPAddr(network, address)
	if err != nil {
		return nil, 0, "", err
	}
	return a.IP, a.Port, a.Zone, nil
}

func listenInet(network, address string, typ int, o Options) (*Listener, error) {
	ip, port, zone, err := resolveInet(network, address)
	if err != nil {
		return nil, err
	}
	family, v6only := unix.AF_INET, false
	ip4 := ip.To4()
	switch {
	case strings.HasSuffix(network, "4") || ip4 != nil:
		if ip != nil && ip4 == nil {
			return nil, fmt.Errorf("socket: %s is not an IPv4 address", ip)
		}
	case strings.HasSuffix(network, "6"):
		family, v6only = unix.AF_INET6, true
	case len(ip) == 0 || ip.IsUnspecified():
		family = unix.AF_INET6 // dual-stack wildcard
	default:
		family, v6only = unix.AF_INET6, true
	}
	fd, err := newSocket(family, typ)
	if err == nil && family == unix.AF_INET6 {
		if err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, boolint(v6only)); err != nil {
			unix.Close(fd)
			err = os.NewSyscallError("setsockopt", err)
		}
	}
	if err != nil && family == unix.AF_INET6 && !v6only {
		// No IPv6 on this host, or no dual-stack sockets (OpenBSD).
		family = unix.AF_INET
		fd, err = newSocket(family, typ)
	}
	if err != nil {
		return nil, err
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		s := &unix.SockaddrInet4{Port: port}
		if ip4 != nil {
			s.Addr = [4]byte(ip4)
		}
		sa = s
	} else {
		s := &unix.SockaddrInet6{Port: port}
		copy(s.Addr[:], ip.To16())
		if zone != "" {
			id, err := zoneIndex(zone)
			if err != nil {
				unix.Close(fd)
				return nil, err
			}
			s.ZoneId = id
		}
		sa = s
	}
	if err := applyOptions(fd, o); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if typ == unix.SOCK_DGRAM {
		return bindPacket(fd, family, sa)
	}
	return bindListen(fd, family, sa, "", address)
}

// bindPacket binds a datagram socket and describes it.
func bindPacket(fd, family int, sa unix.Sockaddr) (*Listener, error) {
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("getsockname", err)
	}
	return &Listener{Fd: fd, Family: family, Addr: toUDPAddr(bound)}, nil
}

func listenUnix(path string) (*Listener, error) {
	if path == "" {
		return nil, errors.New("socket: empty unix socket path")
	}
	abstract := path[0] == '@'
	if !abstract {
		if err := removeStale(path); err != nil {
			return nil, err
		}
	}
	fd, err := newSocket(unix.AF_UNIX, unix.SOCK_STREAM)
	if err != nil {
		return nil, err
	}
	own := path
	if abstract {
		own = ""
	}
	return bindListen(fd, unix.AF_UNIX, &unix.SockaddrUnix{Name: path}, own, path)
}

// removeStale deletes path if it is a socket that nobody listens on. A
// live socket is reported as EADDRINUSE; a file of another kind is left
// alone and reported too.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("socket: %s exists and is not a socket", path)
	}
	fd, err := newSocket(unix.AF_UNIX, unix.SOCK_STREAM)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// The socket is non-blocking: a live listener answers at once or with
	// EAGAIN (full backlog); a dead one refuses.
	switch err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err {
	case unix.ECONNREFUSED:
		return os.Remove(path)
	case nil, unix.EAGAIN, unix.EINPROGRESS:
		return &net.OpError{Op: "listen", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"},
			Err: os.NewSyscallError("bind", unix.EADDRINUSE)}
	default:
		return os.NewSyscallError("connect", err)
	}
}

func bindListen(fd, family int, sa unix.Sockaddr, path, address string) (*Listener, error) {
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		unix.Close(fd)
		if path != "" {
			os.Remove(path)
		}
		return nil, os.NewSyscallError("listen", err)
	}
	l := &Listener{Fd: fd, Family: family, path: path}
	if path != "" {
		var st unix.Stat_t
		if unix.Stat(path, &st) == nil {
			l.dev, l.ino = uint64(st.Dev), uint64(st.Ino)
		}
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		l.Close()
		return nil, os.NewSyscallError("getsockname", err)
	}
	l.Addr = ToAddr(bound)
	if ua, ok := l.Addr.(*net.UnixAddr); ok && ua.Name == "" {
		ua.Name = address
	}
	return l, nil
}

// Close closes the socket and removes the Unix socket file it created,
// unless something else has replaced that file since.
func (l *Listener) Close() error {
	err := unix.Close(l.Fd)
	if l.path != "" {
		var st unix.Stat_t
		if unix.Stat(l.path, &st) == nil && uint64(st.Dev) == l.dev && uint64(st.Ino) == l.ino {
			os.Remove(l.path)
		}
	}
	if err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// newSocket creates a non-blocking, close-on-exec socket. Not every
// system takes SOCK_NONBLOCK|SOCK_CLOEXEC in socket(2), so the flags are
// set afterwards under syscall.ForkLock, as the standard library does.
func newSocket(family, typ int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("fcntl", err)
	}
	return fd, nil
}

// acceptErr keeps the errors the accept loop handles itself bare and
// wraps the rest.
func acceptErr(err error) error {
	switch err {
	case unix.EAGAIN, unix.EINTR, unix.ECONNABORTED:
		return err
	}
	return os.NewSyscallError("accept", err)
}
