package workerpool_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mill-io/mill/workerpool"
)

// Tasks for one connection share a key, so its replies keep their order,
// while other connections' tasks run alongside.
func Example() {
	pool, err := workerpool.New(workerpool.Config{Size: 8})
	if err != nil {
		panic(err)
	}

	const connID = 42
	var replies []string // touched only by connID's tasks, one at a time
	for i := range 3 {
		err := pool.SubmitKeyed(connID, func() {
			time.Sleep(time.Millisecond) // stands for a blocking call
			replies = append(replies, fmt.Sprint("reply ", i))
		})
		if errors.Is(err, workerpool.ErrPoolOverload) {
			// Shed load: answer "busy" instead of queueing without bound.
			continue
		}
	}

	// Accepted tasks run; new ones are refused.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := pool.Release(ctx); err != nil {
		panic(err)
	}
	fmt.Println(replies)
	fmt.Println(pool.Submit(func() {}))
	s := pool.Stats()
	fmt.Println(s.Submitted, s.Completed, s.Running, s.Waiting)
	// Output:
	// [reply 0 reply 1 reply 2]
	// workerpool: pool closed
	// 3 3 0 0
}

// A PanicHandler lets a task's owner learn that the task died, for example to
// close the connection whose reply will never come.
func ExampleConfig_panicHandler() {
	done := make(chan struct{})
	pool, err := workerpool.New(workerpool.Config{
		Size: 1,
		PanicHandler: func(pi workerpool.PanicInfo) {
			fmt.Printf("task of connection %d failed: %v\n", pi.Key, pi.Value)
			close(done)
		},
	})
	if err != nil {
		panic(err)
	}
	_ = pool.SubmitKeyed(7, func() { panic("database gone") })
	<-done
	_ = pool.Release(context.Background())
	fmt.Println("failed:", pool.Stats().Failed)
	// Output:
	// task of connection 7 failed: database gone
	// failed: 1
}
