package main

// A headless Chromium in the room: two tabs join through the page's own
// script (/?auto=NAME&say=TEXT), a Go client hears both, answers, and
// the answer shows in both pages' DOM. The test drives Chromium over the
// DevTools protocol (JSON over a WebSocket), spoken with the websocket
// package's own client.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/websocket"
)

// browserBound bounds the whole browser test.
const browserBound = 30 * time.Second

// needChromium returns the path of chromium, skipping the test if it is
// not installed, unless MILL_REQUIRE_TOOLS is set (as in CI).
func needChromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("MILL_REQUIRE_TOOLS") != "" {
			t.Fatal("chromium not installed (MILL_REQUIRE_TOOLS is set): apt-get install chromium")
		}
		t.Skip("chromium not installed: apt-get install chromium")
	}
	return p
}

var devtoolsURL = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// launch starts a headless Chromium with an empty profile and returns
// its DevTools WebSocket URL; the browser is killed when the test ends.
// The flags keep it off the network but for localhost.
func launch(t *testing.T, ctx context.Context, chromium string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--remote-debugging-port=0", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	found := make(chan string, 1)
	var logMu sync.Mutex
	var log strings.Builder
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			log.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if m := devtoolsURL.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case u := <-found:
		return u
	case <-exited:
	case <-ctx.Done():
	}
	logMu.Lock()
	defer logMu.Unlock()
	t.Fatalf("chromium did not start its DevTools server:\n%s", log.String())
	return ""
}

// devtools is a DevTools protocol session: commands go out as JSON text
// messages with an id, and the reply with the same id comes back to the
// caller. Events are ignored.
type devtools struct {
	conn *websocket.Conn
	mu   sync.Mutex
	next int
	wait map[int]chan cdpReply
	gone chan struct{}
}

type cdpReply struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func (*devtools) OnOpen(*websocket.Conn) {}

// OnMessage hands a reply to its caller (payload is decoded before the
// callback returns).
func (d *devtools) OnMessage(_ *websocket.Conn, _ websocket.Opcode, payload []byte) {
	var r cdpReply
	if json.Unmarshal(payload, &r) != nil || r.ID == 0 {
		return // an event
	}
	d.mu.Lock()
	ch := d.wait[r.ID]
	delete(d.wait, r.ID)
	d.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

func (d *devtools) OnClose(*websocket.Conn, error) { close(d.gone) }

// call sends a command (to a page when session is not "") and decodes
// its result into result (if not nil).
func (d *devtools) call(ctx context.Context, session, method string, params, result any) error {
	d.mu.Lock()
	d.next++
	id := d.next
	ch := make(chan cdpReply, 1)
	d.wait[id] = ch
	d.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if err := d.conn.AsyncWriteMessage(websocket.OpText, b, nil); err != nil {
		return err
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(r.Result, result)
		}
		return nil
	case <-d.gone:
		return fmt.Errorf("%s: the DevTools connection closed", method)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// open opens url in a new tab and returns the tab's session id.
func (d *devtools) open(ctx context.Context, url string) (string, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := d.call(ctx, "", "Target.createTarget", map[string]any{"url": url}, &target); err != nil {
		return "", err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	err := d.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	return att.SessionID, err
}

// text evaluates expr, a string-valued JavaScript expression, in a tab.
func (d *devtools) text(ctx context.Context, session, expr string) (string, error) {
	var r struct {
		Result struct {
			Value string `json:"value"`
		} `json:"result"`
	}
	err := d.call(ctx, session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	return r.Result.Value, err
}

// pageLog is the text of a page's message list, one line per item
// ("ann joined", "ann hello").
const pageLog = `Array.from(document.querySelectorAll("#log li")).map(li => li.textContent.replace(li.dataset.name, li.dataset.name + " ")).join("\n")`

// waitLog polls a tab's message list until it has every one of want as a
// line, or ctx ends; it returns the last list seen.
func (d *devtools) waitLog(ctx context.Context, session string, want ...string) (string, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := d.text(ctx, session, pageLog)
		if err != nil {
			return got, err
		}
		lines := "\n" + got + "\n"
		all := true
		for _, w := range want {
			all = all && strings.Contains(lines, "\n"+w+"\n")
		}
		if all {
			return got, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return got, ctx.Err()
		}
	}
}

func TestBrowser(t *testing.T) {
	chromium := needChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserBound)
	defer cancel()
	addr := start(t)
	gopher := join(t, addr, "gopher", nil)
	gopher.expect(t, Out{Name: "gopher", Event: "join"})

	d := &devtools{wait: map[int]chan cdpReply{}, gone: make(chan struct{})}
	cl, err := websocket.NewClient(d, websocket.WithMillOptions(mill.WithLogger(zap.NewNop())))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Stop(context.Background())
	d.conn, err = cl.Dial(ctx, launch(t, ctx, chromium), nil)
	if err != nil {
		t.Fatalf("DevTools: %v", err)
	}

	// Two tabs join and speak, each through the page's own script: alice
	// first, then, once she is in the room, bob.
	base := "http://" + addr + "/"
	tabs := map[string]string{}
	for _, name := range []string{"alice", "bob"} {
		q := url.Values{"auto": {name}, "say": {"hello from " + name}}
		if tabs[name], err = d.open(ctx, base+"?"+q.Encode()); err != nil {
			t.Fatal(err)
		}
		gopher.expect(t, Out{Name: name, Event: "join"}, Out{Name: name, Text: "hello from " + name})
	}

	// The Go client answers; both pages show it, and alice's shows bob.
	gopher.say(t, "hello, browsers <3")
	for name, want := range map[string][]string{
		"alice": {"alice joined", "bob joined", "bob hello from bob", "gopher hello, browsers <3"},
		"bob":   {"bob joined", "bob hello from bob", "gopher hello, browsers <3"},
	} {
		got, err := d.waitLog(ctx, tabs[name], want...)
		if err != nil {
			t.Fatalf("%s's page: %v; its list:\n%s", name, err, got)
		}
		if state, _ := d.text(ctx, tabs[name], "document.body.dataset.state"); state != "open" {
			t.Errorf("%s's page is %q", name, state)
		}
	}

	// A tab closed leaves the room.
	if err := d.call(ctx, tabs["bob"], "Page.close", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	gopher.expect(t, Out{Name: "bob", Event: "leave"})
}
