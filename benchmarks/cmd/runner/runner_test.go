package main

import (
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("odd median = %v", m)
	}
	if m := median([]float64{4, 1, math.NaN(), 2, 3}); m != 2.5 {
		t.Errorf("even median ignoring NaN = %v", m)
	}
	if m := median(nil); !math.IsNaN(m) {
		t.Errorf("empty median = %v", m)
	}
}

func TestParseCPUList(t *testing.T) {
	got, err := parseCPUList("0,2-4")
	if err != nil || !slices.Equal(got, []int{0, 2, 3, 4}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := parseCPUList("3-1"); err == nil {
		t.Fatal("reversed range accepted")
	}
}

func TestProcReaders(t *testing.T) {
	if _, err := cpuSeconds(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if rss, err := rssBytes(os.Getpid()); err != nil || rss <= 0 {
		t.Fatalf("rss %d, %v", rss, err)
	}
	if _, err := busySeconds(nil); err != nil {
		t.Fatal(err)
	}
}

func TestReportRatios(t *testing.T) {
	mk := func(srv string, msgs uint64, cpu float64) runResult {
		r := runResult{workload: "pingpong", server: srv, round: 1, window: 1, srvCPU: cpu}
		r.gen.Messages, r.gen.MsgsPerSec = msgs, float64(msgs)
		return r
	}
	res := []runResult{mk("mill", 200, 1), mk("gnet", 100, 1), mk("cepoll", 400, 1),
		{workload: "pingpong", server: "stdlib", round: 1, err: "boom"}}
	out := renderReport("m\n", "cload (test)", nil, []string{"pingpong"}, []string{"mill", "gnet", "stdlib", "cepoll"}, res, []string{"cmd"})
	for _, want := range []string{
		"| mill | 1/1 | 200 |", "| 2.00× | 0.50× | 0.50× | 2.00× |", "| stdlib | 0/1 | n/a |",
		"pingpong / stdlib / round 1: boom", "| pingpong | 2.00× | 0.50× | 0.50× | 2.00× | |",
		"load generator: cload (test)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
