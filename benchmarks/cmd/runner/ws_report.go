package main

import (
	"fmt"
	"math"
	"strings"
)

// describeWS is the heading of a WebSocket workload.
func describeWS(w workload) string {
	switch {
	case w.broadcast:
		return fmt.Sprintf("WebSocket: %d conns; one %d B text message broadcast to all, trigger to last receipt, back to back", w.conns, w.size)
	case w.idle:
		return fmt.Sprintf("WebSocket: %d idle conns, one %d B echo each", w.conns, w.size)
	}
	return fmt.Sprintf("WebSocket: %d conns × %d B binary messages, pipeline %d", w.conns, w.size, w.pipeline)
}

// bcastFigures are the medians of one broadcast workload × server.
type bcastFigures struct {
	perSec, lastP50, lastP99, spreadP50, cpuPerBcast float64 // per second; ms
}

// aggregateBroadcast takes the medians over the successful rounds.
func aggregateBroadcast(results []runResult, wl, srv string) bcastFigures {
	var per, l50, l99, s50, cpu []float64
	for _, r := range results {
		if r.workload != wl || r.server != srv || !r.ok() || r.gen.Broadcasts == 0 {
			continue
		}
		per = append(per, float64(r.gen.Broadcasts)/r.window)
		l50 = append(l50, us(r.gen.Latency.P50)/1e3)
		l99 = append(l99, us(r.gen.Latency.P99)/1e3)
		if r.gen.Spread != nil {
			s50 = append(s50, us(r.gen.Spread.P50)/1e3)
		}
		cpu = append(cpu, r.srvCPU/float64(r.gen.Broadcasts)*1e3)
	}
	return bcastFigures{median(per), median(l50), median(l99), median(s50), median(cpu)}
}

// summaryBroadcast is the one-line summary of a broadcast run.
func summaryBroadcast(r runResult) string {
	b := float64(r.gen.Broadcasts)
	spread := math.NaN()
	if r.gen.Spread != nil {
		spread = us(r.gen.Spread.P50) / 1e3
	}
	return fmt.Sprintf("%d broadcasts to %d conns, trigger→last p50 %.1f ms (p99 %.1f), spread p50 %.1f ms, server CPU %.2f ms/broadcast = %.2f µs/delivery (%.0f%%), loadgen CPU %.0f%%, other CPU %.0f%%",
		r.gen.Broadcasts, r.gen.Established, us(r.gen.Latency.P50)/1e3, us(r.gen.Latency.P99)/1e3, spread,
		r.srvCPU/b*1e3, cpuPerMsg(r), pct(r.srvCPU, r.window), pct(r.genCPU, r.window), pct(r.otherCPU, r.window))
}

// renderWS renders one WebSocket workload's table, with ratios against
// wsRef.
func renderWS(b *strings.Builder, w workload, servers []string, results []runResult, aggs map[string]agg) {
	fmt.Fprintf(b, "\n## %s (%s)\n\n", w.name, describeWS(w))
	ref := aggs[wsRef]
	switch {
	case w.idle:
		b.WriteString("| server | ok | RSS before MiB | RSS after MiB | bytes/conn | vs " + wsRef + " |\n|---|---|--:|--:|--:|--:|\n")
		for _, s := range servers {
			if !serves(w, s) {
				continue
			}
			a := aggs[s]
			fmt.Fprintf(b, "| %s | %d/%d | %s | %s | %s | %s |\n", s, a.ok, a.runs,
				num(a.rssBefore, 1), num(a.rssAfter, 1), num(a.bpc, 0), ratio(a.bpc, ref.bpc))
		}
	case w.broadcast:
		b.WriteString("Broadcasts run back to back (the next trigger once every connection has the last one). " +
			"trigger→last = from the trigger's write on connection 0 to the last connection's receipt; " +
			"spread = last receipt − first receipt; srv CPU per broadcast and per delivery (= broadcast × connection) over the window.\n\n")
		b.WriteString("| server | ok | broadcasts/s | trigger→last p50 ms | trigger→last p99 ms | spread p50 ms | srv CPU ms/broadcast | srv CPU µs/delivery | srv CPU % | loadgen CPU % | other CPU % | trigger→last vs " + wsRef + " | CPU vs " + wsRef + " |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		rf := aggregateBroadcast(results, w.name, wsRef)
		for _, s := range servers {
			if !serves(w, s) {
				continue
			}
			a, f := aggs[s], aggregateBroadcast(results, w.name, s)
			fmt.Fprintf(b, "| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s, a.ok, a.runs,
				num(f.perSec, 1), num(f.lastP50, 2), num(f.lastP99, 2), num(f.spreadP50, 2), num(f.cpuPerBcast, 2),
				num(a.cpuMsg, 3), num(a.srvPct, 0), num(a.genPct, 0), num(a.othPct, 0),
				ratio(f.lastP50, rf.lastP50), ratio(f.cpuPerBcast, rf.cpuPerBcast))
		}
	default:
		b.WriteString("| server | ok | msgs/s | MB/s | p99 µs | srv CPU µs/msg | srv CPU % | loadgen CPU % | other CPU % | msgs/s vs " + wsRef + " | CPU/msg vs " + wsRef + " |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, s := range servers {
			if !serves(w, s) {
				continue
			}
			a := aggs[s]
			fmt.Fprintf(b, "| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s, a.ok, a.runs,
				num(a.msgs, 0), num(a.mb, 1), num(a.p99, 0), num(a.cpuMsg, 2), num(a.srvPct, 0), num(a.genPct, 0), num(a.othPct, 0),
				ratio(a.msgs, ref.msgs), ratio(a.cpuMsg, ref.cpuMsg))
		}
	}
}
