//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package mill

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/mill-io/mill/bufferpool"
)

// outboxModel is what an outbox should hold: the queued bytes as a plain
// slice, the count sent, and the callbacks waiting, by id, with the
// count each waits for.
type outboxModel struct {
	queued []byte
	sent   uint64
	waits  []struct {
		seq uint64
		id  int
	}
}

// TestOutboxModel drives an outbox and the model with the same random
// operations — writes queued or sent straight through (only while
// nothing is queued, as Write does), partial and whole takes by the
// kernel, callbacks added — and checks after each step that the queue
// holds the model's bytes in order, that a callback is due exactly when
// every byte accepted before it has gone, and that callbacks come out
// once each, oldest first.
func TestOutboxModel(t *testing.T) {
	t.Parallel()
	src := make([]byte, 1<<20)
	for i := range src {
		src[i] = byte(i*7 + i>>8)
	}
	var pool bufferpool.Pool
	seeds, steps := 200, 2000
	if testing.Short() || raceEnabled {
		seeds = 40
	}
	for seed := 0; seed < seeds; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		var o outbox
		var w waitQueue
		o.Init(&pool, 64)
		var m outboxModel
		var fired []int
		nextID, pos := 0, 0
		bytesOf := func(n int) []byte {
			if pos+n > len(src) {
				pos = 0
			}
			b := src[pos : pos+n]
			pos += n
			return b
		}
		for step := 0; step < steps; step++ {
			switch op := rng.IntN(10); {
			case op < 4: // a write
				p := bytesOf(rng.IntN(3000))
				if o.Len() == 0 && rng.IntN(2) == 0 {
					k := rng.IntN(len(p) + 1) // the kernel takes a prefix at once
					o.sentDirect(k)
					m.sent += uint64(k)
					p = p[k:]
				}
				o.queue(p)
				m.queued = append(m.queued, p...)
			case op < 7: // the kernel takes some of the queue
				if len(m.queued) == 0 {
					continue
				}
				n := rng.IntN(len(m.queued) + 1)
				if rng.IntN(4) == 0 {
					n = len(m.queued)
				}
				o.took(n)
				m.queued = m.queued[n:]
				m.sent += uint64(n)
			case op < 9: // a callback waits for everything so far
				id := nextID
				nextID++
				w.add(o.accepted(), func(Conn, error) { fired = append(fired, id) })
				m.waits = append(m.waits, struct {
					seq uint64
					id  int
				}{m.sent + uint64(len(m.queued)), id})
			default: // run what is due
				for w.due(o.sent) {
					w.next()(nil, nil)
				}
				for len(m.waits) > 0 && m.waits[0].seq <= m.sent {
					want := m.waits[0].id
					m.waits = m.waits[1:]
					if len(fired) == 0 || fired[0] != want {
						t.Fatalf("seed %d step %d: callback %d due, fired %v", seed, step, want, fired)
					}
					fired = fired[1:]
				}
				if len(fired) > 0 {
					t.Fatalf("seed %d step %d: callbacks %v fired before their bytes went", seed, step, fired)
				}
			}
			if o.Len() != len(m.queued) || o.sent != m.sent {
				t.Fatalf("seed %d step %d: Len %d sent %d, model %d %d", seed, step, o.Len(), o.sent, len(m.queued), m.sent)
			}
			head, tail := o.Peek()
			if got := append(append([]byte(nil), head...), tail...); !bytes.Equal(got, m.queued) {
				t.Fatalf("seed %d step %d: queue differs from the model (%d bytes vs %d)", seed, step, len(got), len(m.queued))
			}
			wantDue := len(m.waits) > 0 && m.waits[0].seq <= m.sent
			if o.accepted() != m.sent+uint64(len(m.queued)) {
				t.Fatalf("seed %d step %d: accepted %d, model %d", seed, step, o.accepted(), m.sent+uint64(len(m.queued)))
			}
			if w.due(o.sent) != wantDue || w.waiting() != (len(m.waits) > 0) {
				t.Fatalf("seed %d step %d: due %v waiting %v, model %v %v", seed, step, w.due(o.sent), w.waiting(), wantDue, len(m.waits) > 0)
			}
		}
		for w.waiting() {
			w.next()
		}
		o.release()
	}
}
