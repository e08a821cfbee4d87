package main

// Tests that drive the echo with real WebSocket clients of other
// implementations: Python's websockets (Debian python3-websockets),
// Autobahn|Python (python3-autobahn) and Node's ws (Debian node-ws). The client scripts are in testdata; each
// check they pass prints "ok <name>".

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mill-io/mill/websocket"
)

// python is Debian's interpreter, which has python3-websockets; the
// python3 first on a PATH may be another one (pyenv's) without it.
const python = "/usr/bin/python3"

// nodePath is where Debian's node-* packages put their modules.
const nodePath = "/usr/share/nodejs"

// missing skips the test because an external client is not installed,
// or fails it when MILL_REQUIRE_TOOLS is set (as in CI).
func missing(t *testing.T, what, pkg string) {
	t.Helper()
	if os.Getenv("MILL_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s not installed (MILL_REQUIRE_TOOLS is set): apt-get install %s", what, pkg)
	}
	t.Skipf("%s not installed: apt-get install %s", what, pkg)
}

// needPython skips the test unless /usr/bin/python3 can import websockets.
func needPython(t *testing.T) {
	t.Helper()
	if err := exec.Command(python, "-c", "import websockets").Run(); err != nil {
		missing(t, "Python websockets ("+python+" -c 'import websockets': "+err.Error()+")", "python3-websockets")
	}
}

// needAutobahn skips the test unless /usr/bin/python3 can import
// Autobahn|Python's asyncio WebSocket client.
func needAutobahn(t *testing.T) {
	t.Helper()
	if err := exec.Command(python, "-c", "import autobahn.asyncio.websocket").Run(); err != nil {
		missing(t, "Autobahn|Python ("+python+" -c 'import autobahn.asyncio.websocket': "+err.Error()+")", "python3-autobahn")
	}
}

// needNode skips the test unless node can require ws from nodePath.
func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node", "nodejs node-ws")
	}
	cmd := exec.Command(node, "-e", "require('ws')")
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath)
	if err := cmd.Run(); err != nil {
		missing(t, "Node ws (require('ws') with NODE_PATH="+nodePath+": "+err.Error()+")", "node-ws")
	}
	return node
}

// runClient runs a client to its end, at most a minute, and returns its
// standard output; it fails the test if the client fails.
func runClient(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%sstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// wantOK checks that out has an "ok <check>" line for each check (a
// prefix of the line).
func wantOK(t *testing.T, out string, checks ...string) {
	t.Helper()
	for _, c := range checks {
		if !strings.Contains("\n"+out, "\nok "+c) {
			t.Errorf("no %q in the client's output:\n%s", "ok "+c, out)
		}
	}
}

var echoChecks = []string{"text", "binary", "empty", "1 MiB binary", "1 MiB text", "50 in flight", "ping", "close 4000 echoed"}

func TestPython(t *testing.T) {
	needPython(t)
	for _, deflate := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "deflate"}[deflate]
		t.Run(name, func(t *testing.T) {
			s := start(t, config{deflate: deflate, maxMessage: defaults.maxMessage})
			out := runClient(t, nil, python, "testdata/client.py", "ws://"+s.Addr().String()+"/echo", "echo", name)
			if deflate {
				wantOK(t, out, "deflate negotiated")
				// The echo of 1 MiB of text went out compressed: in all,
				// less than the 2 MiB of the two big messages, uncompressed.
				if n := s.Stats().Total.BytesOut; n > 3<<19 {
					t.Errorf("the server wrote %d bytes: the text was not compressed", n)
				}
			} else {
				wantOK(t, out, "no extension")
			}
			wantOK(t, out, echoChecks...)
		})
	}
}

// TestPythonTLS is TestPython over wss://, with the self-signed
// certificate (which the client does not verify).
func TestPythonTLS(t *testing.T) {
	needPython(t)
	certs := selfSigned(t)
	for _, deflate := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "deflate"}[deflate]
		t.Run(name, func(t *testing.T) {
			s := start(t, config{deflate: deflate, maxMessage: defaults.maxMessage, tls: certs.Config()})
			out := runClient(t, nil, python, "testdata/client.py", "wss://localhost:"+portOf(s)+"/", "echo", name)
			wantOK(t, out, echoChecks...)
		})
	}
}

// TestPythonMaxMessage: a message of -max-message bytes comes back, one
// a byte longer closes the connection with 1009, which the client sees.
func TestPythonMaxMessage(t *testing.T) {
	needPython(t)
	s := start(t, config{maxMessage: 64 << 10})
	out := runClient(t, nil, python, "testdata/client.py", "ws://"+s.Addr().String()+"/", "toobig", fmt.Sprint(64<<10))
	wantOK(t, out, "at the limit", "1009 past the limit")
}

// TestPythonShutdown: a graceful shutdown closes a client's connection
// with 1001 (going away), and the client sees that code.
func TestPythonShutdown(t *testing.T) {
	needPython(t)
	s := start(t, config{maxMessage: defaults.maxMessage})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/client.py", "ws://"+s.Addr().String()+"/", "shutdown")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "open" {
		_ = cmd.Wait()
		t.Fatalf("client did not open: %q\n%s", lines.Text(), stderr.String())
	}
	sctx, scancel := context.WithTimeout(context.Background(), waitBound)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Error(err)
	}
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("client: %v\n%s%s", err, rest.String(), stderr.String())
	}
	if !strings.HasPrefix(rest.String(), "closed 1001 ") {
		t.Fatalf("client saw %q, want a close with 1001", rest.String())
	}
}

// TestAutobahnPython drives the echo with Autobahn|Python, the library
// Autobahn|Testsuite is built on, through the permessage-deflate matrix
// of the suite's sections 12 and 13 (offers with and without
// no_context_takeover and window bits, messages of 16 B to 128 KiB, some
// cut into 256 B to 32 KiB frames, each echo checked by its SHA-1, a
// clean close), with the server keeping its compressor's context and
// not.
func TestAutobahnPython(t *testing.T) {
	needAutobahn(t)
	for _, context := range []bool{false, true} {
		mode := map[bool]string{false: "no-context", true: "context"}[context]
		t.Run(mode, func(t *testing.T) {
			s := start(t, config{deflate: true, context: context, maxMessage: defaults.maxMessage})
			out := runClient(t, nil, python, "testdata/autobahn_client.py", "ws://"+s.Addr().String()+"/", mode, "4")
			wantOK(t, out, "no offer", "default offer", "server_no_context_takeover", "server_max_window_bits=9",
				"server_max_window_bits=15", "server_no_context_takeover, server_max_window_bits=9",
				"server_no_context_takeover, server_max_window_bits=15", "three offers, the first declined")
		})
	}
}

// TestNode runs the same checks with Node's ws, through each of its
// permessage-deflate offers; the script holds the response to RFC 7692.
func TestNode(t *testing.T) {
	node := needNode(t)
	s := start(t, config{deflate: true, maxMessage: defaults.maxMessage})
	url := "ws://" + s.Addr().String() + "/"
	for _, tc := range []struct{ name, pmd string }{
		{"no offer", `false`},
		{"default offer", `true`},
		{"server_no_context_takeover", `{"serverNoContextTakeover": true}`},
		{"client_no_context_takeover", `{"clientNoContextTakeover": true}`},
		{"both no_context_takeover", `{"serverNoContextTakeover": true, "clientNoContextTakeover": true}`},
		{"client_max_window_bits=9", `{"clientMaxWindowBits": 9}`},
		// The server may decline this one, or accept it with
		// server_max_window_bits of 10 or less.
		{"server_max_window_bits=10", `{"serverMaxWindowBits": 10, "expect:deflate": "either"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := runClient(t, []string{"NODE_PATH=" + nodePath}, node, "testdata/client.js", url, tc.pmd)
			wantOK(t, out, "text", "binary", "1 MiB binary", "1 MiB text", "1 MiB text sent uncompressed", "100 in flight", "ping", "close 4001 echoed")
			if tc.pmd != "false" && strings.Contains(out, "ok deflate negotiated") {
				wantOK(t, out, "1 MiB text came back compressed")
			}
		})
	}
}

// TestNodePlain: with -deflate off, ws's default offer is declined.
func TestNodePlain(t *testing.T) {
	node := needNode(t)
	s := start(t, config{maxMessage: defaults.maxMessage})
	out := runClient(t, []string{"NODE_PATH=" + nodePath}, node, "testdata/client.js", "ws://"+s.Addr().String()+"/", `{"expect:deflate": false}`)
	wantOK(t, out, "no extension", "text", "1 MiB text", "100 in flight", "ping", "close 4001 echoed")
}

// TestClientAgainstAutobahn and TestClientAgainstPython drive an echo
// server of another implementation with the package's own client, plain
// and compressed (with and without context takeover on the client's
// side): messages around the length encodings' edges, 1 MiB of text,
// then a close handshake the server calls clean. Python's websockets
// server answers a deflate offer with its own window of 4 KiB (and would
// ask the client for one if offered client_max_window_bits).
func TestClientAgainstAutobahn(t *testing.T) {
	needAutobahn(t)
	clientAgainst(t, "testdata/autobahn_server.py")
}

func TestClientAgainstPython(t *testing.T) {
	needPython(t)
	clientAgainst(t, "testdata/py_server.py")
}

// clientAgainst runs script, a Python echo server (it prints "port N",
// then per connection "deflate negotiated..." or "no extension" and
// "closed CLEAN CODE"; it exits when its input ends), and drives it.
func clientAgainst(t *testing.T, script string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	defer func() {
		stdin.Close() // the server exits when its input ends
		for range lines {
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s: %v\n%s", script, err, stderr.String())
		}
	}()
	line := func(what string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the server ended before %s:\n%s", what, stderr.String())
			}
			return l
		case <-time.After(waitBound):
			t.Fatalf("no %s from the server:\n%s", what, stderr.String())
		}
		return ""
	}
	var port int
	if _, err := fmt.Sscanf(line("its port"), "port %d", &port); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("ws://127.0.0.1:%d/", port)
	big := bytes.Repeat([]byte("a line of text, again and again\n"), 1<<15) // 1 MiB
	for _, tc := range []struct {
		name string
		zip  *websocket.Compression
	}{
		{"plain", nil},
		{"deflate", &websocket.Compression{Enabled: true, Threshold: -1}},
		{"deflate with context", &websocket.Compression{Enabled: true, Threshold: -1, ContextTakeover: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []websocket.Option
			if tc.zip != nil {
				opts = append(opts, websocket.WithCompression(*tc.zip))
			}
			g := newGoClient()
			c := dial(t, g, url, opts...)
			if c.Compressed() != (tc.zip != nil) {
				t.Fatalf("Compressed() = %v", c.Compressed())
			}
			want := map[bool]string{false: "no extension", true: "deflate negotiated"}[tc.zip != nil]
			if l := line("the handshake"); !strings.HasPrefix(l, want) {
				t.Fatalf("server: %q, want %q", l, want)
			}
			msgs := []goMsg{{websocket.OpText, []byte("héllo")}, {websocket.OpBinary, nil}, {websocket.OpText, big}}
			for _, n := range []int{1, 125, 126, 127, 65535, 65536, 100000} {
				p := make([]byte, n)
				for i := range p {
					p[i] = byte(i * 7)
				}
				msgs = append(msgs, goMsg{websocket.OpBinary, p})
			}
			for _, m := range msgs {
				if err := c.AsyncWriteMessage(m.op, m.p, nil); err != nil {
					t.Fatal(err)
				}
			}
			for _, m := range msgs {
				if got := g.next(t); got.op != m.op || !bytes.Equal(got.p, m.p) {
					t.Fatalf("echo of %v %d bytes: %v %d bytes", m.op, len(m.p), got.op, len(got.p))
				}
			}
			if err := c.Close(websocket.StatusNormal, "done"); err != nil {
				t.Fatal(err)
			}
			if err := g.closeErr(t); websocket.CloseStatus(err) != websocket.StatusNormal {
				t.Fatalf("close: %v, want 1000", err)
			}
			if l := line("the close"); l != "closed True 1000" {
				t.Fatalf("server: %q, want a clean close with 1000", l)
			}
		})
	}
}
