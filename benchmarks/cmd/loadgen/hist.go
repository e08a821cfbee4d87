package main

import (
	"math"
	"math/bits"
)

// histogram is a fixed-size log-linear (HDR-style) histogram of non-negative
// integer values (nanoseconds here). Values below 2*subBuckets are exact; above
// that, each power-of-two range is split into subBuckets linear buckets, so the
// relative error of a reported quantile is below 1/subBuckets (~1.6%).
// Recording never allocates.
const (
	subBits    = 6
	subBuckets = 1 << subBits
	maxExp     = 40 // values are clamped to < 2^(maxExp+subBits+1) ns (~36 h)
	numBuckets = (maxExp + 2) * subBuckets
)

type histogram struct {
	counts [numBuckets]uint64
	total  uint64
	sum    uint64
	max    uint64
	min    uint64
}

// bucketOf returns the bucket index of v: for v < 2*subBuckets it is v itself,
// otherwise e*subBuckets + (v >> e) where e shifts v into [subBuckets, 2*subBuckets).
func bucketOf(v uint64) int {
	e := bits.Len64(v) - (subBits + 1)
	if e <= 0 {
		return int(v)
	}
	if e > maxExp {
		return numBuckets - 1
	}
	return e*subBuckets + int(v>>uint(e))
}

// bucketRange returns the smallest and largest value mapping to bucket i.
func bucketRange(i int) (lo, hi uint64) {
	e := i/subBuckets - 1
	if e < 0 {
		e = 0
	}
	m := uint64(i - e*subBuckets)
	return m << uint(e), (m+1)<<uint(e) - 1
}

func (h *histogram) record(v uint64) {
	h.counts[bucketOf(v)]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += v
}

func (h *histogram) merge(o *histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// quantile returns the value at quantile q (0..1): the upper bound of the
// bucket holding the ceil(q*total)-th smallest value, capped at the exact max.
func (h *histogram) quantile(q float64) uint64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketRange(i)
			return min(hi, h.max)
		}
	}
	return h.max
}

func (h *histogram) mean() float64 {
	if h.total == 0 {
		return 0
	}
	return float64(h.sum) / float64(h.total)
}
