package main

import (
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mill-io/mill/benchmarks/internal/plaintext"
)

func TestTLSServesAndSpecs(t *testing.T) {
	for _, s := range allServers {
		if _, ok := serverSpecs[s]; !ok {
			t.Errorf("server %s has no spec", s)
		}
	}
	echo, tlsEcho := findWorkload("pingpong"), findWorkload("tls-echo")
	for _, s := range []string{"mill-tls", "stdlib-tls", "nbio-tls"} {
		if !serves(tlsEcho, s) || serves(echo, s) || serves(findWorkload("udp"), s) {
			t.Errorf("%s: serves tls-echo %v, pingpong %v", s, serves(tlsEcho, s), serves(echo, s))
		}
	}
	for _, s := range []string{"mill", "gnet", "stdlib", "cepoll"} {
		if serves(tlsEcho, s) || !serves(echo, s) {
			t.Errorf("%s: serves tls-echo %v, pingpong %v", s, serves(tlsEcho, s), serves(echo, s))
		}
	}
	if !slices.Contains(serverSpecs["nbio-tls"].args, "-aes") || !slices.Contains(serverSpecs["mill-tls"].args, "-tls") {
		t.Error("TLS contenders lack their flags")
	}
	e := &env{genBin: "cload"}
	if genBinFor(e, tlsEcho) != "loadgen" || genBinFor(e, findWorkload("tls-handshake")) != "loadgen" || genBinFor(e, echo) != "cload" {
		t.Error("TLS workloads must run the Go loadgen")
	}
}

func TestTLSVerdict(t *testing.T) {
	echo, hs, idle := tlsTargetOf(findWorkload("tls-echo")), tlsTargetOf(findWorkload("tls-handshake")), tlsTargetOf(findWorkload("tls-idle"))
	nan := math.NaN()
	for _, c := range []struct {
		t                 tlsTarget
		std, nb           float64
		needNbio, needStd bool
		want              string
	}{
		{echo, 0.7, 0.9, true, true, "met"},
		{echo, 0.8, 0.99, true, true, "met"},
		{echo, 0.81, 0.5, true, true, "missed"},
		{echo, 0.5, 1.0, true, true, "missed"},
		{echo, 0.5, nan, true, true, "n/a"},
		{hs, 1.1, nan, false, true, "met"},
		{hs, 1.2, 0.5, false, true, "missed"},
		{idle, nan, 0.9, true, false, "met"},
		{idle, 0.1, 1.01, true, false, "missed"},
		{idle, 0.1, math.Inf(1), true, false, "n/a"},
	} {
		if got := verdict(c.t, c.std, c.nb, c.needNbio, c.needStd); got != c.want {
			t.Errorf("%s with %v, %v: %s, want %s", c.t.desc, c.std, c.nb, got, c.want)
		}
	}
}

func TestReportTLS(t *testing.T) {
	mk := func(wl, srv string, msgs uint64, cpu float64) runResult {
		r := runResult{workload: wl, server: srv, round: 1, window: 1, srvCPU: cpu}
		r.gen.Messages, r.gen.MsgsPerSec = msgs, float64(msgs)
		r.gen.TLS = &struct {
			Version string `json:"version"`
			Cipher  string `json:"cipher"`
			Curve   string `json:"curve"`
		}{"TLS 1.3", "TLS_AES_128_GCM_SHA256", "X25519"}
		return r
	}
	idle := func(srv string, before, after int64) runResult {
		r := runResult{workload: "tls-idle", server: srv, round: 1, rssBefore: before, rssAfter: after}
		r.gen.Established = 10000
		return r
	}
	res := []runResult{
		mk("tls-echo", "mill-tls", 100, 0.7), mk("tls-echo", "stdlib-tls", 100, 1), mk("tls-echo", "nbio-tls", 100, 1.1),
		mk("tls-handshake", "mill-tls", 1000, 1.2), mk("tls-handshake", "stdlib-tls", 1000, 1), mk("tls-handshake", "nbio-tls", 1000, 0.9),
		idle("mill-tls", 0, 100e6), idle("stdlib-tls", 0, 500e6), idle("nbio-tls", 0, 130e6),
	}
	out := renderReport("m\n", "loadgen", nil, []string{"tls-echo", "tls-handshake", "tls-idle"},
		[]string{"mill-tls", "stdlib-tls", "nbio-tls"}, res, []string{"cmd"})
	for _, want := range []string{
		"| mill-tls | 1/1 | TLS 1.3 AES_128_GCM_SHA256 X25519 | 100 | 0.0 |",
		"| 1.00× | 0.70× | 1.00× | 0.64× |",
		"handshakes/s | MB/s | p99 µs | srv CPU µs/handshake",
		"| tls-echo | srv CPU µs/msg | 7000.00 | 10000.00 | 11000.00 | 0.70× | 0.64× | CPU/msg ≤ 0.8× stdlib and < nbio | met |",
		"| tls-handshake | srv CPU µs/handshake | 1200.00 | 1000.00 | 900.00 | 1.20× | 1.33× | CPU/handshake ≤ 1.1× stdlib | missed |",
		"| tls-idle | bytes/conn | 10000 | 50000 | 13000 | 0.20× | 0.77× | bytes/conn < nbio | met |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "## mill at a glance") {
		t.Error("plaintext glance rendered for TLS workloads only")
	}
}

func TestRenderHTTPS(t *testing.T) {
	w, _ := findProto("https")
	if !w.tls || w.ref != "nethttp" || w.ref2 != "nbhttp" {
		t.Fatalf("https workload %+v", w)
	}
	const millResp = "HTTP/1.1 200 OK\r\nServer: mill\r\nDate: <date>\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
	const stdResp = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nDate: <date>\r\nServer: mill\r\n\r\nHello, World!"
	p := &protoPlan{wls: []protoWorkload{w},
		servers:     map[string][]string{"https": {"mill", "nethttp", "nbhttp"}},
		responseTLS: map[string]string{"mill": millResp, "nethttp": stdResp, "nbhttp": millResp}}
	mk := func(srv string, rps, cpu float64) protoResult {
		return protoResult{workload: "https", server: srv, round: 1, requests: rps, rps: rps,
			p50: 100, p99: 900, maxLat: 5000, window: 1, srvCPU: cpu, toolCPU: 1, respBytes: 129}
	}
	res := []protoResult{mk("mill", 100e3, 0.7), mk("nethttp", 100e3, 1), mk("nbhttp", 100e3, 0.8)}
	out := renderAll("machine\n", "cload", nil, nil, nil, nil, p, res, []string{"wrk ..."})
	for _, want := range []string{
		"| req/s vs nethttp | CPU/req vs nethttp | req/s vs nbhttp | CPU/req vs nbhttp |",
		"| mill | 1/1 | 100000 | 100 | 900 | 5000 | 7.000 | 70 | 100 | 0 | 129 | 1.00× | 0.70× | 1.00× | 0.88× |",
		"| https | GET /plaintext | nbhttp | 1.00× | 0.88× |",
		"mill's CPU/req ≤ 0.8× nethttp's and below nbhttp's: **met** (0.70×, 0.88×)",
		"over HTTPS, GET /plaintext responses of nbhttp are byte-for-byte mill's",
		"over HTTPS, GET /plaintext responses of nethttp have mill's status line, header lines and body, in another header order",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestCheckHTTPS checks the pre-run HTTPS check against net/http's TLS
// server with the handler of servers/nethttp and servers/nbhttp.
func TestCheckHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(plaintext.Handler))
	srv.StartTLS()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	size, masked, err := checkHTTP(addr, true)
	if err != nil || size != 129 || !strings.Contains(masked, "Date: <date>\r\n") {
		t.Fatalf("size %d, masked %q, err %v", size, masked, err)
	}
	if _, _, err := checkHTTP(addr, false); err == nil {
		t.Fatal("plaintext request to an HTTPS server passed the check")
	}
}

// TestWaitHandshaking: the readiness check of TLS servers needs a whole
// handshake, so a plaintext server does not pass it.
func TestWaitHandshaking(t *testing.T) {
	p := &proc{done: make(chan struct{})} // a server that keeps running
	srv := httptest.NewUnstartedServer(http.HandlerFunc(plaintext.Handler))
	srv.StartTLS()
	defer srv.Close()
	if err := waitHandshaking(strings.TrimPrefix(srv.URL, "https://"), p, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewServer(http.HandlerFunc(plaintext.Handler))
	defer plain.Close()
	if err := waitHandshaking(strings.TrimPrefix(plain.URL, "http://"), p, 300*time.Millisecond); err == nil {
		t.Fatal("a plaintext server passed the TLS readiness check")
	}
}
