package bufferpool_test

import (
	"fmt"

	"github.com/mill-io/mill/bufferpool"
)

func ExamplePool() {
	var pool bufferpool.Pool // shared by every connection

	buf := pool.Get(1500) // len 1500, cap 2048
	n := copy(buf, "datagram")
	fmt.Println(string(buf[:n]), len(buf), cap(buf), pool.Outstanding())

	pool.Put(buf) // buf must not be used any more
	fmt.Println(pool.Outstanding())
	// Output:
	// datagram 1500 2048 1
	// 0
}

func ExampleRing() {
	var pool bufferpool.Pool

	// A per-connection input buffer, embedded by value.
	type conn struct {
		in bufferpool.Ring
	}
	var c conn
	c.in.Init(&pool, 4096)

	// Bytes arrive in pieces; frames are length-prefixed with one byte.
	c.in.Write([]byte{5, 'h', 'e'})
	c.in.Write([]byte{'l', 'l', 'o', 3, 'a'})
	c.in.Write([]byte{'b', 'c'})

	for c.in.Len() > 0 {
		hdr := c.in.Contiguous(1)
		size := int(hdr[0])
		if c.in.Len() < 1+size {
			break // wait for more bytes
		}
		frame := c.in.Contiguous(1 + size)[1:]
		fmt.Printf("frame %q\n", frame) // frame is valid until the next mutating call
		c.in.Discard(1 + size)
	}

	// The connection closes: give the storage back.
	c.in.Release()
	fmt.Println(c.in.Cap(), pool.Outstanding())
	// Output:
	// frame "hello"
	// frame "abc"
	// 0 0
}
