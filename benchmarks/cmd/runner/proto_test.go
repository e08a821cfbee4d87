package main

import (
	"bufio"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The testdata files are captured outputs of wrk 4.1.0 (Debian) and
// redis-benchmark 7.0.15 run on loopback; see the comments at each use.

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func TestParseWrk(t *testing.T) {
	for _, c := range []struct {
		file                string
		requests, secs, rps float64
		p50, p99, max       float64 // µs
		wantErr             string  // substring of check()'s error, "" = ok
	}{
		// wrk -t1 -c256 -d2s --latency against servers/gnethttp.
		{"wrk_plain.txt", 280059, 2.02, 138353.55, 813, 8330, 12300, ""},
		// The same with the 16-deep pipelining script: every parsed
		// response counts as a request (2072896 / 2.07 s ≈ 1.0 M/s).
		{"wrk_pipe.txt", 2072896, 2.07, 1003656.53, 1710, 22500, 40180, ""},
		// GET /nope: every response is a 404.
		{"wrk_404.txt", 68805, 1.00, 68472.97, 88, 23430, 48190, "68805 non-2xx/3xx responses"},
		// A server that resets every connection.
		{"wrk_reset.txt", 0, 1.02, 0, 0, 0, 0, "socket errors: connect 0, read 1063, write 15233, timeout 0"},
		// A server that accepts and never answers.
		{"wrk_timeout.txt", 0, 3.01, 0, 0, 0, 0, "no request completed"},
	} {
		t.Run(c.file, func(t *testing.T) {
			r, err := parseWrk(readTestdata(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if r.requests != c.requests || !near(r.seconds, c.secs) || !near(r.rps, c.rps) || !near(r.latMax, c.max) ||
				!near(r.p50, c.p50) || !near(r.p99, c.p99) {
				t.Errorf("got %+v", r)
			}
			err = r.check()
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("check: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("check: %v, want error containing %q", err, c.wantErr)
			}
		})
	}

	// The layout wrk prints for timeouts (format string of wrk.c), without
	// --latency.
	r, err := parseWrk(`Running 5s test @ http://127.0.0.1:9000/plaintext
  1 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20s   400.00ms   1.99s    70.00%
    Req/Sec    10.00      5.00     20.00     60.00%
  120 requests in 1.00m, 15.00KB read
  Socket errors: connect 0, read 0, write 0, timeout 37
Requests/sec:      2.00
Transfer/sec:     256.00B
`)
	if err != nil {
		t.Fatal(err)
	}
	if r.timeouts != 37 || r.seconds != 60 || r.requests != 120 || !math.IsNaN(r.p99) || r.latMax != 1.99e6 {
		t.Errorf("got %+v", r)
	}
	if err := r.check(); err == nil || !strings.Contains(err.Error(), "timeout 37") {
		t.Errorf("check: %v", err)
	}

	if _, err := parseWrk("unable to connect to 127.0.0.1:18005 Connection refused\n"); err == nil {
		t.Error("refused output parsed")
	}
}

func TestParseWrkTime(t *testing.T) {
	for in, want := range map[string]float64{"813.00us": 813, "1.11ms": 1110, "2.02s": 2.02e6, "1.50m": 90e6, "1.00h": 3600e6} {
		if got, err := parseWrkTime(in); err != nil || !near(got, want) {
			t.Errorf("%s: %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "12", "ms", "1.0xs"} {
		if _, err := parseWrkTime(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestParseRedisBenchmark(t *testing.T) {
	// redis-benchmark -c 50 -n 100000 -t ping,set,get -P 1 -q --csv
	// against redis-server 7.0.15.
	rows, err := parseRedisBenchmark(readTestdata(t, "rb_csv.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("rows %v", rows)
	}
	set := rows["SET"]
	if !near(set.rps, 104166.67) || !near(set.avg, 0.252) || !near(set.p50, 0.247) || !near(set.p99, 0.399) || !near(set.max, 3.263) {
		t.Errorf("SET %+v", set)
	}
	if !near(rows["PING_INLINE"].rps, 104821.80) || !near(rows["PING_MBULK"].p95, 0.287) || !near(rows["GET"].min, 0.056) {
		t.Errorf("rows %+v", rows)
	}
	for _, name := range []string{"PING_INLINE", "PING_MBULK", "SET", "GET"} {
		if _, err := checkRedisBenchmark(nil, "", rows, name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := checkRedisBenchmark(nil, "", rows, "INCR"); err == nil {
		t.Error("missing test accepted")
	}

	// -P 16 against examples/redis.
	rows, err = parseRedisBenchmark(readTestdata(t, "rb_csv_p16.txt"))
	if err != nil || !near(rows["GET"].rps, 1547987.50) || !near(rows["GET"].p99, 0.551) {
		t.Errorf("P16: %+v, %v", rows, err)
	}

	// -q without --csv: progress lines separated by \r, then the result.
	rows, err = parseRedisBenchmark(readTestdata(t, "rb_quiet.txt"))
	if err != nil || len(rows) != 1 || !near(rows["SET"].rps, 1652892.62) || !near(rows["SET"].p50, 0.391) || !math.IsNaN(rows["SET"].p99) {
		t.Errorf("quiet: %+v, %v", rows, err)
	}

	// Redis < 7 prints no header and only the rate.
	rows, err = parseRedisBenchmark("\"PING_INLINE\",\"98039.22\"\n\"SET\",\"97087.38\"\n")
	if err != nil || !near(rows["SET"].rps, 97087.38) || !math.IsNaN(rows["SET"].p50) {
		t.Errorf("old CSV: %+v, %v", rows, err)
	}

	if _, err := parseRedisBenchmark("\"SET\",\"x\"\n"); err == nil {
		t.Error("bad number accepted")
	}
}

func TestRedisBenchmarkFailures(t *testing.T) {
	exit1 := errors.New("exit status 1")
	for _, c := range []struct {
		base    string
		runErr  error
		wantErr string
	}{
		// A server that answers every command with -ERR: redis-benchmark
		// prints the error and exits 1 after the CSV header.
		{"rb_err", exit1, "Error from server: ERR nope"},
		// A server that closes connections after 500 replies.
		{"rb_close", exit1, "Error: Server closed the connection"},
	} {
		stdout := readTestdata(t, c.base+".stdout")
		stderr := readTestdata(t, c.base+".stderr")
		rows, err := parseRedisBenchmark(stdout)
		if err != nil {
			t.Fatalf("%s: %v", c.base, err)
		}
		if _, err := checkRedisBenchmark(c.runErr, stderr, rows, "SET"); err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: %v, want %q", c.base, err, c.wantErr)
		}
		// The stderr alone is enough, even with a made-up result row.
		rows["SET"] = rbRow{test: "SET", rps: 1}
		if _, err := checkRedisBenchmark(nil, stderr, rows, "SET"); err == nil {
			t.Errorf("%s: stderr errors ignored", c.base)
		}
	}
	// Connection refused: redis-benchmark retries forever (the runner's time
	// limit kills it); what it printed must read as a failure.
	if _, err := checkRedisBenchmark(nil, readTestdata(t, "rb_refused.stderr"), map[string]rbRow{"SET": {rps: 1}}, "SET"); err == nil {
		t.Error("refused connection accepted")
	}
	// A warning alone is not an error.
	if _, err := checkRedisBenchmark(nil, "WARNING: Could not fetch server CONFIG\n", map[string]rbRow{"SET": {rps: 1}}, "SET"); err != nil {
		t.Error(err)
	}
}

func TestReadPlaintextResponse(t *testing.T) {
	const good = "HTTP/1.1 200 OK\r\nServer: mill\r\nDate: Wed, 25 Nov 2026 18:35:51 GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
	raw, masked, err := readPlaintextResponse(bufio.NewReader(strings.NewReader(good + good)))
	if err != nil || string(raw) != good || len(raw) != 129 {
		t.Fatalf("%q, %v", raw, err)
	}
	if want := "HTTP/1.1 200 OK\r\nServer: mill\r\nDate: <date>\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"; masked != want {
		t.Errorf("masked %q", masked)
	}
	for _, bad := range []string{
		strings.Replace(good, "200 OK", "404 Not Found", 1),
		strings.Replace(good, "Hello, World!", "Hello, World?", 1),
		strings.Replace(good, "text/plain", "text/html", 1),
		strings.Replace(good, "Content-Length: 13", "Content-Length: 12", 1),
		strings.Replace(good, "Date: Wed, 25 Nov 2026 18:35:51 GMT", "Date: yesterday", 1),
		strings.Replace(good, "\r\nServer", "\nServer", 1),
		good[:40],
	} {
		if _, _, err := readPlaintextResponse(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestSplitProtoAndScript(t *testing.T) {
	echo, proto := splitProto([]string{"pingpong", "http", "resp-pipeline", "idle10k"})
	if strings.Join(echo, ",") != "pingpong,idle10k" || strings.Join(proto, ",") != "http,resp-pipeline" {
		t.Errorf("echo %v, proto %v", echo, proto)
	}
	for _, w := range protoWorkloads {
		if _, ok := findProto(w.name); !ok || !strings.Contains(strings.Join(w.servers, ","), w.ref) {
			t.Errorf("workload %+v", w)
		}
		for _, s := range w.servers {
			if _, ok := protoServers[w.kind+"/"+s]; !ok {
				t.Errorf("no protoServer %s/%s", w.kind, s)
			}
		}
	}
	if got := shellJoin([]string{"redis-server", "--save", "", "a b"}); got != "redis-server --save '' 'a b'" {
		t.Errorf("shellJoin: %s", got)
	}
}

func TestRenderProto(t *testing.T) {
	w, _ := findProto("http")
	rs, _ := findProto("resp")
	p := &protoPlan{wls: []protoWorkload{w, rs},
		servers:  map[string][]string{"http": {"mill", "gnethttp", "fasthttp"}, "resp": {"mill", "redis-server"}},
		response: map[string]string{"mill": "x", "gnethttp": "x", "fasthttp": "y"}}
	mk := func(wl, srv, test string, rps, cpu float64) protoResult {
		return protoResult{workload: wl, server: srv, test: test, round: 1, requests: rps, rps: rps,
			p50: 100, p99: 900, maxLat: 5000, window: 1, srvCPU: cpu, toolCPU: 1, respBytes: 129}
	}
	res := []protoResult{mk("http", "mill", "", 200e3, 0.5), mk("http", "gnethttp", "", 100e3, 0.5),
		{workload: "http", server: "fasthttp", round: 1, err: "boom"}}
	for _, t := range respTests {
		res = append(res, mk("resp", "mill", t.name, 100e3, 0.4), mk("resp", "redis-server", t.name, 100e3, 0.8))
	}
	out := renderAll("machine\n", "cload", []string{"a note"}, nil, nil, nil, p, res, []string{"wrk ..."})
	for _, want := range []string{
		"# mill protocol benchmark", "- a note\n",
		"| mill | 1/1 | 200000 | 100 | 900 | 5000 | 2.500 | 50 | 100 | 0 | 129 | 2.00× | 0.50× |",
		"| fasthttp | 0/1 | n/a |", "| SET | mill | 1/1 | 100000 |", "| 1.00× | 0.50× |",
		"| http | GET /plaintext | gnethttp | 2.00× | 0.50× |", "| resp | GET | redis-server | 1.00× | 0.50× |",
		"responses of gnethttp are byte-for-byte", `response differs: fasthttp sends "y", mill "x"`,
		"http / fasthttp / round 1: boom", "## Commands run\n\n```\nwrk ...\n```\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// With echo workloads the protocol sections go before the command list.
	echo := []runResult{{workload: "pingpong", server: "mill", round: 1, window: 1, srvCPU: 1}}
	out = renderAll("m\n", "cload", nil, []string{"pingpong"}, []string{"mill"}, echo, p, res, []string{"cmd"})
	if i, j := strings.Index(out, "## Protocol workloads"), strings.Index(out, "## Commands run"); i < 0 || j < i ||
		!strings.HasPrefix(out, "# mill echo benchmark") {
		t.Errorf("layout:\n%s", out)
	}
}
