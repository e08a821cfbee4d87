//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mill-io/mill/codec"
)

var lines = codec.Shared(codec.Must(codec.NewLine(codec.LineConfig{MaxLength: 100})))

// upperLines answers every line in upper case; "len" switches the
// connection to 4-byte length-prefixed frames.
type upperLines struct {
	echoHandler
	errs chan error
}

func (h *upperLines) OnTraffic(c Conn) Action {
	for {
		f, err := c.ReadFrame()
		if err != nil {
			c.Write([]byte("ERR " + err.Error() + "\n")) // still allowed
			return None                                  // the connection closes with err
		}
		if f == nil {
			return None
		}
		if string(f) == "len" {
			c.SetCodec(codec.Must(codec.NewLengthField(codec.LengthFieldConfig{InitialBytesToStrip: 4})))
			continue
		}
		if err := c.WriteFrame(bytes.ToUpper(f)); err != nil {
			h.errs <- err
		}
	}
}

func (h *upperLines) OnClose(c Conn, err error) Action {
	h.errs <- err
	return None
}

func TestCodecLinesSplitAndBatched(t *testing.T) {
	t.Parallel()
	h := &upperLines{errs: make(chan error, 10)}
	s := serve(t, h, "", WithCodec(lines), WithLoops(1))
	c := dial(t, s)
	var in, want strings.Builder
	for i := 0; i < 40; i++ {
		line := strings.Repeat(string(rune('a'+i%26)), i)
		in.WriteString(line)
		if i%2 == 0 {
			in.WriteString("\r\n")
		} else {
			in.WriteString("\n")
		}
		want.WriteString(strings.ToUpper(line) + "\n")
	}
	stream := []byte(in.String())
	for i := range stream { // every split point
		c.Write(stream[i : i+1])
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	expectRead(t, c, []byte(want.String()))
	c.Write(stream) // many frames per read
	expectRead(t, c, []byte(want.String()))
}

func TestCodecErrorClosesOnlyThatConnection(t *testing.T) {
	t.Parallel()
	h := &upperLines{errs: make(chan error, 10)}
	s := serve(t, h, "", WithCodec(lines), WithLoops(1))
	good, bad := dial(t, s), dial(t, s)
	good.Write([]byte("first\n"))
	expectRead(t, good, []byte("FIRST\n"))
	bad.Write(bytes.Repeat([]byte("x"), 4096)) // no newline, far past the limit
	if err := recv(t, h.errs, "the over-long line's close"); !errors.Is(err, codec.ErrFrameTooLong) {
		t.Fatalf("OnClose err = %v, want ErrFrameTooLong", err)
	}
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply, err := io.ReadAll(bad)
	if err != nil || !strings.HasPrefix(string(reply), "ERR codec: frame too long") {
		t.Fatalf("bad client read %q, %v; want the error reply, then EOF", reply, err)
	}
	good.Write([]byte("still here\n"))
	expectRead(t, good, []byte("STILL HERE\n"))
	waitFor(t, "one connection", func() bool { return s.CountConnections() == 1 })
}

func TestSetCodecSwitchesMidStream(t *testing.T) {
	t.Parallel()
	h := &upperLines{errs: make(chan error, 10)}
	s := serve(t, h, "", WithCodec(lines), WithLoops(1))
	c := dial(t, s)
	// The switch line and the first length-prefixed frames arrive in one
	// write: what follows "len\n" must be decoded by the new codec.
	var msg []byte
	msg = append(msg, "hi\nlen\n"...)
	for _, p := range []string{"abc", "", "de\nf"} {
		msg = binary.BigEndian.AppendUint32(msg, uint32(len(p)))
		msg = append(msg, p...)
	}
	c.Write(msg)
	var want []byte
	want = append(want, "HI\n"...)
	for _, p := range []string{"ABC", "", "DE\nF"} {
		want = binary.BigEndian.AppendUint32(want, uint32(len(p)))
		want = append(want, p...)
	}
	expectRead(t, c, want)
}

func TestAsyncWriteFrame(t *testing.T) {
	t.Parallel()
	h := &funcHandler{conns: make(chan Conn, 1)}
	s := serve(t, h, "", WithCodec(lines))
	c := dial(t, s)
	sc := <-h.conns
	done := make(chan error, 3)
	for _, m := range []string{"one", "two", "three"} {
		sc.AsyncWriteFrame([]byte(m), func(_ Conn, err error) { done <- err })
	}
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []string{"one\n", "two\n", "three\n"} {
		if got, err := r.ReadString('\n'); got != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	for i := 0; i < 3; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// Encoding errors reach the callback: a line may not contain '\n'.
	sc.AsyncWriteFrame([]byte("a\nb"), func(_ Conn, err error) { done <- err })
	if err := <-done; err == nil {
		t.Fatal("encoding a line with a newline succeeded")
	}
}

func TestFrameMethodsWithoutCodec(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 2)
	h := &funcHandler{traffic: func(c Conn) Action {
		_, err := c.ReadFrame()
		errs <- err
		errs <- c.WriteFrame([]byte("x"))
		return Close
	}}
	s := serve(t, h, "")
	c := dial(t, s)
	c.Write([]byte("x"))
	for i := 0; i < 2; i++ {
		if err := <-errs; !errors.Is(err, ErrNoCodec) {
			t.Fatalf("err = %v, want ErrNoCodec", err)
		}
	}
}
