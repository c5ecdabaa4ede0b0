package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The benchmark itself runs only by `go run ./bench/node`; this checks
// the histogram its verdicts rest on, in milliseconds.

// TestHistQuantiles compares the histogram's quantiles with the exact
// ones of the same samples (sorted): never below the truth, at most one
// bucket (1/128) above it.
func TestHistQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, spread := range []time.Duration{50 * time.Microsecond, 20 * time.Millisecond, 3 * time.Second} {
		var h hist
		var xs []time.Duration
		for range 20000 {
			// Log-normal-ish: most fast, a long tail.
			d := time.Duration(r.ExpFloat64() * r.ExpFloat64() * float64(spread))
			h.add(d)
			xs = append(xs, d)
		}
		slices.Sort(xs)
		for _, q := range []float64{0.5, 0.95, 0.99, 1} {
			exact := xs[max(0, int(q*float64(len(xs))+0.999999)-1)]
			got := h.quantile(q)
			if got < exact {
				t.Errorf("spread %s: q%.2f = %s, below the exact %s", spread, q, got, exact)
			}
			if limit := exact + exact/128 + time.Microsecond; got > limit {
				t.Errorf("spread %s: q%.2f = %s, more than a bucket above the exact %s", spread, q, got, exact)
			}
		}
		if h.max != xs[len(xs)-1] || h.n != uint64(len(xs)) {
			t.Errorf("max %s n %d, want %s %d", h.max, h.n, xs[len(xs)-1], len(xs))
		}
	}
}

// TestHistBuckets checks the bucket layout at the edges where it
// changes: exact below 128 µs, contiguous and increasing after.
func TestHistBuckets(t *testing.T) {
	for _, c := range []struct {
		us     uint64
		bucket int
		top    uint64
	}{
		{0, 0, 0}, {127, 127, 127}, {128, 128, 128}, {255, 255, 255},
		{256, 256, 257}, {257, 256, 257}, {258, 257, 259}, {512, 384, 515},
		{100_000, 1_347, 100_351},
	} {
		if b := bucketOf(c.us); b != c.bucket || bucketTop(b) != c.top {
			t.Errorf("%d µs: bucket %d top %d, want %d and %d", c.us, b, bucketTop(b), c.bucket, c.top)
		}
	}
	if last := bucketOf(math.MaxUint64); last != len(hist{}.counts)-1 {
		t.Errorf("the largest value falls in bucket %d of %d", last, len(hist{}.counts))
	}
	prev := uint64(0)
	for i := 1; i < len(hist{}.counts); i++ {
		top := bucketTop(i)
		if top <= prev || bucketOf(top) != i || bucketOf(prev+1) != i {
			t.Fatalf("bucket %d: top %d after %d is not contiguous", i, top, prev)
		}
		prev = top
	}
}

// TestHistWithin counts samples under a budget as the quantiles do.
func TestHistWithin(t *testing.T) {
	var h hist
	for i := range 1000 {
		h.add(time.Duration(i) * time.Millisecond / 5) // 0 to 199.8 ms
	}
	if n := h.within(100 * time.Millisecond); n < 500 || n > 505 {
		t.Errorf("within 100 ms: %d of 1000, want 500 (+ one bucket)", n)
	}
	if p := h.quantile(0.5); p < 99800*time.Microsecond || p > 100600*time.Microsecond {
		t.Errorf("median %s, want about 99.8 ms", p)
	}
}
