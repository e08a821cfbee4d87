//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestShutdownDrainDeliversExactlyTheAckedBytes: connections receive
// sequenced asynchronous writes from 8 goroutines; Shutdown happens in the
// middle with a 5 s grace. Each client must receive exactly the messages
// whose callbacks said nil — none missing, none duplicated, each writer's
// in order — and every callback runs once.
func TestShutdownDrainDeliversExactlyTheAckedBytes(t *testing.T) {
	conns, perConn := 1000, 1000
	if raceEnabled || testing.Short() {
		conns, perConn = 200, 200
	}
	const writers, msgSize = 8, 16
	fds := openFDs(t)
	h := &asyncHandler{conns: make(chan Conn, conns)}
	s, err := NewServer(h, "tcp://127.0.0.1:0", WithLoops(2), WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()

	type result struct {
		msgs  map[uint64]bool // writer<<32|seq
		bytes int
		err   error
	}
	results := make([]chan result, conns)
	clientOf := map[int]int{} // client port -> client index
	for i := range results {
		results[i] = make(chan result, 1)
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clientOf[c.LocalAddr().(*net.TCPAddr).Port] = i
		go func(i int, c net.Conn) {
			defer c.Close()
			r := result{msgs: map[uint64]bool{}}
			last := make([]int64, writers)
			for w := range last {
				last[w] = -1
			}
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			buf := make([]byte, msgSize)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					if err != io.EOF {
						r.err = err
					}
					break
				}
				r.bytes += msgSize
				w, seq := binary.BigEndian.Uint32(buf[4:]), int64(binary.BigEndian.Uint64(buf[8:]))
				if int(binary.BigEndian.Uint32(buf)) != i || int(w) >= writers || seq != last[w]+1 {
					r.err = fmt.Errorf("conn %d: bad message conn=%d writer %d seq %d after %d",
						i, binary.BigEndian.Uint32(buf), w, seq, last[w])
					break
				}
				last[w] = seq
				r.msgs[uint64(w)<<32|uint64(seq)] = true
			}
			results[i] <- r
		}(i, c)
	}
	// byClient[i] is the server's handle for client i.
	byClient := make([]Conn, conns)
	for range byClient {
		c := <-h.conns
		byClient[clientOf[c.RemoteAddr().(*net.TCPAddr).Port]] = c
	}

	acked := make([][]atomic.Bool, conns)
	for i := range acked {
		acked[i] = make([]atomic.Bool, writers*perConn)
	}
	var calls, nils atomic.Int64
	var wg sync.WaitGroup
	started := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for seq := 0; seq < perConn/writers; seq++ {
				if w == 0 && seq == perConn/writers/2 {
					close(started)
				}
				for i, c := range byClient {
					msg := make([]byte, msgSize)
					binary.BigEndian.PutUint32(msg, uint32(i))
					binary.BigEndian.PutUint32(msg[4:], uint32(w))
					binary.BigEndian.PutUint64(msg[8:], uint64(seq))
					slot := &acked[i][w*perConn+seq]
					c.AsyncWrite(msg, func(_ Conn, err error) {
						calls.Add(1)
						if err == nil {
							nils.Add(1)
							slot.Store(true)
						}
					})
				}
			}
		}(w)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	begin := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if el := time.Since(begin); el > 6*time.Second {
		t.Fatalf("Shutdown took %v with a 5 s grace", el)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatal(err)
	}
	wg.Wait()
	if got, want := calls.Load(), int64(conns*writers*(perConn/writers)); got != want {
		t.Fatalf("%d callbacks for %d writes", got, want)
	}
	var received int
	for i := range results {
		r := <-results[i]
		if r.err != nil {
			t.Fatal(r.err)
		}
		for w := 0; w < writers; w++ {
			for seq := 0; seq < perConn/writers; seq++ {
				if acked[i][w*perConn+seq].Load() != r.msgs[uint64(w)<<32|uint64(seq)] {
					t.Fatalf("conn %d writer %d seq %d: acked %v, received %v", i, w, seq,
						acked[i][w*perConn+seq].Load(), r.msgs[uint64(w)<<32|uint64(seq)])
				}
			}
		}
		received += r.bytes
	}
	if int64(received) != nils.Load()*msgSize {
		t.Fatalf("clients received %d bytes, %d acknowledged", received, nils.Load()*msgSize)
	}
	t.Logf("%d connections: %d of %d writes acknowledged and delivered before the shutdown closed them",
		conns, nils.Load(), calls.Load())
	waitFor(t, "descriptors back to baseline", func() bool { return openFDs(t) == fds })
}

func TestShutdownDrainWaitsForTasksAndQueuedOutput(t *testing.T) {
	release := make(chan struct{})
	closes := make(chan error, 4)
	h := &funcHandler{}
	h.traffic = func(c Conn) Action {
		b, _ := c.Next(-1)
		if string(b) == "slow" {
			c.Submit(func() {
				<-release
				c.AsyncWrite([]byte("late answer"), nil)
			})
		}
		return None
	}
	hc := &closeRecorder{funcHandler: h, errs: closes}
	s, err := NewServer(hc, "tcp://127.0.0.1:0", WithLoops(1), WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	idle, busy := dial(t, s), dial(t, s)
	busy.Write([]byte("slow"))
	waitFor(t, "task running", func() bool {
		wp, _ := s.eng.workers()
		return wp.Stats().Running == 1
	})
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	// The idle connection closes at once; the busy one waits for its task.
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	if err := <-closes; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("OnClose: %v", err)
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(busy)
	if err != nil || string(got) != "late answer" {
		t.Fatalf("busy connection read %q, %v; want the task's answer, then EOF", got, err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatal(err)
	}
}

func TestShutdownDrainGivesUpAtTheDeadline(t *testing.T) {
	h := &bigReplyTimeout{errs: make(chan error, 1)}
	s, err := NewServer(h, "tcp://127.0.0.1:0", WithLoops(1), WithSocketSendBuffer(16<<10),
		WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	c := dial(t, s).(*net.TCPConn)
	c.SetReadBuffer(16 << 10)
	c.Write([]byte("go")) // 8 MiB queued for a peer that never reads
	waitFor(t, "output queued", func() bool { return s.Stats().Total.OutboundPending > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	s.Shutdown(ctx)
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatal(err)
	}
	if el := time.Since(begin); el > 5*time.Second {
		t.Fatalf("shutdown took %v past a 200 ms deadline", el)
	}
	if err := <-h.errs; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("OnClose: %v", err)
	}
}
