//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package mill

import "os"

// SystemdListeners returns nil: socket activation passes descriptors
// only to the systems mill serves on.
func SystemdListeners() ([]*os.File, error) { return nil, nil }
