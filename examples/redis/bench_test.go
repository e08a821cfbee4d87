package main

import (
	"fmt"
	"testing"
)

// benchBatch is 16 pipelined commands, as redis-benchmark -P 16 sends.
func benchBatch(command string) []byte {
	var in []byte
	for i := range 16 {
		key := fmt.Sprintf("key:%06d", i)
		switch command {
		case "SET":
			in = append(in, cmd("SET", key, "xxx")...)
		case "GET":
			in = append(in, cmd("GET", key)...)
		case "INCR":
			in = append(in, cmd("INCR", "counter")...)
		case "PING":
			in = append(in, "PING\r\n"...)
		case "MIX":
			in = append(in, cmd("SET", key, "xxx")...)
			in = append(in, cmd("GET", key)...)
		}
	}
	return in
}

// BenchmarkCommands measures the command path without sockets: decoding
// a pipelined batch, running it against the store and encoding the
// replies, as OnTraffic does for one read.
func BenchmarkCommands(b *testing.B) {
	for _, command := range []string{"PING", "SET", "GET", "INCR", "MIX"} {
		b.Run(command, func(b *testing.B) {
			s := newHandler(Config{})
			cl := &client{codec: newRESPCodec(Limits{}), id: 1}
			s.process(cl, benchBatch("SET"), nil) // the keys exist: SET overwrites
			in := benchBatch(command)
			out := make([]byte, 0, 16<<10)
			cmds := float64(bytesCount(in))
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				n, o, st := s.process(cl, in, out[:0])
				if n != len(in) || st != drained || len(o) == 0 {
					b.Fatalf("process: n=%d st=%d", n, st)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/cmds, "ns/cmd")
		})
	}
}

// bytesCount counts the commands in a batch.
func bytesCount(in []byte) int {
	d := newRESPCodec(Limits{})
	n := 0
	for len(in) > 0 {
		_, k, _ := d.Decode(in)
		if k == 0 {
			break
		}
		in = in[k:]
		n++
	}
	return n
}

// TestCommandPathAllocs pins the hot path to zero allocations: GET, SET
// on an existing key, INCR and PING, pipelined.
func TestCommandPathAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts need a normal build")
	}
	s := newHandler(Config{})
	cl := &client{codec: newRESPCodec(Limits{}), id: 1}
	s.process(cl, benchBatch("SET"), nil)
	out := make([]byte, 0, 16<<10)
	for _, command := range []string{"PING", "SET", "GET", "INCR", "MIX"} {
		in := benchBatch(command)
		if allocs := testing.AllocsPerRun(100, func() { s.process(cl, in, out[:0]) }); allocs != 0 {
			t.Errorf("%s: %.1f allocations per batch, want 0", command, allocs)
		}
	}
}
