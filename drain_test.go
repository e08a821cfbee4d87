//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bufio"
	"bytes"
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
// in order — and every callback runs once: with nil, with ErrServerClosed
// for writes refused once the drain began, or with ErrClosed for writes
// that met a closed connection. The writers go on through the shutdown,
// each with a bounded number of writes awaiting their callbacks, as a
// producer that paces itself does: what the drain must deliver is what
// was accepted before it began, which a loaded machine can still send
// within the grace.
func TestShutdownDrainDeliversExactlyTheAckedBytes(t *testing.T) {
	t.Parallel()
	conns, perConn := 1000, 1000
	if raceEnabled || testing.Short() {
		conns, perConn = 200, 200
	}
	const writers, msgSize = 8, 16
	fds := newServerFDs(t)
	h := &funcHandler{conns: make(chan Conn, conns), open: func(c Conn) ([]byte, Action) {
		fds.add(c.Fd())
		return nil, None
	}}
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
			br := bufio.NewReaderSize(c, 4<<10)
			buf := make([]byte, msgSize)
			for {
				if _, err := io.ReadFull(br, buf); err != nil {
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
	var calls, nils, refused, closed atomic.Int64
	var wg sync.WaitGroup
	started := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			awaiting := make(chan struct{}, 1024) // writes whose callbacks have not run
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
					awaiting <- struct{}{}
					c.AsyncWrite(msg, func(_ Conn, err error) {
						calls.Add(1)
						switch {
						case err == nil:
							nils.Add(1)
							slot.Store(true)
						case errors.Is(err, ErrServerClosed):
							refused.Add(1)
						case errors.Is(err, ErrClosed):
							closed.Add(1)
						default:
							t.Errorf("AsyncWrite callback: %v", err)
						}
						<-awaiting
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
	took := time.Since(begin)
	if took > 6*time.Second {
		t.Fatalf("Shutdown took %v with a 5 s grace", took)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatal(err)
	}
	wg.Wait() // every callback ran: each writer got all its slots back
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
	t.Logf("%d connections: %d of %d writes acknowledged and delivered before the shutdown closed them, %d refused by the drain, %d met a closed connection; Shutdown took %v",
		conns, nils.Load(), calls.Load(), refused.Load(), closed.Load(), took)
	waitFor(t, "the connections' descriptors closed", func() bool { return len(fds.open()) == 0 })
}

func TestShutdownDrainWaitsForTasksAndQueuedOutput(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	h := &funcHandler{closeErrs: make(chan error, 4)}
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
	s, err := NewServer(h, "tcp://127.0.0.1:0", WithLoops(1), WithLogger(zap.NewNop()))
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
	if err := <-h.closeErrs; !errors.Is(err, ErrServerClosed) {
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
	t.Parallel()
	h := answer(make([]byte, 8<<20))
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
	if err := <-h.closeErrs; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("OnClose: %v", err)
	}
}

// drainTask answers "task" from a worker-pool task that waits for the
// test, and reports the answer's callback.
type drainTask struct {
	funcHandler
	answer   []byte
	running  chan struct{}
	release  chan struct{}
	answered chan error
}

func (h *drainTask) OnTraffic(c Conn) Action {
	if b, _ := c.Next(-1); string(b) != "task" {
		return None
	}
	if err := c.Submit(func() {
		h.running <- struct{}{}
		<-h.release
		c.AsyncWrite(h.answer, func(_ Conn, err error) { h.answered <- err })
	}); err != nil {
		panic(err)
	}
	return None
}

// TestShutdownNotHeldUpByProducers: producers that never stop writing to
// their connections do not hold a graceful shutdown up: once the drain
// begins their new writes are refused (ErrServerClosed, through the
// callback), their connections close as soon as what was accepted has
// gone, and Shutdown returns well within its 5 s. A worker-pool task that
// was running when the drain began still gets its answer out, and the
// drain waits for it.
func TestShutdownNotHeldUpByProducers(t *testing.T) {
	const producers, window, msgSize = 4, 64, 16 << 10
	h := &drainTask{funcHandler: funcHandler{conns: make(chan Conn, producers+1)},
		answer: pattern(256 << 10), running: make(chan struct{}), release: make(chan struct{}),
		answered: make(chan error, 1)}
	s := serve(t, h, "", WithLoops(2), WithSocketSendBuffer(16<<10))
	t.Cleanup(func() {
		select {
		case <-h.release:
		default:
			close(h.release) // a failed test leaves no task waiting
		}
	})
	worker := dial(t, s)
	<-h.conns
	worker.Write([]byte("task"))
	recv(t, h.running, "the task to run")
	// Producers, each with a client that does not read yet: each has its
	// window of writes outstanding, most of it queued.
	clients := make([]net.Conn, producers)
	for i := range clients {
		// (Shrinking the client's receive buffer after the handshake
		// would stall the transfer on retransmission timeouts.)
		clients[i] = dial(t, s)
	}
	stop := make(chan struct{})
	var acked, refused, closed atomic.Int64
	var wg sync.WaitGroup
	msg := make([]byte, msgSize)
	for i := 0; i < producers; i++ {
		sc := <-h.conns
		wg.Go(func() {
			awaiting := make(chan struct{}, window)
			defer func() { // every callback runs, once
				for i := 0; i < window; i++ {
					awaiting <- struct{}{}
				}
			}()
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				select {
				case <-stop:
					return
				case awaiting <- struct{}{}:
				}
				sc.AsyncWrite(msg, func(_ Conn, err error) {
					switch {
					case err == nil:
						acked.Add(1)
					case errors.Is(err, ErrServerClosed):
						refused.Add(1)
					case errors.Is(err, ErrClosed):
						closed.Add(1)
					default:
						t.Errorf("AsyncWrite callback: %v", err)
					}
					<-awaiting
				})
				if refused.Load()+closed.Load() > 0 {
					time.Sleep(100 * time.Microsecond) // it never stops, but need not spin
				}
			}
			t.Error("a producer ran for 20 s")
		})
	}
	waitFor(t, "the producers' output to queue up", func() bool {
		return s.Stats().Total.OutboundPending > producers*window*msgSize/2
	})
	shut := make(chan error, 1)
	begin := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	waitFor(t, "the drain to begin", s.eng.draining.Load)
	// Each client reads a little: callbacks run, the producers write
	// again, and are refused, their connections still having output
	// queued.
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 4*msgSize)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the producers to be refused", func() bool { return refused.Load() > 0 })
	// Then they read everything; the task holds the drain open until it
	// answers.
	var readers sync.WaitGroup
	for _, c := range clients {
		readers.Go(func() {
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Errorf("producer's client: %v", err)
			}
		})
	}
	readers.Wait()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a task was still running", err)
	default:
	}
	close(h.release)
	worker.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(worker)
	if err != nil || !bytes.Equal(got, h.answer) {
		t.Fatalf("the task's answer: read %d of %d bytes, then %v", len(got), len(h.answer), err)
	}
	if err := <-h.answered; err != nil {
		t.Fatalf("the task's AsyncWrite callback: %v", err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	took := time.Since(begin)
	close(stop)
	wg.Wait()
	t.Logf("Shutdown took %v; %d writes acknowledged, %d refused by the drain, %d met a closed connection",
		took, acked.Load(), refused.Load(), closed.Load())
	if took > 2500*time.Millisecond {
		t.Fatalf("Shutdown took %v with producers still writing", took)
	}
}
