package main

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mill-io/mill"
)

// flood sends n datagrams of size bytes to a from a new socket.
func flood(t *testing.T, a net.Addr, n, size int) {
	t.Helper()
	c := dial(t, a)
	p := make([]byte, size)
	for range n {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
}

// waitDrops polls kernelDrops until it reports more than zero, for at
// most five seconds, and returns the last count.
func waitDrops(t *testing.T, addrs []net.Addr) uint64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := kernelDrops(addrs)
		if errors.Is(err, errNoProcNetUDP) {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKernelDropsOfANonReadingSocket: datagrams sent to a socket nobody
// reads, past its small receive buffer, are counted by the kernel, and
// kernelDrops finds the count.
func TestKernelDropsOfANonReadingSocket(t *testing.T) {
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := ln.SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	flood(t, ln.LocalAddr(), 500, 1000)
	if n := waitDrops(t, []net.Addr{ln.LocalAddr()}); n == 0 || n > 500 {
		t.Fatalf("kernelDrops = %d after 500 datagrams to a 4 KiB receive buffer nobody reads", n)
	}
}

// blocked is an echo whose loop stops in its first OnTraffic until gate
// closes.
type blocked struct {
	*echo
	first chan struct{}
	gate  chan struct{}
}

func (b *blocked) OnTraffic(c mill.Conn) mill.Action {
	select {
	case b.first <- struct{}{}:
		<-b.gate
	default:
	}
	return b.echo.OnTraffic(c)
}

// TestKernelDropsOfTheServer: while the server's only loop is stuck, its
// socket's receive queue fills and the kernel drops the rest; the
// handler's counters say nothing, kernelDrops tells them.
func TestKernelDropsOfTheServer(t *testing.T) {
	h := &blocked{echo: &echo{}, first: make(chan struct{}, 1), gate: make(chan struct{})}
	s := start(t, h, []string{"udp://127.0.0.1:0"}, 1, 0, mill.WithSocketRecvBuffer(4096))
	defer close(h.gate)
	flood(t, s.Addr(), 1, 10)
	select {
	case <-h.first:
	case <-time.After(5 * time.Second):
		t.Fatal("the first datagram never reached the handler")
	}
	flood(t, s.Addr(), 500, 1000)
	if n := waitDrops(t, s.Addrs()); n == 0 {
		t.Fatal("kernelDrops = 0 after 500 datagrams to a stuck loop's 4 KiB receive buffer")
	} else {
		t.Logf("the kernel dropped %d datagrams; the handler saw %d errors", n, h.errors.Load())
	}
}
