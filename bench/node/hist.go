package main

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: 2^subBits buckets per power of
// two of microseconds, so a reported quantile is at most 1/128 (0.8 %)
// above the true value, in a fixed 58 KiB per histogram however long the
// run.
const subBits = 7

const subCount = 1 << subBits

// hist is a log-linear latency histogram in microseconds (the layout of
// HdrHistogram: exact below 128 µs, then 128 buckets per doubling).
type hist struct {
	counts [58 * subCount]uint64 // bucketOf(MaxUint64) is 58·128-1
	n      uint64
	sum    time.Duration
	max    time.Duration
}

func bucketOf(us uint64) int {
	if us < subCount {
		return int(us)
	}
	shift := bits.Len64(us) - subBits - 1
	return (shift+1)*subCount + int(us>>uint(shift)) - subCount
}

// bucketTop is the largest value that falls in bucket i.
func bucketTop(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := i/subCount - 1
	m := uint64(i%subCount + subCount)
	return m<<uint(shift) + (1 << uint(shift)) - 1
}

func (h *hist) add(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[bucketOf(us)]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the smallest bucket top at or below which a fraction q
// of the samples lie (never above the largest sample): the conservative
// side, since the result is compared with a budget.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.999999)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketTop(i)+1)*time.Microsecond-1, h.max)
		}
	}
	return h.max
}

// within counts the samples at or below d (exact at bucket edges, else
// the bucket holding d counts as within: at most 0.8 % generous).
func (h *hist) within(d time.Duration) uint64 {
	lim := bucketOf(uint64(d / time.Microsecond))
	var n uint64
	for i := 0; i <= lim; i++ {
		n += h.counts[i]
	}
	return n
}

func (h *hist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}
