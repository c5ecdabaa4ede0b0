package baseline

import (
	"math"
	"time"
)

// seedN is how many values a numeric feature collects before its centre
// and spread are set from their median and MAD.
const seedN = 16

// madToSigma turns a median absolute deviation into a standard-deviation
// equivalent (for normal data): 1/Φ⁻¹(3/4).
const madToSigma = 1.4826

// absDevToSigma turns a mean absolute deviation into a standard-deviation
// equivalent (for normal data): √(π/2).
const absDevToSigma = 1.2533

// params are the numeric settings every feature shares.
type params struct {
	threshold, minScale, rate, clip float64
	minSamples                      int
	shiftAfter                      int64 // nanoseconds
}

// side says which deviations of a feature are anomalies: more (sizes,
// counts) or fewer (time between flows).
type side int8

const (
	upper side = 1
	lower side = -1
)

// robust is the baseline of one numeric feature, on the log1p scale (so
// that a deviation is a ratio: sizes and counts vary multiplicatively).
//
// Learning: the first seedN values are kept; once there are seedN (or
// learning ends with at least minSamples) the centre is their median and
// the spread their MAD × 1.4826. Later values move centre and spread by
// an exponentially weighted mean of the deviation clipped at clip
// spreads (a Huber-clipped EWMA): weight 1/n while learning, so that
// every learned value counts alike, then AdaptRate, so that the baseline
// follows slow drift and a burst of odd values cannot reshape it. After learning, a value beyond the threshold (on
// the feature's side) and beyond every value accepted so far is an
// anomaly and is not learned; if anomalies dominate for shiftAfter, the
// feature is seeded again from the values that follow (a lasting change).
type robust struct {
	n      uint32  // values learned
	m, s   float64 // centre and spread, once seeded
	hi, lo float64 // largest and smallest accepted values
	seeded bool
	ns     uint8
	seed   *[seedN]float32 // values before seeding; nil after

	// out is an EWMA of "this value was an anomaly" (weight 1/8);
	// outSince the capture time (ns) it last rose past one half.
	out      float32
	outSince int64
}

// scale is the spread used for scoring and clipping.
func (r *robust) scale(p *params) float64 { return max(r.s, p.minScale) }

// ready says whether the feature can score.
func (r *robust) ready() bool { return r.seeded }

// score returns how many spreads x lies from the centre on side sd (0
// when it is on the other side).
func (r *robust) score(x float64, sd side, p *params) float64 {
	d := (x - r.m) * float64(sd)
	if d <= 0 {
		return 0
	}
	return d / r.scale(p)
}

// anomalous says whether x is an anomaly on side sd, with its score.
func (r *robust) anomalous(x float64, sd side, p *params) (bool, float64) {
	if !r.seeded {
		return false, 0
	}
	z := r.score(x, sd, p)
	if z < p.threshold {
		return false, z
	}
	// Never an anomaly if no larger (or, below, smaller) than a value
	// already accepted as normal: modes learned once stay normal.
	if sd == upper && x <= r.hi || sd == lower && x >= r.lo {
		return false, z
	}
	return true, z
}

// limit returns the smallest value of x (on the upper side) that would
// be an anomaly, +Inf when the feature cannot score: checking a running
// count against it costs one comparison.
func (r *robust) limit(p *params) float64 {
	if !r.seeded {
		return math.Inf(1)
	}
	return max(r.m+p.threshold*r.scale(p), r.hi)
}

// learn takes a value during learning (everything is normal).
func (r *robust) learn(x float64, p *params) {
	r.accept(x, 1/float64(r.n+1), p)
}

// observe takes a value after learning and says whether it was an
// anomaly (and its score). Only values within the learned range, or
// within the threshold of the centre on either side, are learned: an
// anomaly must not drag the baseline towards itself, and neither must
// values far on the side that is not scored (a scan's empty flows on a
// size feature, a long pause on a rhythm feature), which are ignored.
func (r *robust) observe(x float64, sd side, t int64, p *params) (bool, float64) {
	if !r.seeded {
		r.accept(x, p.rate, p)
		if r.ns >= uint8(p.minSamples) {
			r.seedNow()
		}
		return false, 0
	}
	bad, z := r.anomalous(x, sd, p)
	if bad {
		r.out += (1 - r.out) / 8
		if r.out >= 0.5 && r.outSince == 0 {
			r.outSince = t
		}
		if r.outSince != 0 && t-r.outSince >= p.shiftAfter {
			// A lasting change: learn the new level from what follows.
			r.reset()
		}
		return true, z
	}
	r.out -= r.out / 8
	if r.out < 0.5 {
		r.outSince = 0
	}
	if x >= r.lo && x <= r.hi || r.score(x, -sd, p) < p.threshold {
		r.accept(x, p.rate, p)
	}
	return false, z
}

// accept learns x with weight a once seeded, or keeps it for the seed.
func (r *robust) accept(x float64, a float64, p *params) {
	if r.n == 0 || x > r.hi {
		r.hi = x
	}
	if r.n == 0 || x < r.lo {
		r.lo = x
	}
	r.n++
	if !r.seeded {
		if r.seed == nil {
			r.seed = new([seedN]float32)
		}
		r.seed[r.ns] = float32(x)
		r.ns++
		if r.ns == seedN {
			r.seedNow()
		}
		return
	}
	sc := r.scale(p)
	c := p.clip * sc
	d := min(max(x-r.m, -c), c)
	r.m += a * d
	r.s += a * (absDevToSigma*math.Abs(d) - r.s)
}

// finishLearning seeds the feature if it has enough values.
func (r *robust) finishLearning(p *params) {
	if !r.seeded && int(r.ns) >= p.minSamples {
		r.seedNow()
	}
}

// seedNow sets centre and spread from the median and MAD of the seed.
func (r *robust) seedNow() {
	if r.ns == 0 {
		return
	}
	var buf [seedN]float64
	v := buf[:r.ns]
	for i := range v {
		v[i] = float64(r.seed[i])
	}
	med := median(v)
	for i := range v {
		v[i] = math.Abs(v[i] - med)
	}
	r.m, r.s = med, madToSigma*median(v)
	r.seeded, r.seed, r.ns = true, nil, 0
}

// reset forgets the feature's level (a relearn after a lasting change).
func (r *robust) reset() { *r = robust{} }

// median sorts v (insertion sort: at most seedN values, no allocation)
// and returns its median.
func median(v []float64) float64 {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// logv is the scale numeric features are learned on.
func logv(x float64) float64 { return math.Log1p(max(x, 0)) }

// unlog turns a learned value back into the feature's unit.
func unlog(x float64) float64 { return math.Expm1(x) }

func ns(t time.Time) int64 { return t.UnixNano() }
