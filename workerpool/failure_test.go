package workerpool

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestPanicRecovery(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	infos := make(chan PanicInfo, 2)
	p := newPool(t, Config{
		Size:         2,
		Logger:       zap.New(core),
		PanicHandler: func(pi PanicInfo) { infos <- pi },
	})
	var ran atomic.Int32
	done := make(chan struct{})
	for _, err := range []error{
		p.SubmitKeyed(7, func() { panic("keyed boom") }),
		p.SubmitKeyed(7, func() { ran.Add(1) }),
		p.Submit(func() { panic(errors.New("unkeyed boom")) }),
		p.SubmitKeyed(7, func() { ran.Add(1); close(done) }),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	wait(t, done, "tasks after the panics")
	if ran.Load() != 2 {
		t.Errorf("%d tasks of key 7 ran after its panic, want 2", ran.Load())
	}
	for range 2 {
		pi := <-infos
		switch {
		case pi.Keyed && pi.Key == 7 && pi.Value == "keyed boom":
		case !pi.Keyed && pi.Key == 0 && strings.Contains(pi.Value.(error).Error(), "unkeyed boom"):
		default:
			t.Errorf("unexpected PanicInfo %+v", pi)
		}
		if !strings.Contains(string(pi.Stack), "TestPanicRecovery") {
			t.Errorf("PanicInfo stack lacks the panicking function:\n%s", pi.Stack)
		}
	}
	parallel(t, p) // both workers survived
	entries := logs.FilterMessage("workerpool: task panicked").AllUntimed()
	if len(entries) != 2 {
		t.Fatalf("%d panic log entries, want 2: %v", len(entries), logs.AllUntimed())
	}
	keyed := 0
	for _, e := range entries {
		ctx := e.ContextMap()
		if st, _ := ctx["stack"].(string); !strings.Contains(st, "TestPanicRecovery") || !strings.Contains(st, "panic(") {
			t.Errorf("log entry without the panic's stack: %v", ctx)
		}
		if ctx["panic"] == nil {
			t.Errorf("log entry without the panic value: %v", ctx)
		}
		if ctx["key"] == uint64(7) {
			keyed++
		}
	}
	if keyed != 1 {
		t.Errorf("%d entries with key 7, want 1", keyed)
	}
	release(t, p)
	if s := p.Stats(); s.Failed != 2 || s.Completed != 4 {
		t.Errorf("stats %+v, want 2 failed and 4 completed", s)
	}
}

func TestGoexitAndPanickingHandler(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	var told atomic.Value
	p := newPool(t, Config{
		Size:   1,
		Logger: zap.New(core),
		PanicHandler: func(pi PanicInfo) {
			told.Store(pi.Value)
			panic("handler boom")
		},
	})
	done := make(chan struct{})
	if err := p.SubmitKeyed(1, func() { runtime.Goexit() }); err != nil {
		t.Fatal(err)
	}
	if err := p.SubmitKeyed(1, func() { close(done) }); err != nil {
		t.Fatal(err)
	}
	wait(t, done, "task after Goexit")
	release(t, p)
	if v := told.Load(); v != ErrGoexit {
		t.Errorf("handler told %v, want ErrGoexit", v)
	}
	if n := logs.FilterMessage("workerpool: PanicHandler panicked").Len(); n != 1 {
		t.Errorf("%d handler panic entries, want 1", n)
	}
	if s := p.Stats(); s.Failed != 1 || s.Completed != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestReleaseDeadline(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p := newPool(t, Config{Size: 1})
	g := newGate()
	if err := p.SubmitKeyed(1, g.task); err != nil {
		t.Fatal(err)
	}
	wait(t, g.started, "blocker")
	for _, err := range []error{
		p.SubmitKeyed(1, func() { t.Error("dropped keyed task ran") }),
		p.Submit(func() { t.Error("dropped task ran") }),
		p.SubmitKeyed(2, func() { t.Error("dropped task of a waiting key ran") }),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Release(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Release with a blocked task = %v, want DeadlineExceeded", err)
	}
	if err := p.Submit(func() {}); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Submit after Release = %v", err)
	}
	if s := p.Stats(); s.Running != 1 || s.Waiting != 0 || s.Dropped != 3 {
		t.Errorf("stats after timed-out Release: %+v", s)
	}
	close(g.open)
	release(t, p)
	if err := p.Release(context.Background()); err != nil {
		t.Errorf("third Release: %v", err)
	}
	if s := p.Stats(); s.Completed != 1 || s.Submitted != 4 {
		t.Errorf("stats %+v", s)
	}
}

func TestReleaseIdle(t *testing.T) {
	p := newPool(t, Config{})
	release(t, p)
	if err := p.SubmitKeyed(1, func() {}); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("SubmitKeyed after Release = %v", err)
	}
	if s := p.Stats(); s != (Stats{}) {
		t.Errorf("stats %+v", s)
	}
}
