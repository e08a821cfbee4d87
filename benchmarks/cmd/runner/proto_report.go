package main

import (
	"fmt"
	"slices"
	"strings"
)

// protoAgg holds the medians over the successful runs of one
// workload × test × server.
type protoAgg struct {
	runs, ok                                       int
	rps, p50, p99, max, cpu, srvPct, tlPct, othPct float64
	bytes                                          float64
}

func aggregateProto(results []protoResult, wl, test, srv string) protoAgg {
	var a protoAgg
	var rps, p50, p99, mx, cpu, sp, tp, op, by []float64
	for _, r := range results {
		if r.workload != wl || r.test != test || r.server != srv {
			continue
		}
		a.runs++
		if !r.ok() {
			continue
		}
		a.ok++
		rps = append(rps, r.rps)
		p50 = append(p50, r.p50)
		p99 = append(p99, r.p99)
		mx = append(mx, r.maxLat)
		cpu = append(cpu, protoCPUPerReq(r))
		sp = append(sp, pct(r.srvCPU, r.window))
		tp = append(tp, pct(r.toolCPU, r.window))
		op = append(op, pct(r.otherCPU, r.window))
		by = append(by, float64(r.respBytes))
	}
	a.rps, a.p50, a.p99, a.max, a.cpu = median(rps), median(p50), median(p99), median(mx), median(cpu)
	a.srvPct, a.tlPct, a.othPct, a.bytes = median(sp), median(tp), median(op), median(by)
	return a
}

func describeProto(w protoWorkload) string {
	if w.kind == "http" {
		if w.pipeline > 1 {
			return fmt.Sprintf("wrk -t1 -c%d, GET /plaintext, %d requests per write via a Lua script; "+
				"req/s counts responses; max latency is per %d-request batch, percentiles n/a (wrk's are wrong with pipelining)",
				w.conns, w.pipeline, w.pipeline)
		}
		return fmt.Sprintf("wrk -t1 -c%d, GET /plaintext, no pipelining", w.conns)
	}
	return fmt.Sprintf("redis-benchmark -c %d -P %d, one run per test", w.conns, w.pipeline)
}

// testsOf lists the tests of a workload: "" for HTTP.
func testsOf(w protoWorkload) []string {
	if w.kind == "http" {
		return []string{""}
	}
	var t []string
	for _, x := range respTests {
		t = append(t, x.name)
	}
	return t
}

// renderProto renders the protocol sections of the report ("" if no
// protocol workload ran).
func renderProto(p *protoPlan, results []protoResult) string {
	if p == nil || len(p.wls) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n## Protocol workloads\n\n" +
		"HTTP is driven by wrk, RESP by redis-benchmark, each pinned to the client CPU; the server is sampled from just before " +
		"the tool starts to just after it exits (so connection set-up is inside the window). " +
		"req/s is the tool's own figure; CPU µs/req = server utime+stime in the window ÷ requests completed; " +
		"tool CPU % is the tool's rusage over the window. wrk's latency percentiles include its coordinated-omission correction. Ratios divide by the reference row " +
		"(gnethttp for HTTP, nethttp and then nbhttp for HTTPS, redis-server for RESP): for req/s higher is better, for CPU/req lower is better.\n\n")
	var kinds []string
	for _, w := range p.wls {
		for _, s := range p.servers[w.name] {
			k := w.kind + "/" + s
			if !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
	}
	for _, k := range kinds {
		fmt.Fprintf(&b, "- `%s`: %s\n", k, protoServers[k].desc)
	}
	compareResponses(&b, "", p.response)
	compareResponses(&b, "over HTTPS, ", p.responseTLS)

	for _, w := range p.wls {
		servers := p.servers[w.name]
		fmt.Fprintf(&b, "\n### %s (%s)\n\n", w.name, describeProto(w))
		if w.kind == "http" {
			fmt.Fprintf(&b, "| server | ok | req/s | p50 µs | p99 µs | max µs | srv CPU µs/req | srv CPU %% | wrk CPU %% | other CPU %% | resp B | req/s vs %s | CPU/req vs %s |", w.ref, w.ref)
			if w.ref2 != "" {
				fmt.Fprintf(&b, " req/s vs %s | CPU/req vs %s |", w.ref2, w.ref2)
			}
			b.WriteString("\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
			if w.ref2 != "" {
				b.WriteString("--:|--:|")
			}
			b.WriteString("\n")
			ref := aggregateProto(results, w.name, "", w.ref)
			ref2 := aggregateProto(results, w.name, "", w.ref2)
			for _, s := range servers {
				a := aggregateProto(results, w.name, "", s)
				fmt.Fprintf(&b, "| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", s, a.ok, a.runs,
					num(a.rps, 0), num(a.p50, 0), num(a.p99, 0), num(a.max, 0), num(a.cpu, 3), num(a.srvPct, 0), num(a.tlPct, 0), num(a.othPct, 0),
					num(a.bytes, 0), ratio(a.rps, ref.rps), ratio(a.cpu, ref.cpu))
				if w.ref2 != "" {
					fmt.Fprintf(&b, " %s | %s |", ratio(a.rps, ref2.rps), ratio(a.cpu, ref2.cpu))
				}
				b.WriteString("\n")
			}
			continue
		}
		fmt.Fprintf(&b, "| test | server | ok | req/s | p50 µs | p99 µs | max µs | srv CPU µs/req | srv CPU %% | bench CPU %% | other CPU %% | req/s vs %s | CPU/req vs %s |\n", w.ref, w.ref)
		b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, t := range testsOf(w) {
			ref := aggregateProto(results, w.name, t, w.ref)
			for _, s := range servers {
				a := aggregateProto(results, w.name, t, s)
				fmt.Fprintf(&b, "| %s | %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t, s, a.ok, a.runs,
					num(a.rps, 0), num(a.p50, 0), num(a.p99, 0), num(a.max, 0), num(a.cpu, 3), num(a.srvPct, 0), num(a.tlPct, 0), num(a.othPct, 0),
					ratio(a.rps, ref.rps), ratio(a.cpu, ref.cpu))
			}
		}
	}

	b.WriteString("\n### mill at a glance (protocols)\n\n| workload | test | vs | req/s mill÷ref | CPU/req mill÷ref |\n|---|---|---|--:|--:|\n")
	for _, w := range p.wls {
		for _, t := range testsOf(w) {
			m, r := aggregateProto(results, w.name, t, "mill"), aggregateProto(results, w.name, t, w.ref)
			label := t
			if label == "" {
				label = "GET /plaintext"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", w.name, label, w.ref, ratio(m.rps, r.rps), ratio(m.cpu, r.cpu))
			if w.ref2 != "" {
				r2 := aggregateProto(results, w.name, t, w.ref2)
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", w.name, label, w.ref2, ratio(m.rps, r2.rps), ratio(m.cpu, r2.cpu))
			}
		}
	}
	for _, w := range p.wls {
		if !w.tls || w.ref2 == "" {
			continue
		}
		m := aggregateProto(results, w.name, "", "mill")
		r, r2 := aggregateProto(results, w.name, "", w.ref), aggregateProto(results, w.name, "", w.ref2)
		v := verdict(tlsTarget{met: func(s, n float64) bool { return s <= 0.8 && n < 1 }}, div(m.cpu, r.cpu), div(m.cpu, r2.cpu), true, true)
		fmt.Fprintf(&b, "\nTarget (issue 15) for %s: mill's CPU/req ≤ 0.8× %s's and below %s's: **%s** (%s, %s).\n",
			w.name, w.ref, w.ref2, v, ratio(m.cpu, r.cpu), ratio(m.cpu, r2.cpu))
	}

	var failed []protoResult
	for _, r := range results {
		if !r.ok() {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		b.WriteString("\n### Failed protocol runs\n\n")
		for _, r := range failed {
			name := r.server
			if r.test != "" {
				name += " / " + r.test
			}
			fmt.Fprintf(&b, "- %s / %s / round %d: %s\n", r.workload, name, r.round, strings.ReplaceAll(r.err, "\n", " ⏎ "))
		}
	}
	return b.String()
}

// renderAll is the whole report: the echo report (if any echo workload
// ran) with the protocol sections inserted before its command list, or a
// report of the protocol workloads alone.
func renderAll(mach, client string, notes, echoWls, servers []string, results []runResult,
	p *protoPlan, presults []protoResult, commands []string) string {
	proto := renderProto(p, presults)
	const cmdHeading = "\n## Commands run\n"
	if len(echoWls) > 0 {
		rep := renderReport(mach, client, notes, echoWls, servers, results, commands)
		if proto == "" {
			return rep
		}
		if before, after, ok := strings.Cut(rep, cmdHeading); ok {
			return before + proto + cmdHeading + after
		}
		return rep + proto
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# mill protocol benchmark\n\n%s\n", mach)
	for _, n := range notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("\nAll figures are medians over the successful rounds (`ok` = successful/attempted). " +
		"CPU % columns are shares of one CPU over the window; \"other\" is everything else that ran on the pinned CPUs " +
		"(interrupt/softirq work not charged to a process, and foreign load: results with a high value are disturbed).\n")
	b.WriteString(proto)
	b.WriteString(cmdHeading + "\n```\n")
	for _, c := range commands {
		b.WriteString(c + "\n")
	}
	b.WriteString("```\n")
	return b.String()
}

// compareResponses says whether each server's masked /plaintext response
// is mill's byte for byte, the same header lines in another order, or
// different.
func compareResponses(b *strings.Builder, label string, resp map[string]string) {
	ref, ok := resp["mill"]
	if !ok || len(resp) < 2 {
		return
	}
	var others []string
	for s := range resp {
		if s != "mill" {
			others = append(others, s)
		}
	}
	slices.Sort(others)
	var same, reordered, diff []string
	for _, s := range others {
		r := resp[s]
		switch {
		case r == ref:
			same = append(same, s)
		case sameLines(r, ref):
			reordered = append(reordered, s)
		default:
			diff = append(diff, fmt.Sprintf("%s sends %q, mill %q", s, r, ref))
		}
	}
	if len(same) > 0 {
		fmt.Fprintf(b, "- %sGET /plaintext responses of %s are byte-for-byte mill's (Date value aside; checked before each run)\n",
			label, strings.Join(same, ", "))
	}
	if len(reordered) > 0 {
		fmt.Fprintf(b, "- %sGET /plaintext responses of %s have mill's status line, header lines and body, in another header order (same size)\n",
			label, strings.Join(reordered, ", "))
	}
	for _, d := range diff {
		fmt.Fprintf(b, "- %sresponse differs: %s\n", label, d)
	}
}

// sameLines reports whether two responses have the same lines in any order.
func sameLines(a, b string) bool {
	la, lb := strings.Split(a, "\r\n"), strings.Split(b, "\r\n")
	slices.Sort(la)
	slices.Sort(lb)
	return slices.Equal(la, lb)
}
