//go:build linux

package main

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestUDPAgainstEcho runs runUDP in-process against a UDP echo server
// that drops every 5th datagram: the run must finish on time, count the
// drops as lost and report no error.
func TestUDPAgainstEcho(t *testing.T) {
	phaseOut = io.Discard
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_ = pc.SetReadBuffer(4 << 20)
	go func() {
		buf := make([]byte, 2048)
		for i := 0; ; i++ {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if i%5 != 2 {
				_, _ = pc.WriteToUDPAddrPort(buf[:n], from)
			}
		}
	}()
	for _, window := range []int{1, 8} {
		o := options{addr: pc.LocalAddr().String(), conns: 4, size: 32, pipeline: window, udp: true,
			duration: 300 * time.Millisecond, warmup: 50 * time.Millisecond, ioTimeout: 2 * time.Second,
			lossTimeout: 20 * time.Millisecond}
		t0 := time.Now()
		r := runUDP(o)
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("window %d: run took %v", window, d)
		}
		if r.Errors != 0 || r.Messages == 0 || r.Established != 4 || r.Lost == 0 || r.Sent == 0 {
			t.Fatalf("window %d: %+v", window, r)
		}
		printHuman(io.Discard, r)
	}
}
