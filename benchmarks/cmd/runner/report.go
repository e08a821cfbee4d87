package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

func describe(w workload) string {
	if w.ws {
		return describeWS(w)
	}
	if w.handshake {
		return fmt.Sprintf("%d concurrent handshakers: connect, full TLS handshake, close_notify, server closes", w.conns)
	}
	if w.tls && w.idle {
		return fmt.Sprintf("%d idle TLS connections, one %d B echo each", w.conns, w.size)
	}
	if w.tls {
		return fmt.Sprintf("TLS: %d conns × %d B, pipeline %d", w.conns, w.size, w.pipeline)
	}
	if w.udp {
		return fmt.Sprintf("UDP: %d sender sockets × %d B datagrams, %d in flight each", w.conns, w.size, w.pipeline)
	}
	if w.idle {
		return fmt.Sprintf("%d idle connections, one %d B echo each", w.conns, w.size)
	}
	return fmt.Sprintf("%d conns × %d B, pipeline %d", w.conns, w.size, w.pipeline)
}

func findWorkload(name string) workload {
	return allWorkloads[slices.IndexFunc(allWorkloads, func(x workload) bool { return x.name == name })]
}

// cpuPerMsg is server CPU microseconds per echoed message.
func cpuPerMsg(r runResult) float64 {
	if r.gen.Messages == 0 {
		return math.NaN()
	}
	return r.srvCPU / float64(r.gen.Messages) * 1e6
}

func bytesPerConn(r runResult) float64 {
	if r.gen.Established == 0 {
		return math.NaN()
	}
	return float64(r.rssAfter-r.rssBefore) / float64(r.gen.Established)
}

func summary(w workload, r runResult) string {
	if w.idle {
		return fmt.Sprintf("RSS %.1f -> %.1f MiB over %d conns: %.0f B/conn",
			mib(r.rssBefore), mib(r.rssAfter), r.gen.Established, bytesPerConn(r))
	}
	if w.broadcast {
		return summaryBroadcast(r)
	}
	unit := "msgs"
	if w.handshake {
		unit = "handshakes"
	}
	s := fmt.Sprintf("%.0f "+unit+"/s, %.1f MB/s, p50 %.0f µs, p99 %.0f µs, server CPU %.2f µs/msg (%.0f%%), loadgen CPU %.0f%%, other CPU %.0f%%",
		r.gen.MsgsPerSec, r.gen.MBPerSec, us(r.gen.Latency.P50), us(r.gen.Latency.P99),
		cpuPerMsg(r), pct(r.srvCPU, r.window), pct(r.genCPU, r.window), pct(r.otherCPU, r.window))
	if w.udp {
		s += fmt.Sprintf(", sent %d, lost %d (%.3f%%, %d by timeout), late %d, kernel rcvbuf drops %.0f",
			r.gen.Sent, r.gen.Lost, r.gen.LossPct, r.gen.LostByTimeout, r.gen.Late, r.rcvbufErrs)
	}
	return s
}

func us(ns uint64) float64            { return float64(ns) / 1e3 }
func mib(b int64) float64             { return float64(b) / (1 << 20) }
func pct(cpu, window float64) float64 { return 100 * cpu / window }

func median(xs []float64) float64 {
	xs = slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// agg holds the medians over the successful rounds of one workload × server.
type agg struct {
	runs, ok                                           int
	msgs, mb, p99, cpuMsg, srvPct, genPct, othPct, bpc float64
	rssBefore, rssAfter                                float64
	sent, lossPct, late, rcvbuf                        float64 // UDP
	negotiated                                         string  // TLS: of the first successful run
}

func aggregate(results []runResult, wl, srv string) agg {
	var a agg
	var msgs, mb, p99, cpuMsg, srvPct, genPct, othPct, bpc, rb, ra, sent, loss, late, rcvbuf []float64
	for _, r := range results {
		if r.workload != wl || r.server != srv {
			continue
		}
		a.runs++
		if !r.ok() {
			continue
		}
		a.ok++
		if t := r.gen.TLS; t != nil && a.negotiated == "" {
			a.negotiated = strings.TrimSpace(t.Version + " " + strings.TrimPrefix(t.Cipher, "TLS_") + " " + t.Curve)
		}
		msgs = append(msgs, r.gen.MsgsPerSec)
		mb = append(mb, r.gen.MBPerSec)
		p99 = append(p99, us(r.gen.Latency.P99))
		cpuMsg = append(cpuMsg, cpuPerMsg(r))
		srvPct = append(srvPct, pct(r.srvCPU, r.window))
		genPct = append(genPct, pct(r.genCPU, r.window))
		othPct = append(othPct, pct(r.otherCPU, r.window))
		bpc = append(bpc, bytesPerConn(r))
		rb = append(rb, mib(r.rssBefore))
		ra = append(ra, mib(r.rssAfter))
		sent = append(sent, float64(r.gen.Sent))
		loss = append(loss, r.gen.LossPct)
		late = append(late, float64(r.gen.Late))
		rcvbuf = append(rcvbuf, r.rcvbufErrs)
	}
	a.msgs, a.mb, a.p99, a.cpuMsg = median(msgs), median(mb), median(p99), median(cpuMsg)
	a.srvPct, a.genPct, a.othPct, a.bpc = median(srvPct), median(genPct), median(othPct), median(bpc)
	a.rssBefore, a.rssAfter = median(rb), median(ra)
	a.sent, a.lossPct, a.late, a.rcvbuf = median(sent), median(loss), median(late), median(rcvbuf)
	return a
}

func num(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func renderReport(mach, client string, notes, wls, servers []string, results []runResult, commands []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# mill echo benchmark\n\n%s\nload generator: %s\n\n", mach, client)
	for _, n := range notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("\nAll figures are medians over the successful rounds (`ok` = successful/attempted). " +
		"CPU µs/msg = server utime+stime during the measured window ÷ messages echoed in it. " +
		"CPU % columns are shares of one CPU over the window; \"other\" is everything else that ran on the pinned CPUs " +
		"(interrupt/softirq work not charged to a process, and foreign load: results with a high value are disturbed). " +
		"Ratios divide this row by the gnet (resp. C epoll) row, in TLS workloads by the stdlib-tls (resp. nbio-tls) row, in WebSocket workloads by the wsgorilla row: " +
		"for msgs/s higher is better, for CPU/msg and bytes/conn lower is better.\n")
	for _, wl := range wls {
		if findWorkload(wl).udp {
			b.WriteString("UDP workloads count datagrams: dgrams/s = verified echoes received in the window ÷ its length; " +
				"sent = datagrams sent in the window; lost % = datagrams sent in the window and given up (a later echo of the same sender " +
				"overtook them, or theirs was more than loadgen's -losstimeout overdue) ÷ sent; late = echoes that came after being given up; " +
				"kernel rcvbuf drops = the kernel's Udp RcvbufErrors over the window, all sockets (a full receive queue on either side).\n")
			break
		}
	}

	aggs := map[string]map[string]agg{}
	for _, wl := range wls {
		aggs[wl] = map[string]agg{}
		for _, s := range servers {
			aggs[wl][s] = aggregate(results, wl, s)
		}
	}
	// A missing or always-failing reference yields NaN or 0 medians, which
	// ratio renders as n/a.
	for _, wl := range wls {
		w := findWorkload(wl)
		if w.tls {
			renderTLS(&b, w, servers, aggs[wl])
			continue
		}
		if w.ws {
			renderWS(&b, w, servers, results, aggs[wl])
			continue
		}
		g, c := aggs[wl]["gnet"], aggs[wl]["cepoll"]
		fmt.Fprintf(&b, "\n## %s (%s)\n\n", wl, describe(w))
		if w.idle {
			b.WriteString("| server | ok | RSS before MiB | RSS after MiB | bytes/conn | vs gnet | vs C |\n")
			b.WriteString("|---|---|--:|--:|--:|--:|--:|\n")
			for _, s := range servers {
				a := aggs[wl][s]
				fmt.Fprintf(&b, "| %s | %d/%d | %s | %s | %s | %s | %s |\n", s, a.ok, a.runs,
					num(a.rssBefore, 1), num(a.rssAfter, 1), num(a.bpc, 0), ratio(a.bpc, g.bpc), ratio(a.bpc, c.bpc))
			}
			continue
		}
		if w.udp {
			b.WriteString("| server | ok | dgrams/s | p99 µs | srv CPU µs/dgram | srv CPU % | loadgen CPU % | other CPU % | sent | lost % | late | kernel rcvbuf drops | dgrams/s vs gnet | CPU/dgram vs gnet |\n")
			b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
			for _, s := range servers {
				if !serves(w, s) {
					continue
				}
				a := aggs[wl][s]
				fmt.Fprintf(&b, "| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s, a.ok, a.runs,
					num(a.msgs, 0), num(a.p99, 0), num(a.cpuMsg, 2), num(a.srvPct, 0), num(a.genPct, 0), num(a.othPct, 0),
					num(a.sent, 0), num(a.lossPct, 3), num(a.late, 0), num(a.rcvbuf, 0), ratio(a.msgs, g.msgs), ratio(a.cpuMsg, g.cpuMsg))
			}
			continue
		}
		b.WriteString("| server | ok | msgs/s | MB/s | p99 µs | srv CPU µs/msg | srv CPU % | loadgen CPU % | other CPU % | msgs/s vs gnet | CPU/msg vs gnet | msgs/s vs C | CPU/msg vs C |\n")
		b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, s := range servers {
			a := aggs[wl][s]
			fmt.Fprintf(&b, "| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s, a.ok, a.runs,
				num(a.msgs, 0), num(a.mb, 1), num(a.p99, 0), num(a.cpuMsg, 2), num(a.srvPct, 0), num(a.genPct, 0), num(a.othPct, 0),
				ratio(a.msgs, g.msgs), ratio(a.cpuMsg, g.cpuMsg), ratio(a.msgs, c.msgs), ratio(a.cpuMsg, c.cpuMsg))
		}
	}

	plainWls := slices.DeleteFunc(slices.Clone(wls), func(wl string) bool { return findWorkload(wl).tls || findWorkload(wl).ws })
	if slices.Contains(servers, "mill") && len(plainWls) > 0 {
		b.WriteString("\n## mill at a glance\n\n| workload | msgs/s mill÷gnet | CPU/msg mill÷gnet | msgs/s mill÷C | CPU/msg mill÷C | bytes/conn mill÷gnet |\n|---|--:|--:|--:|--:|--:|\n")
		for _, wl := range plainWls {
			m, g, c := aggs[wl]["mill"], aggs[wl]["gnet"], aggs[wl]["cepoll"]
			if findWorkload(wl).idle {
				fmt.Fprintf(&b, "| %s | | | | | %s |\n", wl, ratio(m.bpc, g.bpc))
				continue
			}
			if findWorkload(wl).udp { // no C contender
				fmt.Fprintf(&b, "| %s | %s | %s | | | |\n", wl, ratio(m.msgs, g.msgs), ratio(m.cpuMsg, g.cpuMsg))
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | |\n", wl,
				ratio(m.msgs, g.msgs), ratio(m.cpuMsg, g.cpuMsg), ratio(m.msgs, c.msgs), ratio(m.cpuMsg, c.cpuMsg))
		}
	}

	if slices.Contains(servers, "mill-tls") && slices.ContainsFunc(wls, func(wl string) bool { return findWorkload(wl).tls }) {
		renderTLSGlance(&b, wls, aggs)
	}

	var failed []runResult
	for _, r := range results {
		if !r.ok() {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		b.WriteString("\n## Failed runs\n\n")
		for _, r := range failed {
			fmt.Fprintf(&b, "- %s / %s / round %d: %s\n", r.workload, r.server, r.round,
				strings.ReplaceAll(r.err, "\n", " ⏎ "))
		}
	}
	b.WriteString("\n## Commands run\n\n```\n")
	for _, c := range commands {
		b.WriteString(c + "\n")
	}
	b.WriteString("```\n")
	return b.String()
}

// renderTLS renders one TLS workload's table: ratios against stdlib-tls
// and nbio-tls, and what each server negotiated.
func renderTLS(b *strings.Builder, w workload, servers []string, aggs map[string]agg) {
	std, nb := aggs[tlsRefs[0]], aggs[tlsRefs[1]]
	fmt.Fprintf(b, "\n## %s (%s)\n\n", w.name, describe(w))
	if w.idle {
		b.WriteString("| server | ok | negotiated | RSS before MiB | RSS after MiB | bytes/conn | vs stdlib | vs nbio |\n")
		b.WriteString("|---|---|---|--:|--:|--:|--:|--:|\n")
		for _, s := range servers {
			if !serves(w, s) {
				continue
			}
			a := aggs[s]
			fmt.Fprintf(b, "| %s | %d/%d | %s | %s | %s | %s | %s | %s |\n", s, a.ok, a.runs, a.negotiated,
				num(a.rssBefore, 1), num(a.rssAfter, 1), num(a.bpc, 0), ratio(a.bpc, std.bpc), ratio(a.bpc, nb.bpc))
		}
		return
	}
	unit := "msg"
	if w.handshake {
		unit = "handshake"
	}
	fmt.Fprintf(b, "| server | ok | negotiated | %ss/s | MB/s | p99 µs | srv CPU µs/%s | srv CPU %% | loadgen CPU %% | other CPU %% | %ss/s vs stdlib | CPU/%s vs stdlib | %ss/s vs nbio | CPU/%s vs nbio |\n",
		unit, unit, unit, unit, unit, unit)
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range servers {
		if !serves(w, s) {
			continue
		}
		a := aggs[s]
		mb := num(a.mb, 1)
		if w.handshake {
			mb = "–"
		}
		fmt.Fprintf(b, "| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s, a.ok, a.runs, a.negotiated,
			num(a.msgs, 0), mb, num(a.p99, 0), num(a.cpuMsg, 2), num(a.srvPct, 0), num(a.genPct, 0), num(a.othPct, 0),
			ratio(a.msgs, std.msgs), ratio(a.cpuMsg, std.cpuMsg), ratio(a.msgs, nb.msgs), ratio(a.cpuMsg, nb.cpuMsg))
	}
}

// tlsTarget is the goal issue 15 sets for mill in a TLS workload.
type tlsTarget struct {
	desc string
	// met tells from mill's ratios to stdlib and nbio whether it is met.
	met func(vsStd, vsNbio float64) bool
}

func tlsTargetOf(w workload) tlsTarget {
	switch {
	case w.handshake:
		return tlsTarget{"CPU/handshake ≤ 1.1× stdlib", func(s, _ float64) bool { return s <= 1.1 }}
	case w.idle:
		return tlsTarget{"bytes/conn < nbio", func(_, n float64) bool { return n < 1 }}
	}
	return tlsTarget{"CPU/msg ≤ 0.8× stdlib and < nbio", func(s, n float64) bool { return s <= 0.8 && n < 1 }}
}

// verdict is "met", "missed", or "n/a" when a ratio the target needs is
// unknown.
func verdict(t tlsTarget, vsStd, vsNbio float64, needNbio, needStd bool) string {
	if (needStd && (math.IsNaN(vsStd) || math.IsInf(vsStd, 0))) || (needNbio && (math.IsNaN(vsNbio) || math.IsInf(vsNbio, 0))) {
		return "n/a"
	}
	if t.met(vsStd, vsNbio) {
		return "met"
	}
	return "missed"
}

func div(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// renderTLSGlance lists mill-tls's ratios per TLS workload beside the
// targets of issue 15.
func renderTLSGlance(b *strings.Builder, wls []string, aggs map[string]map[string]agg) {
	b.WriteString("\n## mill-tls at a glance\n\n| workload | figure | mill-tls | stdlib-tls | nbio-tls | mill÷stdlib | mill÷nbio | target | |\n|---|---|--:|--:|--:|--:|--:|---|---|\n")
	for _, wl := range wls {
		w := findWorkload(wl)
		if !w.tls {
			continue
		}
		m, s, n := aggs[wl]["mill-tls"], aggs[wl][tlsRefs[0]], aggs[wl][tlsRefs[1]]
		figure, mv, sv, nv, prec := "srv CPU µs/msg", m.cpuMsg, s.cpuMsg, n.cpuMsg, 2
		if w.handshake {
			figure = "srv CPU µs/handshake"
		}
		if w.idle {
			figure, mv, sv, nv, prec = "bytes/conn", m.bpc, s.bpc, n.bpc, 0
		}
		t := tlsTargetOf(w)
		rs, rn := div(mv, sv), div(mv, nv)
		v := verdict(t, rs, rn, !w.handshake, !w.idle)
		if math.IsNaN(mv) {
			v = "n/a"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", wl, figure, num(mv, prec), num(sv, prec), num(nv, prec),
			ratio(mv, sv), ratio(mv, nv), t.desc, v)
	}
}
