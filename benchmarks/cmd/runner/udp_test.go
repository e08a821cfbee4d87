package main

import (
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// udpEcho is an in-process UDP echo server. mangle, if set, gets the
// server-wide index of each datagram and returns the datagrams to send
// back (none: dropped; two: duplicated).
type udpEcho struct {
	pc     *net.UDPConn
	n      atomic.Int64
	wg     sync.WaitGroup
	mangle func(i int64, b []byte) [][]byte
}

func startUDPEcho(t *testing.T, mangle func(i int64, b []byte) [][]byte) *udpEcho {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = pc.SetReadBuffer(4 << 20) // the test machine may be slow: keep loss to what mangle does
	s := &udpEcho{pc: pc, mangle: mangle}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			out := [][]byte{buf[:n]}
			if s.mangle != nil {
				out = s.mangle(s.n.Add(1)-1, buf[:n])
			}
			for _, b := range out {
				_, _ = pc.WriteToUDPAddrPort(b, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); s.wg.Wait() })
	return s
}

func (s *udpEcho) addr() string { return s.pc.LocalAddr().String() }

// buildLoadgenForTest builds cmd/loadgen through the runner's own build path.
func buildLoadgenForTest(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("loadgen -udp needs Linux")
	}
	modDir, err := moduleDir()
	if err != nil {
		t.Fatal(err)
	}
	binDir := t.TempDir()
	if err := build(modDir, binDir, udpGenBin, "./cmd/loadgen"); err != nil {
		t.Fatalf("building loadgen: %v", err)
	}
	return filepath.Join(binDir, udpGenBin)
}

// TestUDPLoadgen runs loadgen -udp (as the udp workloads do) for half a
// second against clean, lossy, corrupting and duplicating in-process UDP
// echo servers.
func TestUDPLoadgen(t *testing.T) {
	bin := buildLoadgenForTest(t)
	// A loss timeout well above scheduling delays on a busy machine: at
	// 20 ms, an echo the in-process server sent late (its goroutine
	// descheduled while CI ran other packages) counted as a late echo
	// "from a server that never delays".
	short := []string{"-udp", "-size", "64", "-warmup", "100ms", "-duration", "500ms", "-losstimeout", "100ms", "-iotimeout", "2s"}
	run := func(t *testing.T, srv *udpEcho, conns, window string) cloadRun {
		t.Helper()
		t0 := time.Now()
		r := runCload(t, bin, srv.addr(), append([]string{"-conns", conns, "-pipeline", window}, short...)...)
		if d := time.Since(t0); d > 3*time.Second {
			t.Errorf("run took %v", d)
		}
		return r
	}

	for _, window := range []string{"1", "16"} {
		t.Run("echo-window"+window, func(t *testing.T) {
			srv := startUDPEcho(t, nil)
			r := run(t, srv, "8", window)
			if r.exitCode != 0 || r.res.Errors != 0 || r.res.Messages == 0 || r.res.Established != 8 || r.raw["mode"] != "udp" {
				t.Fatalf("exit %d, result %+v\nstderr:\n%s", r.exitCode, r.res, r.stderr)
			}
			// Echoes of datagrams sent before the window count, as do sends
			// whose echo comes after it: at most one window per sender each.
			if d := int64(r.res.Sent) - int64(r.res.Messages); r.res.Lost != 0 || d < -8*int64(atoi(window)) || d > 8*int64(atoi(window)) {
				t.Errorf("clean echo: sent %d, echoed %d, lost %d", r.res.Sent, r.res.Messages, r.res.Lost)
			}
			if r.res.Latency.P50 == 0 || r.res.Latency.Max < r.res.Latency.P99 {
				t.Errorf("implausible latency %+v", r.res.Latency)
			}
			i0 := strings.Index(r.stderr, "loadgen: phase=measure-start ")
			i1 := strings.Index(r.stderr, "loadgen: phase=measure-end ")
			if i0 < 0 || i1 < i0 {
				t.Errorf("phase markers missing or out of order:\n%s", r.stderr)
			}
		})
	}

	// Every 7th datagram is dropped: senders must neither stall nor fail.
	// With a window of 1 every loss is found by the timeout; with 16 most
	// are found by the next echo overtaking them.
	drop := func(i int64, b []byte) [][]byte {
		if i%7 == 3 {
			return nil
		}
		return [][]byte{b}
	}
	for _, window := range []string{"1", "16"} {
		t.Run("drop-window"+window, func(t *testing.T) {
			srv := startUDPEcho(t, drop)
			r := run(t, srv, "8", window)
			if r.exitCode != 0 || r.res.Errors != 0 || r.res.Messages == 0 {
				t.Fatalf("exit %d, result %+v\nstderr:\n%s", r.exitCode, r.res, r.stderr)
			}
			lossPct := 100 * float64(r.res.Lost) / float64(r.res.Sent)
			if r.res.Lost == 0 || lossPct < 5 || lossPct > 25 || r.res.LossPct != lossPct {
				t.Errorf("1 in 7 dropped, loadgen says sent %d lost %d (%.2f%%, reported %.2f%%)",
					r.res.Sent, r.res.Lost, lossPct, r.res.LossPct)
			}
			if window == "1" && r.res.LostByTimeout != r.res.Lost {
				t.Errorf("window 1: %d of %d losses found by timeout", r.res.LostByTimeout, r.res.Lost)
			}
			if window == "16" && r.res.LostByTimeout >= r.res.Lost {
				t.Errorf("window 16: %d of %d losses found by timeout", r.res.LostByTimeout, r.res.Lost)
			}
			if r.res.Late != 0 {
				t.Errorf("%d late echoes from a server that never delays", r.res.Late)
			}
		})
	}

	t.Run("corrupt", func(t *testing.T) {
		srv := startUDPEcho(t, func(i int64, b []byte) [][]byte {
			if i == 500 {
				b[40] ^= 0x10
			}
			return [][]byte{b}
		})
		r := run(t, srv, "4", "4")
		if r.exitCode == 0 || r.res.Errors == 0 || !strings.Contains(r.res.FirstError, "mismatch at byte 40") {
			t.Fatalf("corruption not reported: exit %d, %+v", r.exitCode, r.res)
		}
	})

	t.Run("duplicate", func(t *testing.T) {
		srv := startUDPEcho(t, func(i int64, b []byte) [][]byte {
			if i == 500 {
				return [][]byte{b, b}
			}
			return [][]byte{b}
		})
		r := run(t, srv, "4", "4")
		if r.exitCode == 0 || r.res.Errors == 0 || !strings.Contains(r.res.FirstError, "duplicate echo") {
			t.Fatalf("duplicate not reported: exit %d, %+v", r.exitCode, r.res)
		}
	})
}

// TestUDPReadiness checks the runner's UDP start-up probe and port check.
func TestUDPReadiness(t *testing.T) {
	srv := startUDPEcho(t, nil)
	p := &proc{done: make(chan struct{})}
	if err := waitEchoingUDP(srv.addr(), p, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := waitPortFree("udp", srv.addr(), 100*time.Millisecond); err == nil {
		t.Fatal("bound UDP port reported free")
	}
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if err := waitEchoingUDP(silent.LocalAddr().String(), p, 300*time.Millisecond); err == nil {
		t.Fatal("a silent socket counted as echoing")
	}
}

func TestParseSnmp(t *testing.T) {
	const snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n" +
		"Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n" +
		"Udp: 100 2 7 90 7 0 0 0 0\n" +
		"UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n" +
		"UdpLite: 0 0 0 0 3 0 0 0 0\n"
	if v, err := parseSnmp(snmp, "Udp", "RcvbufErrors"); err != nil || v != 7 {
		t.Fatalf("got %d, %v", v, err)
	}
	if _, err := parseSnmp(snmp, "Tcp", "RcvbufErrors"); err == nil {
		t.Fatal("missing section accepted")
	}
	if _, err := udpRcvbufErrors(); err != nil && runtime.GOOS == "linux" {
		t.Fatal(err)
	}
}

func TestReportUDP(t *testing.T) {
	mk := func(srv string, msgs uint64, cpu float64) runResult {
		r := runResult{workload: "udp", server: srv, round: 1, window: 1, srvCPU: cpu, rcvbufErrs: 5}
		r.gen.Messages, r.gen.MsgsPerSec = msgs, float64(msgs)
		r.gen.Sent, r.gen.Lost, r.gen.LossPct = msgs+10, 10, 100*10/float64(msgs+10)
		return r
	}
	res := []runResult{mk("mill", 300, 0.5), mk("gnet", 150, 0.75), mk("stdlib", 240, 0.6)}
	out := renderReport("m\n", "cload (test)", nil, []string{"udp"}, []string{"mill", "gnet", "stdlib", "cepoll"}, res, nil)
	for _, want := range []string{
		"## udp (UDP: 64 sender sockets × 64 B datagrams, 1 in flight each)",
		"| mill | 1/1 | 300 | 0 | 1666.67 | 50 | 0 | 0 | 310 | 3.226 | 0 | 5 | 2.00× | 0.33× |",
		"| gnet | 1/1 | 150 |", "| stdlib | 1/1 | 240 |",
		"| udp | 2.00× | 0.33× | | | |",
		"kernel rcvbuf drops",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "| cepoll |") {
		t.Errorf("cepoll listed for a UDP workload:\n%s", out)
	}
}
