// Command upgrade is a mill echo server that upgrades itself in place:
// on SIGHUP it re-executes its binary with github.com/cloudflare/tableflip,
// hands the new process its listening sockets, and, once the new process
// serves, the old one stops accepting, finishes what its connections are
// doing and exits. No connection is refused or reset on the way.
//
//	go build -o /tmp/upgrade . && /tmp/upgrade -addr 127.0.0.1:9000 -pidfile /tmp/upgrade.pid
//	kill -HUP "$(cat /tmp/upgrade.pid)"
//
// See README.md for what happens during an upgrade, and its caveats.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"
	"github.com/mill-io/mill"
)

// filePrefix marks the files this program hands to its successor among
// tableflip's named files: the rest of the name is the socket's name as
// Server.ListenerFiles gives it and WithListenerFiles expects it
// (address, or address#i/n for per-loop SO_REUSEPORT sockets).
const filePrefix = "mill-listener:"

// echo writes back everything it reads. Once the process is leaving
// (leaving is set), a connection closes right after an echo that ends at
// a line boundary: the client has its answer and, if it waits for each
// answer before sending more, has nothing in flight, so the close costs
// it nothing. The close lingers (FIN after the echo, then the client's
// input is read until its FIN), so that it is never a reset.
type echo struct {
	mill.BuiltinHandler
	leaving *atomic.Bool
	grace   time.Duration
}

func (h echo) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	if _, err := c.Write(b); err != nil {
		return mill.Close
	}
	if h.leaving.Load() && len(b) > 0 && b[len(b)-1] == '\n' {
		c.CloseLingering()
	}
	return mill.None
}

// OnShutdown runs once the server has stopped accepting and before mill
// drains it. mill's drain (HandOff's as Shutdown's) stops reading and
// closes a connection that has been served as soon as it is quiet, even
// when its client has just sent a line the server has not read yet: the
// unread input makes the kernel reset the connection, and the client
// never gets its echo. So the server keeps serving, for up to grace,
// until its connections have closed at the line boundaries OnTraffic
// picks; whatever is left then (idle connections) the drain closes.
func (h echo) OnShutdown(s *mill.Server) {
	deadline := time.Now().Add(h.grace)
	for s.CountConnections() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.CountConnections(); n > 0 {
		log.Printf("pid %d: %d connection(s) still open after %v; draining them", os.Getpid(), n, h.grace)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on when started fresh (an upgraded process serves the sockets it inherits)")
	loops := flag.Int("loops", 0, "event loops (0: one per CPU)")
	reusePort := flag.Bool("reuseport", false, "give every loop its own SO_REUSEPORT socket (handed on by name at an upgrade)")
	pidFile := flag.String("pidfile", "", "write the serving process's pid here once it is ready")
	grace := flag.Duration("grace", 5*time.Second, "how long an old process keeps serving its connections before it drains them")
	drainTimeout := flag.Duration("drain-timeout", 5*time.Second, "then how long the drain may take before what is left is closed")
	upgradeTimeout := flag.Duration("upgrade-timeout", 30*time.Second, "how long a new process may take to become ready")
	flag.Parse()
	log.SetPrefix(fmt.Sprintf("upgrade[%d] ", os.Getpid()))
	if err := run(*addr, *loops, *reusePort, *pidFile, *grace, *drainTimeout, *upgradeTimeout); err != nil {
		log.Fatal(err)
	}
}

func run(addr string, loops int, reusePort bool, pidFile string, grace, drainTimeout, upgradeTimeout time.Duration) error {
	// tableflip writes the pid file in upg.Ready (atomically, by rename),
	// which is called only once mill accepts on every socket.
	upg, err := tableflip.New(tableflip.Options{PIDFile: pidFile, UpgradeTimeout: upgradeTimeout})
	if err != nil {
		return err
	}
	defer upg.Stop()

	leaving := new(atomic.Bool)
	opts := []mill.Option{mill.WithLoops(loops), mill.WithReusePort(reusePort)}
	h := echo{leaving: leaving, grace: grace}

	var srv *mill.Server
	if upg.HasParent() {
		files, err := inheritedFiles(upg)
		if err != nil {
			return err
		}
		if len(files) == 0 {
			return errors.New("upgraded, but the parent handed on no listening socket")
		}
		srv, err = mill.NewServer(h, "", append(opts, mill.WithListenerFiles(files...))...)
		for _, f := range files {
			f.Close() // mill serves duplicates
		}
		if err != nil {
			return err
		}
		log.Printf("serving %d inherited socket(s) on %v", len(files), srv.Addrs())
	} else {
		if srv, err = mill.NewServer(h, addr, opts...); err != nil {
			return err
		}
		log.Printf("serving %v (fresh start)", srv.Addrs())
	}

	// Register the sockets for the next upgrade. tableflip keeps its own
	// duplicates and passes them, by name, to the process it starts.
	files, err := srv.ListenerFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		err = errors.Join(err, upg.Fds.AddFile(filePrefix+f.Name(), f))
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("hand the sockets to tableflip: %w", err)
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	select {
	case <-srv.Ready():
	case err := <-serveErr:
		return err
	}
	// Tell the parent (if any) that this process serves: it stops
	// accepting and leaves. Also writes the pid file.
	if err := upg.Ready(); err != nil {
		return err
	}
	log.Printf("ready")

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for sig := range sigs {
			if sig != syscall.SIGHUP {
				upg.Stop() // no successor: Exit fires, the server shuts down
				return
			}
			log.Printf("SIGHUP: upgrading")
			// One upgrade at a time: tableflip refuses another while one
			// runs, and a new process cannot upgrade before its parent
			// has exited.
			if err := upg.Upgrade(); err != nil {
				log.Printf("upgrade failed: %v", err)
			}
		}
	}()

	select {
	case <-upg.Exit():
	case err := <-serveErr:
		return err
	}

	// A successor serves the same sockets (or, after a SIGTERM, there is
	// none). Mark the server not ready for health checks, let the
	// connections finish at line boundaries, then hand off: HandOff
	// serves what it accepted last (and, without a successor, what is
	// queued on the sockets) and closes only this process's copies of the
	// sockets, so what waits in their accept queues stays for the
	// successor.
	srv.MarkNotReady()
	leaving.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), grace+drainTimeout)
	defer cancel()
	if err := srv.HandOff(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Printf("drained; exiting")
	return nil
}

// inheritedFiles takes the listening sockets the parent handed on, each
// named as Server.ListenerFiles named it. tableflip gives them out as
// files named "fd:NAME:", so each is duplicated under its plain name.
func inheritedFiles(upg *tableflip.Upgrader) ([]*os.File, error) {
	all, err := upg.Fds.Files()
	if err != nil {
		return nil, err
	}
	var out []*os.File
	for _, f := range all {
		name := strings.TrimSuffix(strings.TrimPrefix(f.Name(), "fd:"), ":")
		if !strings.HasPrefix(name, filePrefix) {
			f.Close()
			continue
		}
		d, err := dupNamed(f, strings.TrimPrefix(name, filePrefix))
		f.Close()
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// dupNamed duplicates f's descriptor (close-on-exec) as a file called
// name, without os.File.Fd, which would make the socket blocking.
func dupNamed(f *os.File, name string) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var nfd uintptr
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		nfd, _, errno = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if errno != 0 {
		return nil, fmt.Errorf("dup %s: %w", name, errno)
	}
	return os.NewFile(nfd, name), nil
}
