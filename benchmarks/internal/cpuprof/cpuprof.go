// Package cpuprof gives the benchmark servers a -cpuprofile flag. The
// servers run until they are killed, so the profile is written when the
// server gets SIGTERM or SIGINT (the runner stops servers with SIGTERM),
// and the process then exits. A server that handles those signals itself
// and returns from main calls Stop first, so that the profile is complete
// whichever of the two handlers runs first.
package cpuprof

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
)

var (
	stopOnce sync.Once
	stopFn   = func() error { return nil }
)

// Stop stops the profile started by Start and writes it out; calls
// after the first (and without Start) do nothing but wait for it.
func Stop() error {
	var err error
	stopOnce.Do(func() { err = stopFn() })
	return err
}

// Start starts a CPU profile into path ("" does nothing) and arranges for
// SIGTERM and SIGINT to stop it and exit with status 0.
func Start(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	stopFn = func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		if err := Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "cpuprofile:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}()
	return nil
}
