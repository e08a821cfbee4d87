package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mill-io/mill/http1"
)

// needTool returns the path of an external client, skipping the test if
// it is not installed, unless MILL_REQUIRE_TOOLS is set (as in CI).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MILL_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s not installed (MILL_REQUIRE_TOOLS is set): apt-get install %s", name, name)
		}
		t.Skipf("%s not installed: apt-get install %s", name, name)
	}
	return p
}

// run runs a tool with stdin and returns its stdout and stderr.
func run(t *testing.T, stdin []byte, name string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// curlResponse splits `curl -i` output into the final response's status
// line, header block and body (interim 100 responses are skipped).
func curlResponse(t *testing.T, out string) (status, header, body string) {
	t.Helper()
	for {
		head, rest, ok := strings.Cut(out, "\r\n\r\n")
		if !ok {
			t.Fatalf("no header section in %q", out)
		}
		status, header, _ = strings.Cut(head, "\r\n")
		if !strings.HasPrefix(status, "HTTP/1.1 100 ") {
			return status, header + "\r\n", rest
		}
		out = rest
	}
}

func TestCurl(t *testing.T) {
	curl := needTool(t, "curl")
	base := "http://" + startServer(t, http1.Limits{})
	check := func(name, out, wantStatus string, wantHeaders []string, wantBody string) {
		t.Helper()
		status, header, body := curlResponse(t, out)
		if status != wantStatus || body != wantBody {
			t.Errorf("%s: %q, body %q; want %q, %q", name, status, body, wantStatus, wantBody)
		}
		for _, h := range append(wantHeaders, "Server: mill") {
			if !strings.Contains(header, h+"\r\n") {
				t.Errorf("%s: no %q in\n%s", name, h, header)
			}
		}
		if !regexp.MustCompile(`(?m)^Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r$`).MatchString(header) {
			t.Errorf("%s: bad or no Date in\n%s", name, header)
		}
	}

	out, _ := run(t, nil, curl, "-sS", "-i", base+"/plaintext")
	check("plaintext", out, "HTTP/1.1 200 OK", []string{"Content-Type: text/plain", "Content-Length: 13"}, "Hello, World!")

	out, _ = run(t, nil, curl, "-sS", "-i", "--http1.0", base+"/json")
	check("json over HTTP/1.0", out, "HTTP/1.1 200 OK",
		[]string{"Content-Type: application/json", "Content-Length: 27", "Connection: close"}, `{"message":"Hello, World!"}`)

	out, _ = run(t, nil, curl, "-sS", "-I", base+"/plaintext")
	check("HEAD", out, "HTTP/1.1 200 OK", []string{"Content-Length: 13"}, "")

	out, _ = run(t, nil, curl, "-sS", "-i", base+"/missing")
	check("404", out, "HTTP/1.1 404 Not Found", nil, "404 Not Found\n")

	payload := bytes.Repeat([]byte("mill\x00\r\n"), 20000)
	out, _ = run(t, payload, curl, "-sS", "-i", "--data-binary", "@-", base+"/echo")
	check("echo", out, "HTTP/1.1 200 OK", []string{"Content-Length: " + strconv.Itoa(len(payload))}, string(payload))

	out, stderr := run(t, payload, curl, "-sS", "-v", "-i", "-H", "Transfer-Encoding: chunked",
		"-H", "Expect: 100-continue", "--data-binary", "@-", base+"/echo")
	check("chunked echo", out, "HTTP/1.1 200 OK", []string{"Content-Length: " + strconv.Itoa(len(payload))}, string(payload))
	if !strings.Contains(stderr, "< HTTP/1.1 100 Continue") {
		t.Errorf("chunked echo: no 100 Continue in\n%s", stderr)
	}

	_, stderr = run(t, nil, curl, "-sS", "-v", "-o", os.DevNull, "-o", os.DevNull, base+"/plaintext", base+"/json")
	if !strings.Contains(stderr, "Re-using existing connection") {
		t.Errorf("curl opened a second connection:\n%s", stderr)
	}

	big := bytes.Repeat([]byte("x"), http1.DefaultLimits.MaxBody+1)
	out, _ = run(t, big, curl, "-sS", "-i", "--data-binary", "@-", base+"/echo")
	check("413", out, "HTTP/1.1 413 Content Too Large", []string{"Connection: close"}, "request body too large\n")
}

// wrkErrors matches the lines wrk prints when something went wrong.
var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in `)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func TestWrk(t *testing.T) {
	wrk := needTool(t, "wrk")
	base := "http://" + startServer(t, http1.Limits{})
	// A script pipelining 16 requests per write, as TechEmpower's
	// plaintext test does.
	script := filepath.Join(t.TempDir(), "pipeline.lua")
	lua := `init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/plaintext") end
  req = table.concat(r)
end
request = function() return req end
`
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-t1", "-c16", "-d1s", base + "/plaintext"},
		{"-t1", "-c8", "-d1s", "-s", script, base + "/plaintext"},
		{"-t1", "-c8", "-d1s", base + "/json"},
	} {
		out, _ := run(t, nil, wrk, args...)
		m := wrkRequests.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("wrk %v: no request count in\n%s", args, out)
		}
		if n, _ := strconv.Atoi(m[1]); n == 0 {
			t.Errorf("wrk %v: no requests\n%s", args, out)
		}
		if strings.Contains(out, "Non-2xx or 3xx responses") {
			t.Errorf("wrk %v: error responses\n%s", args, out)
		}
		if m := wrkSocket.FindStringSubmatch(out); m != nil && m[1]+m[2]+m[3]+m[4] != "0000" {
			t.Errorf("wrk %v: socket errors\n%s", args, out)
		}
		t.Logf("wrk %v: %s requests", args, m[1])
	}
}

// TestCurlLargeBody is the report's case with curl, which sends a body
// this large after Expect: 100-continue: a 5 MiB POST to a server with
// -max-body 33554432 gets 100 Continue, then the whole body back.
func TestCurlLargeBody(t *testing.T) {
	curl := needTool(t, "curl")
	base := "http://" + raisedBody(t)
	payload := randomBytes(5<<20, 11)
	out, stderr := run(t, payload, curl, "-sS", "-v", "-i", "--data-binary", "@-", base+"/echo")
	status, _, body := curlResponse(t, out)
	if status != "HTTP/1.1 200 OK" || body != string(payload) {
		t.Errorf("%q, %d bytes back of %d", status, len(body), len(payload))
	}
	if !strings.Contains(stderr, "< HTTP/1.1 100 Continue") {
		t.Logf("curl sent no Expect: 100-continue this time:\n%s", stderr)
	}
}
