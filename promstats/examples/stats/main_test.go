package main

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/mill-io/mill"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

// TestMetricsEndpoint: after an echo round trip, /metrics has mill's
// counters (loop lag included) and the Go runtime's, and /stats the JSON.
func TestMetricsEndpoint(t *testing.T) {
	s, err := mill.NewServer(echo{}, "tcp://127.0.0.1:0", mill.WithLoops(2),
		mill.WithLoopMetrics(5*time.Millisecond), mill.WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Shutdown(context.Background())
	web := httptest.NewServer(metricsMux(s))
	defer web.Close()

	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("hello"))
	if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
		t.Fatal(err)
	}
	c.Close()

	get := func(path string) string {
		resp, err := web.Client().Get(web.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		return string(b)
	}
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		body = get("/metrics")
		if strings.Contains(body, `mill_connections_closed_total{cause="clean"} 1`) &&
			strings.Contains(body, "mill_loop_lag_seconds_count") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, want := range []string{
		"mill_loops 2\n", "mill_connections_accepted_total 1\n",
		`mill_connections_closed_total{cause="clean"} 1` + "\n",
		"mill_received_bytes_total 5\n", "mill_sent_bytes_total 5\n",
		"# TYPE mill_loop_busy_seconds_total counter\n", "# TYPE mill_loop_lag_seconds histogram\n",
		"# TYPE go_goroutines gauge\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if js := get("/stats"); !strings.Contains(js, `"BytesIn": 5`) {
		t.Errorf("/stats: %s", js)
	}
}
