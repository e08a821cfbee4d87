package main

// Parsers for the output of the protocol load tools: wrk (HTTP) and
// redis-benchmark (RESP).

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// wrkResult is what the runner needs from one wrk run.
type wrkResult struct {
	requests float64 // "N requests in Xs": responses parsed in the whole run
	seconds  float64 // the run time wrk reports on that line
	rps      float64 // "Requests/sec:" = requests / seconds
	// Latency percentiles in µs from --latency's "Latency Distribution"; NaN
	// without --latency. wrk records one sample per write: with a pipelining
	// script, from the batch's write to its last response. Before printing,
	// wrk "corrects" the histogram for coordinated omission, adding synthetic
	// samples spaced by runtime ÷ (responses per connection); with pipelining
	// that spacing is 1/depth of a batch's latency, the added samples swamp
	// the real ones and fall partly outside the histogram's range, so the
	// percentiles are wrong (high ones print as 0). Use them only without
	// pipelining.
	p50, p75, p90, p99 float64
	// latMax is the "Max" of the Thread Stats latency line in µs: the largest
	// real sample, which the correction does not change.
	latMax      float64
	non2xx      int64 // "Non-2xx or 3xx responses:" (wrk counts status > 399)
	connectErrs int64 // "Socket errors: connect C, read R, write W, timeout T"
	readErrs    int64
	writeErrs   int64
	timeouts    int64
}

var (
	reWrkReqs    = regexp.MustCompile(`(?m)^\s*(\d+) requests in ([0-9.]+[a-z]+),`)
	reWrkRPS     = regexp.MustCompile(`(?m)^Requests/sec:\s*([0-9.]+)`)
	reWrkLat     = regexp.MustCompile(`(?m)^[ \t]*Latency[ \t]+(\S+)[ \t]+(\S+)[ \t]+(\S+)`)
	reWrkPct     = regexp.MustCompile(`(?m)^\s*(50|75|90|99)%\s+([0-9.]+[a-z]+)\s*$`)
	reWrkNon2xx  = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s*(\d+)`)
	reWrkSockErr = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk parses wrk 4.x's report. It fails only if the report is not
// there; errors the report lists are left to check.
func parseWrk(out string) (wrkResult, error) {
	r := wrkResult{p50: math.NaN(), p75: math.NaN(), p90: math.NaN(), p99: math.NaN(), latMax: math.NaN()}
	m := reWrkReqs.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New(`wrk output has no "N requests in T" line`)
	}
	r.requests, _ = strconv.ParseFloat(m[1], 64)
	secs, err := parseWrkTime(m[2])
	if err != nil {
		return r, err
	}
	r.seconds = secs / 1e6
	m = reWrkRPS.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New(`wrk output has no "Requests/sec:" line`)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := reWrkLat.FindStringSubmatch(out); m != nil {
		if v, err := parseWrkTime(m[3]); err == nil {
			r.latMax = v
		}
	}
	for _, m := range reWrkPct.FindAllStringSubmatch(out, -1) {
		v, err := parseWrkTime(m[2])
		if err != nil {
			return r, err
		}
		switch m[1] {
		case "50":
			r.p50 = v
		case "75":
			r.p75 = v
		case "90":
			r.p90 = v
		case "99":
			r.p99 = v
		}
	}
	if m := reWrkNon2xx.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reWrkSockErr.FindStringSubmatch(out); m != nil {
		r.connectErrs, _ = strconv.ParseInt(m[1], 10, 64)
		r.readErrs, _ = strconv.ParseInt(m[2], 10, 64)
		r.writeErrs, _ = strconv.ParseInt(m[3], 10, 64)
		r.timeouts, _ = strconv.ParseInt(m[4], 10, 64)
	}
	return r, nil
}

// check turns what wrk reports as failed into an error: any non-2xx/3xx
// response, any socket error (connect, read, write, timeout), or no request
// at all.
func (r wrkResult) check() error {
	var problems []string
	if r.non2xx > 0 {
		problems = append(problems, fmt.Sprintf("%d non-2xx/3xx responses", r.non2xx))
	}
	if r.connectErrs+r.readErrs+r.writeErrs+r.timeouts > 0 {
		problems = append(problems, fmt.Sprintf("socket errors: connect %d, read %d, write %d, timeout %d",
			r.connectErrs, r.readErrs, r.writeErrs, r.timeouts))
	}
	if r.requests <= 0 || r.rps <= 0 {
		problems = append(problems, "no request completed")
	}
	if len(problems) > 0 {
		return errors.New("wrk: " + strings.Join(problems, "; "))
	}
	return nil
}

// parseWrkTime parses wrk's time format ("813.00us", "1.11ms", "2.02s",
// "1.00m", "1.00h") into microseconds.
func parseWrkTime(s string) (float64, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' })
	if i <= 0 {
		return 0, fmt.Errorf("bad wrk time %q", s)
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("bad wrk time %q", s)
	}
	mult := map[string]float64{"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}[s[i:]]
	if mult == 0 {
		return 0, fmt.Errorf("bad wrk time unit in %q", s)
	}
	return v * mult, nil
}

// rbRow is one test of a redis-benchmark run. Latencies are in ms; NaN when
// the output does not have them (older versions, or -q without --csv).
type rbRow struct {
	test                    string
	rps                     float64
	avg, min, p50, p95, p99 float64
	max                     float64
}

var reRBQuiet = regexp.MustCompile(`^\s*(.+?): ([0-9.]+) requests per second(?:, p50=([0-9.]+) msec)?`)

// parseRedisBenchmark parses redis-benchmark output: --csv (with or without
// the header line that Redis >= 7 prints) or -q text ("SET: 123.45 requests
// per second, p50=0.391 msec"). The result is keyed by test name as printed
// ("PING_INLINE", "PING_MBULK", "SET", "GET", ...).
func parseRedisBenchmark(out string) (map[string]rbRow, error) {
	rows := map[string]rbRow{}
	var header []string
	for _, line := range strings.FieldsFunc(out, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, `"`) {
			rec, err := csv.NewReader(strings.NewReader(line)).Read()
			if err != nil {
				return nil, fmt.Errorf("redis-benchmark CSV line %q: %v", line, err)
			}
			if rec[0] == "test" {
				header = rec
				continue
			}
			if len(rec) < 2 {
				return nil, fmt.Errorf("redis-benchmark CSV line %q: too few fields", line)
			}
			cols := header
			if cols == nil { // Redis < 7: "test","rps"
				cols = []string{"test", "rps"}
			}
			row := rbRow{test: rec[0], avg: math.NaN(), min: math.NaN(), p50: math.NaN(), p95: math.NaN(), p99: math.NaN(), max: math.NaN()}
			for i, c := range cols {
				if i == 0 || i >= len(rec) {
					continue
				}
				v, err := strconv.ParseFloat(rec[i], 64)
				if err != nil {
					return nil, fmt.Errorf("redis-benchmark CSV line %q: field %s: %v", line, c, err)
				}
				switch c {
				case "rps":
					row.rps = v
				case "avg_latency_ms":
					row.avg = v
				case "min_latency_ms":
					row.min = v
				case "p50_latency_ms":
					row.p50 = v
				case "p95_latency_ms":
					row.p95 = v
				case "p99_latency_ms":
					row.p99 = v
				case "max_latency_ms":
					row.max = v
				}
			}
			rows[row.test] = row
			continue
		}
		// -q progress lines ("SET: rps=... (overall: ...) avg_msec=...")
		// do not match; the final "requests per second" line does.
		if m := reRBQuiet.FindStringSubmatch(line); m != nil {
			row := rbRow{test: m[1], avg: math.NaN(), min: math.NaN(), p50: math.NaN(), p95: math.NaN(), p99: math.NaN(), max: math.NaN()}
			row.rps, _ = strconv.ParseFloat(m[2], 64)
			if m[3] != "" {
				row.p50, _ = strconv.ParseFloat(m[3], 64)
			}
			rows[row.test] = row
		}
	}
	return rows, nil
}

// checkRedisBenchmark decides whether one redis-benchmark run of test
// (as printed, e.g. "SET") succeeded: the process exited 0 (it exits 1 on an
// error reply, a closed connection or a protocol error), printed no error on
// stderr, and reported a positive rate for test.
func checkRedisBenchmark(runErr error, stderr string, rows map[string]rbRow, test string) (rbRow, error) {
	var problems []string
	if runErr != nil {
		problems = append(problems, "exit: "+runErr.Error())
	}
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Error") || strings.Contains(l, "Could not connect") ||
			strings.Contains(l, "Unexpected error") || strings.Contains(l, "Protocol error") {
			problems = append(problems, l)
		}
	}
	row, ok := rows[test]
	switch {
	case !ok:
		problems = append(problems, "no result for "+test)
	case !(row.rps > 0):
		problems = append(problems, fmt.Sprintf("%s: rps %v", test, row.rps))
	}
	if len(problems) > 0 {
		return row, errors.New("redis-benchmark: " + strings.Join(problems, "; "))
	}
	return row, nil
}
