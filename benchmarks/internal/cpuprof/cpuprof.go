// Package cpuprof gives the benchmark servers a -cpuprofile flag. The
// servers run until they are killed, so the profile is written when the
// server gets SIGTERM or SIGINT (the runner stops servers with SIGTERM),
// and the process then exits.
package cpuprof

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

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
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "cpuprofile:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}()
	return nil
}
