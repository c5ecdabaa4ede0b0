package baseline

import (
	"math"
	"math/rand/v2"
	"testing"
)

var testParams = params{threshold: 6, minScale: 0.25, rate: 0.01, clip: 3, minSamples: 8, shiftAfter: int64(24 * 3600e9)}

// Property: seeding sets the centre to the median and the spread to 1.4826
// times the MAD of the values (computed here independently).
func TestRobustSeedIsMedianMAD(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 500 {
		n := 1 + rng.IntN(seedN)
		var r robust
		var v []float64
		for range n {
			x := float64(float32(rng.NormFloat64()*3 + 10)) // the seed keeps float32
			v = append(v, x)
			r.learn(x, &testParams)
		}
		r.finishLearning(&params{minSamples: 1})
		if !r.seeded {
			t.Fatal("not seeded")
		}
		if m := medianOf(v); math.Abs(r.m-m) > 1e-9 {
			t.Fatalf("centre %g, median %g of %v", r.m, m, v)
		}
		if s := madToSigma * madOf(v); math.Abs(r.s-s) > 1e-9 {
			t.Fatalf("spread %g, want %g", r.s, s)
		}
	}
}

// Property: moving every value by a constant moves the centre and keeps
// every score (the statistics are translation-equivariant), through
// seeding, learning and adaptation.
func TestRobustTranslation(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for trial := range 200 {
		c := float64(rng.IntN(20) - 10) // whole numbers: the float32 seed stays exact
		var a, b robust
		for i := range 64 {
			x := math.Round(rng.NormFloat64()*8) / 8
			if i < 40 {
				a.learn(x+20, &testParams)
				b.learn(x+20+c, &testParams)
			} else {
				ba, za := a.observe(x+20, upper, int64(i), &testParams)
				bb, zb := b.observe(x+20+c, upper, int64(i), &testParams)
				if ba != bb || math.Abs(za-zb) > 1e-6 {
					t.Fatalf("trial %d value %d: (%v %g) vs (%v %g) after a shift of %g", trial, i, ba, za, bb, zb, c)
				}
			}
		}
		if math.Abs(b.m-a.m-c) > 1e-6 || math.Abs(a.s-b.s) > 1e-6 {
			t.Fatalf("centres %g %g, spreads %g %g", a.m, b.m, a.s, b.s)
		}
	}
}

// Property: an anomaly is not learned, and the limit is the boundary of
// anomalies.
func TestRobustAnomalyNotLearnt(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for range 200 {
		var r robust
		for range 30 {
			r.learn(10+rng.NormFloat64()*0.3, &testParams)
		}
		m, s, hi := r.m, r.s, r.hi
		lim := r.limit(&testParams)
		if bad, _ := r.anomalous(lim+1e-9, upper, &testParams); !bad {
			t.Fatalf("just above the limit %g: not an anomaly", lim)
		}
		if bad, _ := r.anomalous(lim-1e-9, upper, &testParams); bad {
			t.Fatalf("just below the limit %g: an anomaly", lim)
		}
		bad, z := r.observe(lim+1+rng.Float64()*10, upper, 1, &testParams)
		if !bad || z < testParams.threshold {
			t.Fatalf("far above the limit: anomaly %v score %g", bad, z)
		}
		if r.m != m || r.s != s || r.hi != hi {
			t.Fatal("an anomaly moved the baseline")
		}
	}
}

// Property: whatever the values, centre and spread stay finite and the
// spread non-negative.
func TestRobustFinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	var r robust
	for i := range 100000 {
		x := logv(math.Exp(rng.Float64() * 40))
		if i < 50 {
			r.learn(x, &testParams)
			continue
		}
		sd := upper
		if i%2 == 0 {
			sd = lower
		}
		r.observe(x, sd, int64(i)*1e9, &testParams)
		if math.IsNaN(r.m) || math.IsInf(r.m, 0) || r.s < 0 || math.IsNaN(r.s) || math.IsInf(r.s, 0) {
			t.Fatalf("value %d: centre %g spread %g", i, r.m, r.s)
		}
	}
}
