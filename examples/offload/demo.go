package main

import (
	"bufio"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// demoResult is what runDemo measured.
type demoResult struct {
	work          int             // work requests answered
	inOrder       bool            // every worker connection's replies came in request order
	pings         []time.Duration // round trips of pings sent meanwhile
	pingP50, pP99 time.Duration
}

func (r demoResult) String() string {
	return fmt.Sprintf("%d work replies (in order: %v); %d pings during the work: p50 %v, p99 %v",
		r.work, r.inOrder, len(r.pings), r.pingP50.Round(time.Microsecond), r.pP99.Round(time.Microsecond))
}

// runDemo opens workers connections that each send perConn work requests
// at once, and one more connection that pings in a loop while the work is
// in flight, for at most limit.
func runDemo(addr string, workers, perConn int, limit time.Duration) (demoResult, error) {
	var res demoResult
	res.inOrder = true
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	deadline := time.Now().Add(limit + 30*time.Second) // inline mode serialises all the work
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(deadline)
			var req []byte
			for i := 0; i < perConn; i++ {
				req = fmt.Appendf(req, "work %d\n", w*perConn+i)
			}
			if _, err := c.Write(req); err != nil {
				errs <- err
				return
			}
			r := bufio.NewReader(c)
			for i := 0; i < perConn; i++ {
				line, err := r.ReadString('\n')
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				res.work++
				if line != "done "+strconv.Itoa(w*perConn+i)+"\n" {
					res.inOrder = false
				}
				mu.Unlock()
			}
		}(w)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	c, err := net.Dial("tcp", addr)
	if err != nil {
		return res, err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	r := bufio.NewReader(c)
	stop := time.After(limit)
pinging:
	for {
		select {
		case <-done:
			break pinging
		case <-stop:
			break pinging
		default:
		}
		start := time.Now()
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return res, err
		}
		if line, err := r.ReadString('\n'); err != nil || line != "pong\n" {
			return res, fmt.Errorf("ping: %q %v", line, err)
		}
		res.pings = append(res.pings, time.Since(start))
	}
	<-done
	close(errs)
	for err := range errs {
		return res, err
	}
	if len(res.pings) > 0 {
		slices.Sort(res.pings)
		res.pingP50 = res.pings[len(res.pings)/2]
		res.pP99 = res.pings[len(res.pings)*99/100]
	}
	return res, nil
}
