package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The kernel drops datagrams that arrive while a socket's receive queue
// is full (the server fell behind, or SO_RCVBUF is small): they never
// reach mill, so neither the handler's counters nor mill's Stats can see
// them. On Linux the kernel counts them per socket, in the last column
// ("drops") of /proc/net/udp and /proc/net/udp6; kernelDrops sums that
// column over this process's sockets bound to the server's ports (one per
// loop and address with SO_REUSEPORT).

// errNoProcNetUDP: kernelDrops works where /proc/net/udp does, on Linux.
var errNoProcNetUDP = errors.New("the kernel's UDP drop counts are read from /proc/net/udp, which this system lacks")

// kernelDrops returns how many datagrams the kernel dropped on this
// process's UDP sockets bound to the ports of addrs, since they opened.
// Any goroutine; it must be called while the sockets are open.
func kernelDrops(addrs []net.Addr) (uint64, error) {
	ports := map[int]bool{}
	for _, a := range addrs {
		if u, ok := a.(*net.UDPAddr); ok {
			ports[u.Port] = true
		}
	}
	mine, err := socketInodes()
	if err != nil {
		return 0, err
	}
	var total uint64
	found := false
	for _, name := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		n, ok, err := sumDrops(name, ports, mine)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, err
		}
		total += n
		found = found || ok
	}
	if !found {
		if _, err := os.Stat("/proc/net/udp"); err != nil {
			return 0, errNoProcNetUDP
		}
		return 0, fmt.Errorf("no socket of this process bound to ports %v in /proc/net/udp", keys(ports))
	}
	return total, nil
}

// socketInodes returns the inodes of this process's sockets.
func socketInodes() (map[uint64]bool, error) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errNoProcNetUDP
		}
		return nil, err
	}
	inodes := map[uint64]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil { // closed meanwhile
			continue
		}
		if s, ok := strings.CutPrefix(target, "socket:["); ok {
			if n, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
				inodes[n] = true
			}
		}
	}
	return inodes, nil
}

// sumDrops sums the drops column of the rows of a /proc/net/udp file
// whose local port is in ports and whose inode is in inodes. ok reports
// whether any row matched.
func sumDrops(name string, ports map[int]bool, inodes map[uint64]bool) (total uint64, ok bool, err error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when
		// retrnsmt uid timeout inode ref pointer drops
		f := strings.Fields(sc.Text())
		if len(f) < 13 {
			continue
		}
		_, hexPort, _ := strings.Cut(f[1], ":")
		port, err1 := strconv.ParseUint(hexPort, 16, 16)
		inode, err2 := strconv.ParseUint(f[9], 10, 64)
		drops, err3 := strconv.ParseUint(f[12], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || !ports[int(port)] || !inodes[inode] {
			continue
		}
		total += drops
		ok = true
	}
	return total, ok, sc.Err()
}

func keys(m map[int]bool) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
