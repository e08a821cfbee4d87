//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package reactor

import "time"

// Timer is a one-shot callback scheduled on a loop with AfterFunc.
type Timer struct {
	when  time.Time
	fn    func()
	index int // position in the heap, -1 when not scheduled
}

// timerHeap is a binary min-heap ordered by deadline. Loop goroutine only.
type timerHeap []*Timer

func (h *timerHeap) push(t *Timer) {
	t.index = len(*h)
	*h = append(*h, t)
	h.up(t.index)
}

func (h *timerHeap) remove(i int) {
	s := *h
	last := len(s) - 1
	s[i].index = -1
	if i != last {
		s[i] = s[last]
		s[i].index = i
	}
	s[last] = nil
	*h = s[:last]
	if i != last {
		h.down(i)
		h.up(i)
	}
}

func (h timerHeap) less(i, j int) bool { return h[i].when.Before(h[j].when) }

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h timerHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h.swap(i, m)
		i = m
	}
}
