//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/mill-io/mill/workerpool"
)

// TestNewServerNamesTheBadOption: every option NewServer can reject
// fails it with an error that names the option, and none panics.
func TestNewServerNamesTheBadOption(t *testing.T) {
	const neg = -time.Second
	for _, tc := range []struct {
		name string // what the error must name
		opt  Option
	}{
		{"WithIdleTimeout", WithIdleTimeout(neg)},
		{"WithReadTimeout", WithReadTimeout(neg)},
		{"WithWriteTimeout", WithWriteTimeout(neg)},
		{"WithTCPKeepAlive", WithTCPKeepAlive(neg)},
		{"WithBusyPoll", WithBusyPoll(neg)},
		{"WithDialTimeout", WithDialTimeout(neg)},
		{"WithLingerTimeout", WithLingerTimeout(neg)},
		{"WithCPUAffinity", WithCPUAffinity(100000)},
		{"WithCPUAffinity", WithCPUAffinity(-1)},
		{"WithWorkerPool", WithWorkerPool(workerpool.Config{Size: -1})},
		{"WithWorkerPool", WithWorkerPool(workerpool.Config{Capacity: -1})},
		{"WithWriteWatermarks", WithWriteWatermarks(10, 5)},
		{"WithWriteWatermarks", WithWriteWatermarks(-1, 5)},
		{"WithOutboundLimit", WithOutboundLimit(DefaultHighWatermark-1, FailWrite)},
		{"WithOutboundLimit", WithOutboundLimit(DefaultOutboundLimit, OverflowPolicy(42))},
		{"WithTotalOutboundLimit", WithTotalOutboundLimit(DefaultHighWatermark - 1)},
		{"WithTotalOutboundLimit", WithTotalOutboundLimit(-1)},
		{"WithInboundLimit", WithInboundLimit(0)},
		{"WithMaxConns", WithMaxConns(-1)},
		{"WithLoops", WithLoops(-1)},
		{"WithLoops", WithLoops(5000)},
		{"WithReadBufferCap", WithReadBufferCap(0)},
		{"WithWriteBufferMin", WithWriteBufferCap(-5)},
		{"WithSocketRecvBuffer", WithSocketRecvBuffer(-1)},
		{"WithSocketSendBuffer", WithSocketSendBuffer(-1)},
	} {
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("%s: NewServer panicked: %v", tc.name, v)
				}
			}()
			s, err := NewServer(&echoHandler{}, "tcp://127.0.0.1:0", tc.opt, WithLogger(zap.NewNop()))
			switch {
			case err == nil:
				t.Errorf("%s: NewServer accepted a bad value", tc.name)
				s.Shutdown(context.Background())
			case !strings.Contains(err.Error(), tc.name):
				t.Errorf("%s: error %q does not name the option", tc.name, err)
			default:
				t.Logf("%v", err)
			}
		}()
	}
	if _, err := NewServer(nil, "tcp://127.0.0.1:0"); err == nil {
		t.Error("NewServer accepted a nil handler")
	}
}
