//go:build linux

package main

import (
	"context"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/mill-io/mill"
)

// A reproduction of what mill's drain does to a connection whose client
// has sent a request the server has not read yet: Shutdown closes it as
// soon as it is quiet, with the request unread, so the kernel resets it
// and the client never gets its answer. Not part of CI (it shows the
// core's behaviour, which examples/upgrade works around): run it with
// MILL_DRAIN_REPRO=1 go test -run TestDrainRepro -v.

type slowEcho struct {
	mill.BuiltinHandler
	inSlow chan struct{}
}

func (h slowEcho) OnTraffic(c mill.Conn) mill.Action {
	b, _ := c.Next(-1)
	if string(b) == "slow\n" {
		close(h.inSlow)
		// The loop is busy: the next line waits unread while Shutdown
		// posts the drain.
		time.Sleep(200 * time.Millisecond)
	}
	c.Write(b)
	return mill.None
}

func TestDrainRepro(t *testing.T) {
	if os.Getenv("MILL_DRAIN_REPRO") == "" {
		t.Skip("set MILL_DRAIN_REPRO=1 to run")
	}
	t.Run("Shutdown", func(t *testing.T) { drainRepro(t, (*mill.Server).Shutdown) })
	t.Run("HandOff", func(t *testing.T) { drainRepro(t, (*mill.Server).HandOff) })
}

func drainRepro(t *testing.T, stop func(*mill.Server, context.Context) error) {
	inSlow := make(chan struct{})
	srv, err := mill.NewServer(slowEcho{inSlow: inSlow}, "127.0.0.1:0", mill.WithLoops(1))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	<-srv.Ready()

	// 1. A connection the server accepted whose client has not written
	// yet when the drain begins.
	fresh, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()

	// 2. A connection with a line in flight when the drain begins.
	busy, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for srv.CountConnections() < 2 {
		time.Sleep(time.Millisecond)
	}
	io.WriteString(busy, "slow\n")
	<-inSlow                       // the loop now sleeps in OnTraffic
	io.WriteString(busy, "next\n") // arrives, unread
	done := make(chan error, 1)
	go func() { done <- stop(srv, context.Background()) }()
	busy.SetDeadline(time.Now().Add(2 * time.Second))
	got, err := io.ReadAll(busy)
	if string(got) != "slow\nnext\n" || err != nil {
		t.Errorf("busy connection: read %q, then %v; want \"slow\\nnext\\n\" then EOF (or at least no reset)", got, err)
	}

	// The drain is under way (it closed the busy connection): the fresh
	// connection's client writes its request now.
	fresh.SetDeadline(time.Now().Add(2 * time.Second))
	_, werr := io.WriteString(fresh, "hello\n")
	got, err = io.ReadAll(fresh)
	if string(got) != "hello\n" || err != nil {
		t.Errorf("fresh connection: write %v, read %q, then %v; want \"hello\\n\" then EOF", werr, got, err)
	}
	<-done
}
