package main

import (
	"strings"
	"testing"
)

func TestWSServes(t *testing.T) {
	for _, c := range []struct {
		wl, srv string
		want    bool
	}{
		{"ws-echo", "wsgorilla", true}, {"ws-broadcast", "wsmill", true}, {"ws-idle", "wsgws", true},
		{"ws-echo", "mill", false}, {"pingpong", "wsnbio", false}, {"tls-echo", "wsgws", false}, {"udp", "wsgorilla", false},
	} {
		if got := serves(findWorkload(c.wl), c.srv); got != c.want {
			t.Errorf("serves(%s, %s) = %v", c.wl, c.srv, got)
		}
	}
	for wl, want := range map[string]string{"ws-echo": "cload", "ws-echo-16k": "cload", "ws-idle": "cload", "ws-broadcast": "loadgen"} {
		if got := genBinFor(&env{genBin: "cload"}, findWorkload(wl)); got != want {
			t.Errorf("%s driven by %s, want %s", wl, got, want)
		}
	}
	if got := genBinFor(&env{genBin: "loadgen"}, findWorkload("ws-echo")); got != "loadgen" {
		t.Errorf("ws-echo with -client go driven by %s", got)
	}
}

func TestWSReport(t *testing.T) {
	echo := func(srv string, msgs uint64, cpu float64) runResult {
		r := runResult{workload: "ws-echo", server: srv, round: 1, window: 1, srvCPU: cpu}
		r.gen.Messages, r.gen.MsgsPerSec = msgs, float64(msgs)
		return r
	}
	idle := func(srv string, after int64) runResult {
		r := runResult{workload: "ws-idle", server: srv, round: 1, rssBefore: 1 << 20, rssAfter: after}
		r.gen.Established = 1000
		return r
	}
	bcast := func(srv string, n uint64, lastNs uint64, cpu float64) runResult {
		r := runResult{workload: "ws-broadcast", server: srv, round: 1, window: 2, srvCPU: cpu}
		r.gen.Established, r.gen.Broadcasts, r.gen.Messages = 10000, n, n*10000
		r.gen.Latency.P50, r.gen.Latency.P99 = lastNs, 2*lastNs
		r.gen.Spread = &struct {
			P50 uint64 `json:"p50_ns"`
			P99 uint64 `json:"p99_ns"`
			Max uint64 `json:"max_ns"`
		}{P50: lastNs / 2}
		return r
	}
	res := []runResult{
		echo("wsgorilla", 100, 1), echo("wsgws", 200, 1),
		idle("wsgorilla", 1<<20+2_000_000), idle("wsgws", 1<<20+1_000_000),
		bcast("wsgorilla", 20, 50e6, 1), bcast("wsgws", 40, 25e6, 1),
		{workload: "ws-echo", server: "wsnbio", round: 1, err: "boom"},
	}
	wls := []string{"ws-echo", "ws-idle", "ws-broadcast"}
	out := renderReport("m\n", "loadgen -ws", nil, wls, []string{"wsgorilla", "wsnbio", "wsgws"}, res, []string{"cmd"})
	for _, want := range []string{
		"## ws-echo (WebSocket: 100 conns × 64 B binary messages, pipeline 1)",
		"| wsgws | 1/1 | 200 | 0.0 | 0 | 5000.00 | 100 | 0 | 0 | 2.00× | 0.50× |",
		"| wsnbio | 0/1 | n/a |",
		"| wsgws | 1/1 | 1.0 | 2.0 | 1000 | 0.50× |",
		"| wsgws | 1/1 | 20.0 | 25.00 | 50.00 | 12.50 | 25.00 | 2.500 | 50 | 0 | 0 | 0.50× | 0.50× |",
		"ws-echo / wsnbio / round 1: boom",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "mill at a glance") || strings.Contains(out, "vs gnet") {
		t.Errorf("echo-only sections in a WebSocket report:\n%s", out)
	}
	if s := summary(findWorkload("ws-broadcast"), res[5]); !strings.Contains(s, "40 broadcasts to 10000 conns") {
		t.Errorf("summary: %s", s)
	}
}
