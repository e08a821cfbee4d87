package main

import (
	"bufio"
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mill-io/mill/codec"
)

// decodeAll decodes the chunks as mill would deliver them: each appended
// to the unconsumed input, then decoded until a frame is incomplete. It
// returns the arguments of every command and the first error.
func decodeAll(d *respCodec, chunks ...[]byte) ([][]string, error) {
	var cmds [][]string
	var buf []byte
	for _, ch := range chunks {
		buf = append(buf, ch...)
		for len(buf) > 0 {
			frame, n, err := d.Decode(buf)
			if err != nil {
				return cmds, err
			}
			if n == 0 {
				break
			}
			if n < 0 || n > len(buf) || !bytes.Equal(frame, buf[:n]) {
				return cmds, errors.New("bad frame")
			}
			args, err := d.Split(frame)
			if err != nil {
				return cmds, err
			}
			buf = buf[n:]
			if len(args) == 0 {
				continue
			}
			cmd := []string{}
			for _, a := range args {
				cmd = append(cmd, string(a))
			}
			cmds = append(cmds, cmd)
		}
	}
	return cmds, nil
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want [][]string
	}{
		{"*1\r\n$4\r\nPING\r\n", [][]string{{"PING"}}},
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", [][]string{{"SET", "k", ""}}},
		{"*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n", [][]string{{"ECHO", "a\r\nb"}}}, // binary safe
		{"*0\r\n*-1\r\nPING\r\n", [][]string{{"PING"}}},                          // ignored, as Redis does
		{"PING\r\n", [][]string{{"PING"}}},
		{"PING\n", [][]string{{"PING"}}},
		{"\r\n\n  \r\nPING\r\n", [][]string{{"PING"}}},
		{"  SET   k \t v  \r\n", [][]string{{"SET", "k", "v"}}},
		{`SET "a b" 'c d'` + "\r\n", [][]string{{"SET", "a b", "c d"}}},
		{`ECHO "a\x41\n\r\t\b\a\z\"\\"` + "\r\n", [][]string{{"ECHO", "aA\n\r\t\b\az\"\\"}}},
		{`ECHO 'it\'s' '\n'` + "\r\n", [][]string{{"ECHO", "it's", `\n`}}},
		{`ECHO "" '' a"b c"` + "\r\n", [][]string{{"ECHO", "", "", "ab c"}}},
		{`ECHO "\x4" "\xZZ"` + "\r\n", [][]string{{"ECHO", "x4", "xZZ"}}},
		{"ECHO x\vy \vz\r\n", [][]string{{"ECHO", "x\vy", "z"}}},
		{"ECHO a\x00b c\r\n", [][]string{{"ECHO", "a"}}}, // a NUL ends the line, as in Redis's C parser
		{"ECHO a\rb\r\n", [][]string{{"ECHO", "a", "b"}}},
		{"*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n",
			[][]string{{"PING"}, {"PING"}, {"ECHO", "x"}}},
	} {
		got, err := decodeAll(newRESPCodec(Limits{}), []byte(tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestDecodeSplitEverywhere feeds a stream of many commands in two
// pieces split at every byte, and one byte at a time: the commands must
// come out the same as from the whole stream in one read.
func TestDecodeSplitEverywhere(t *testing.T) {
	stream := []byte(cmd("SET", "key", "a value\r\nwith CRLF") + "PING\r\n" +
		cmd("MSET", "a", "1", "b", "") + `ECHO "q\x41 'x'" 'y z'` + "\n" + "*0\r\n" +
		cmd("ECHO", strings.Repeat("v", 300)) + "\r\n" + cmd("GET", "key"))
	want, err := decodeAll(newRESPCodec(Limits{}), stream)
	if err != nil || len(want) != 6 {
		t.Fatalf("whole stream: %q, %v", want, err)
	}
	for i := range stream {
		got, err := decodeAll(newRESPCodec(Limits{}), stream[:i], stream[i:])
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("split at %d: got %q, %v", i, got, err)
		}
	}
	var bytewise [][]byte
	for i := range stream {
		bytewise = append(bytewise, stream[i:i+1])
	}
	got, err := decodeAll(newRESPCodec(Limits{}), bytewise...)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("byte by byte: got %q, %v", got, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	small := Limits{MaxBulk: 10, MaxArgs: 3, MaxInline: 16, MaxCommand: 30}
	for _, tc := range []struct {
		in   string
		lim  Limits
		kind error
		msg  string
	}{
		{"*x\r\n", Limits{}, codec.ErrCorruptFrame, "invalid multibulk length"},
		{"*01\r\n", Limits{}, codec.ErrCorruptFrame, "invalid multibulk length"},
		{"*+1\r\n", Limits{}, codec.ErrCorruptFrame, "invalid multibulk length"},
		{"*\r\n", Limits{}, codec.ErrCorruptFrame, "invalid multibulk length"},
		{"*1\rx", Limits{}, codec.ErrCorruptFrame, "invalid multibulk length"},
		{"*3000000000\r\n", Limits{}, codec.ErrCorruptFrame, "invalid multibulk length"},
		{"*123456789012345678901", Limits{}, codec.ErrCorruptFrame, "too big mbulk count string"},
		{"*2\r\n+PING\r\n", Limits{}, codec.ErrCorruptFrame, "expected '$', got '+'"},
		{"*1\r\n$x\r\n", Limits{}, codec.ErrCorruptFrame, "invalid bulk length"},
		{"*1\r\n$-1\r\n", Limits{}, codec.ErrCorruptFrame, "invalid bulk length"},
		{"*1\r\n$04\r\nPING\r\n", Limits{}, codec.ErrCorruptFrame, "invalid bulk length"},
		{"*1\r\n$123456789012345678901", Limits{}, codec.ErrCorruptFrame, "too big bulk count string"},
		{"*1\r\n$4\r\nPINGXX", Limits{}, codec.ErrCorruptFrame, "expected CRLF after bulk string"},
		{`PING "a` + "\r\n", Limits{}, codec.ErrCorruptFrame, "unbalanced quotes in request"},
		{`PING "a"b` + "\r\n", Limits{}, codec.ErrCorruptFrame, "unbalanced quotes in request"},
		{`PING 'a'b` + "\r\n", Limits{}, codec.ErrCorruptFrame, "unbalanced quotes in request"},
		{`PING "\"` + "\r\n", Limits{}, codec.ErrCorruptFrame, "unbalanced quotes in request"},
		// Limits are checked on the header, before the payload arrives.
		{"*1\r\n$11\r\n", small, codec.ErrFrameTooLong, "invalid bulk length"},
		{"*1\r\n$600000000\r\n", Limits{}, codec.ErrFrameTooLong, "invalid bulk length"},
		{"*4\r\n", small, codec.ErrFrameTooLong, "invalid multibulk length"},
		{"*2000000\r\n", Limits{}, codec.ErrFrameTooLong, "invalid multibulk length"},
		{"*3\r\n$10\r\n0123456789\r\n$10\r\n", small, codec.ErrFrameTooLong, "command too big"},
		{strings.Repeat("x", 18), small, codec.ErrFrameTooLong, "too big inline request"},
		{strings.Repeat("x", 17) + "\n", small, codec.ErrFrameTooLong, "too big inline request"},
		{"a b c d\r\n", small, codec.ErrFrameTooLong, "too many arguments in inline request"},
	} {
		_, n, err := newRESPCodec(tc.lim).Decode([]byte(tc.in))
		var pe *protoError
		if n != 0 || !errors.Is(err, tc.kind) || !errors.As(err, &pe) || pe.msg != tc.msg {
			t.Errorf("%q: n=%d err=%v; want %v %q", tc.in, n, err, tc.kind, tc.msg)
		}
	}
}

func TestDecodeLimitsInclusive(t *testing.T) {
	lim := Limits{MaxBulk: 10, MaxArgs: 3, MaxInline: 16, MaxCommand: 64}
	for _, in := range []string{
		cmd("a", "b", "0123456789"),
		strings.Repeat("x", 16) + "\r\n",
		strings.Repeat("x", 16) + "\n",
		"a b c\r\n",
	} {
		got, err := decodeAll(newRESPCodec(lim), []byte(in))
		if err != nil || len(got) != 1 {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
	// Incomplete input under the limits waits for more bytes.
	for _, in := range []string{"*", "*1", "*1\r", "*1\r\n$", "*1\r\n$10\r", "*1\r\n$10\r\n01234", strings.Repeat("x", 17)} {
		if _, n, err := newRESPCodec(lim).Decode([]byte(in)); n != 0 || err != nil {
			t.Errorf("%q: n=%d err=%v; want incomplete", in, n, err)
		}
	}
}

func TestEncode(t *testing.T) {
	d := newRESPCodec(Limits{})
	b, _ := d.Encode([]byte("x"), []byte("hello"))
	b, _ = d.Encode(b, []byte{})
	b, _ = d.Encode(b, nil)
	if want := "x$5\r\nhello\r\n$0\r\n\r\n$-1\r\n"; string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
}

func TestParseInt(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1": 1, "-1": -1, "123": 123,
		"9223372036854775807": 9223372036854775807, "-9223372036854775808": -9223372036854775808,
	} {
		if got, ok := parseInt([]byte(in)); !ok || got != want {
			t.Errorf("parseInt(%q) = %d, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "-", "+1", "01", "-0", "00", " 1", "1 ", "1a", "9223372036854775808",
		"-9223372036854775809", "99999999999999999999", "18446744073709551616", "123456789012345678901"} {
		if got, ok := parseInt([]byte(in)); ok {
			t.Errorf("parseInt(%q) = %d, want failure", in, got)
		}
	}
}

var fuzzServer = newHandler(Config{})

// FuzzRESP checks that Decode never panics, consumes 0 <= n <= len(in),
// returns frames that are in[:n] and within the limits, that Split
// accepts every frame Decode does, that input split in two decodes the
// same as in one piece, and that running the commands gives one
// well-formed reply each.
func FuzzRESP(f *testing.F) {
	for _, s := range []string{
		"*1\r\n$4\r\nPING\r\n", "PING\r\n", cmd("SET", "k", "v", "EX", "10"),
		`SET "a\x41" 'b\'c'` + "\n", "*0\r\n", "*-1\r\n", "*2\r\n$1\r\na", "*1\r\n$-1\r\n",
		"\r\n\r\n", "*1\r\n$4\r\nPINGXX", "PING \"a\r\n",
		"SET n 1\r\nINCRBY n 5\r\nMSET a 1 b 2\r\nMGET a b n\r\nDEL a\r\nTTL b\r\n",
		"EXPIRE n 10 GT\r\nCONFIG GET s*\r\nHELLO 2 SETNAME x\r\nCOMMAND COUNT\r\nQUIT\r\nPING\r\n",
	} {
		f.Add([]byte(s), uint8(3))
	}
	lim := Limits{MaxBulk: 64, MaxArgs: 8, MaxInline: 128, MaxCommand: 256}
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		d := newRESPCodec(lim)
		off := 0
		var whole [][]string
		var wholeErr error
		for off < len(in) {
			frame, n, err := d.Decode(in[off:])
			if n < 0 || n > len(in)-off {
				t.Fatalf("n = %d of %d", n, len(in)-off)
			}
			if err != nil {
				if !errors.Is(err, codec.ErrCorruptFrame) && !errors.Is(err, codec.ErrFrameTooLong) {
					t.Fatalf("error %v wraps neither codec error", err)
				}
				wholeErr = err
				break
			}
			if n == 0 {
				break
			}
			if !bytes.Equal(frame, in[off:off+n]) || n > max(lim.MaxCommand, lim.MaxInline+2) {
				t.Fatalf("frame %q, n %d", frame, n)
			}
			args, err := d.Split(frame)
			if err != nil || len(args) > lim.MaxArgs {
				t.Fatalf("Split(%q) = %d args, %v", frame, len(args), err)
			}
			maxArg := lim.MaxBulk
			if frame[0] != '*' {
				maxArg = lim.MaxInline
			}
			for _, a := range args {
				if len(a) > maxArg {
					t.Fatalf("argument of %d bytes", len(a))
				}
			}
			off += n
			if len(args) > 0 {
				cmd := []string{}
				for _, a := range args {
					cmd = append(cmd, string(a))
				}
				whole = append(whole, cmd)
			}
		}
		// Run the commands: no panic, and one well-formed reply each
		// (an error reply for a protocol error).
		if fuzzServer.db.size() > 1000 {
			fuzzServer.db.flush()
		}
		_, out, st := fuzzServer.process(&client{codec: newRESPCodec(lim)}, in, nil)
		replies := 0
		br := bytes.NewReader(out)
		for r := bufio.NewReader(br); r.Buffered() > 0 || br.Len() > 0; replies++ {
			if _, err := readReply(r); err != nil {
				t.Fatalf("malformed replies %q: %v", out, err)
			}
		}
		if st == drained && (replies != len(whole) || wholeErr != nil) {
			t.Fatalf("%d replies to %d commands (%v)", replies, len(whole), wholeErr)
		}

		c := min(int(cut), len(in))
		got, err := decodeAll(newRESPCodec(lim), in[:c], in[c:])
		if !reflect.DeepEqual(got, whole) || (err == nil) != (wholeErr == nil) {
			t.Fatalf("split at %d: %q, %v; whole: %q, %v", c, got, err, whole, wholeErr)
		}
	})
}

// TestDecodeAllocs checks that decoding and splitting allocate nothing
// once the per-connection scratch space has grown, quoted inline
// arguments included.
func TestDecodeAllocs(t *testing.T) {
	in := []byte(cmd("SET", "key", "value") + `SET "a\x41 b" 'c\'d' e` + "\r\n" + "GET key\r\n")
	d := newRESPCodec(Limits{})
	run := func() {
		for rest := in; len(rest) > 0; {
			frame, n, err := d.Decode(rest)
			if err != nil || n == 0 {
				t.Fatalf("Decode: %d, %v", n, err)
			}
			if _, err := d.Split(frame); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
	}
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
		t.Errorf("%.1f allocations per run, want 0", allocs)
	}
}
