//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// SystemdListeners returns the sockets systemd passed to the process
// (socket activation, sd_listen_fds(3)): when LISTEN_PID is this
// process, the LISTEN_FDS descriptors from 3 on, as files named by
// LISTEN_FDNAMES (FileDescriptorName= in the socket unit, which takes
// no ':'; systemd's default is the unit's name, and "systemd:<n>" here
// when there is none; a name that comes again gets ".1", ".2", ...): WithTLS and WithProxyProtocol refer to a socket
// by that name. It unsets the variables, so that children do not take
// the sockets for theirs, and returns nil without them. Pass the files
// to WithListenerFiles.
func SystemdListeners() ([]*os.File, error) {
	defer func() {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}()
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil, nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return nil, fmt.Errorf("mill: LISTEN_FDS=%q: want a count", os.Getenv("LISTEN_FDS"))
	}
	var names []string
	if s := os.Getenv("LISTEN_FDNAMES"); s != "" {
		names = strings.Split(s, ":")
	}
	const first = 3 // SD_LISTEN_FDS_START
	files := make([]*os.File, n)
	seen := make(map[string]int)
	for i := range n {
		fd := first + i
		syscall.CloseOnExec(fd)
		name := "systemd:" + strconv.Itoa(i)
		if i < len(names) && names[i] != "" && names[i] != "unknown" {
			name = names[i]
		}
		// A unit with several ListenStream= names them all alike (the
		// unit's name by default): the second is name.1, and so on.
		if k := seen[name]; k > 0 {
			seen[name] = k + 1
			name += "." + strconv.Itoa(k)
		} else {
			seen[name] = 1
		}
		files[i] = os.NewFile(uintptr(fd), name)
	}
	return files, nil
}
