package workerpool

import (
	"strconv"
	"sync"
	"testing"
)

// Every benchmark task is trivial, so these measure the cost of getting a
// task to a goroutine and back. The pools are Blocking so that a submitter
// outrunning the workers waits instead of failing.

// BenchmarkGoBaseline is the reference: one new goroutine per task.
func BenchmarkGoBaseline(b *testing.B) {
	var wg sync.WaitGroup
	b.ReportAllocs()
	for b.Loop() {
		wg.Add(1)
		go wg.Done()
	}
	wg.Wait()
}

func BenchmarkSubmit(b *testing.B) {
	p := newPool(b, Config{Blocking: true})
	var wg sync.WaitGroup
	task := wg.Done
	b.ReportAllocs()
	for b.Loop() {
		wg.Add(1)
		if err := p.Submit(task); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}

func BenchmarkSubmitParallel(b *testing.B) {
	p := newPool(b, Config{Blocking: true})
	var wg sync.WaitGroup
	task := wg.Done
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			wg.Add(1)
			if err := p.Submit(task); err != nil {
				b.Error(err)
				return
			}
		}
	})
	wg.Wait()
}

func BenchmarkGoBaselineParallel(b *testing.B) {
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			wg.Add(1)
			go wg.Done()
		}
	})
	wg.Wait()
}

func BenchmarkSubmitKeyed(b *testing.B) {
	for _, keys := range []int{1, 16, 1024} {
		b.Run("keys="+strconv.Itoa(keys), func(b *testing.B) {
			p := newPool(b, Config{Blocking: true})
			var wg sync.WaitGroup
			task := wg.Done
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				wg.Add(1)
				if err := p.SubmitKeyed(uint64(i%keys), task); err != nil {
					b.Fatal(err)
				}
				i++
			}
			wg.Wait()
		})
	}
}
