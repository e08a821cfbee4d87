package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill"
	"github.com/mill-io/mill/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func TestStatsEndpoint(t *testing.T) {
	s, err := mill.NewServer(echo{}, "tcp://127.0.0.1:0", mill.WithLoops(2), mill.WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Shutdown(context.Background())
	web := httptest.NewServer(metricsMux(s))
	defer web.Close()

	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("hello"))
		if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			c.Close()
		} else {
			defer c.Close()
		}
	}
	var st mill.Stats
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := web.Client().Get(web.URL + "/stats")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.Total.Closed.Clean == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	tot := st.Total
	if len(st.Loops) != 2 || tot.Accepted != 3 || tot.Open != 1 || tot.Closed.Clean != 2 ||
		tot.BytesIn != 15 || tot.BytesOut != 15 {
		t.Fatalf("stats: %+v", st)
	}
	resp, err := web.Client().Get(web.URL + "/debug/vars")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/debug/vars: %v %v", resp, err)
	}
	resp.Body.Close()
}
