package ml

import (
	"context"
	"fmt"
	"math"
)

// gbGrower grows one regression tree per boosting round whose leaves hold a
// vector: one Newton step per class of the softmax loss (a multi-output
// tree). A row then visits one tree per round rather than one per class
// and round, which is what keeps prediction fast with many classes, while
// the split gain sums every class's gain.
//
// Histograms hold, per feature bin, the sums of K gradients, K hessians and
// the row count (stride 2K+1). A node's larger child's histogram is its
// parent's minus its smaller child's, so each level only scans the smaller
// halves.
type gbGrower struct {
	b              *binned
	k, stride      int
	off            []int // per feature: first bin's index in a histogram
	total          int   // bins over all features
	maxDepth       int
	lambda         float64
	alpha          float64
	minChildWeight float64
	eta            float64

	gh   []float32 // n×stride: g_0..g_{K-1}, h_0..h_{K-1}, 1
	idx  []int32
	free [][]float64
	bld  treeBuilder
	gl   []float64
	tmpG []float64
}

func newGBGrower(b *binned, k, maxDepth int, lambda, alpha, minChildWeight, eta float64) *gbGrower {
	g := &gbGrower{b: b, k: k, stride: 2*k + 1, maxDepth: maxDepth, lambda: lambda, alpha: alpha,
		minChildWeight: minChildWeight, eta: eta, off: make([]int, b.d)}
	for f := 0; f < b.d; f++ {
		g.off[f] = g.total
		g.total += b.nbins(f)
	}
	g.gh = make([]float32, b.n*g.stride)
	g.idx = make([]int32, b.n)
	g.gl = make([]float64, g.stride)
	g.tmpG = make([]float64, g.stride)
	return g
}

func (g *gbGrower) histBuf() []float64 {
	if n := len(g.free); n > 0 {
		h := g.free[n-1]
		g.free = g.free[:n-1]
		clear(h)
		return h
	}
	return make([]float64, g.total*g.stride)
}

// build sums the rows' gradient vectors into h.
func (g *gbGrower) build(h []float64, rows []int32) {
	d, s := g.b.d, g.stride
	for _, r := range rows {
		src := g.gh[int(r)*s : int(r)*s+s]
		rb := g.b.rows[int(r)*d : int(r)*d+d]
		for f, bin := range rb {
			base := (g.off[f] + int(bin)) * s
			dst := h[base : base+s]
			for j, v := range src {
				dst[j] += float64(v)
			}
		}
	}
}

type gbNode struct {
	id     int32
	lo, hi int
	depth  int
	hist   []float64
}

type gbSplit struct {
	gain      float64
	feat      int
	bLow, bHi int
	found     bool
}

// grow builds one tree over rows idx[:n] and adds its leaf values to the
// training scores (n rows × K, row-major).
func (g *gbGrower) grow(ctx context.Context, n int, scores []float64) (tree, error) {
	g.bld.reset(g.k)
	root := g.bld.add()
	h := g.histBuf()
	g.build(h, g.idx[:n])
	stack := []gbNode{{id: root, lo: 0, hi: n, hist: h}}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return tree{}, err
		}
		nd := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		tot := g.totals(nd.hist)
		var sp gbSplit
		if nd.depth < g.maxDepth && nd.hi-nd.lo >= 2 {
			sp = g.bestSplit(nd.hist, tot)
		}
		if !sp.found {
			vals := g.bld.leaf(nd.id)
			k := g.k
			for c := 0; c < k; c++ {
				vals[c] = float32(-g.eta * g.shrink(tot[c]) / (tot[k+c] + g.lambda))
			}
			for _, r := range g.idx[nd.lo:nd.hi] {
				row := scores[int(r)*k : int(r)*k+k]
				for c, v := range vals {
					row[c] += float64(v)
				}
			}
			g.free = append(g.free, nd.hist)
			continue
		}
		tb := (sp.bLow + sp.bHi - 1) / 2
		l, r := g.bld.split(nd.id, sp.feat, tb, g.b.edges[sp.feat][tb])
		rows := g.idx[nd.lo:nd.hi]
		col := g.b.cols[sp.feat*g.b.n : (sp.feat+1)*g.b.n]
		m := partition(rows, col, uint8(sp.bLow))
		small := g.histBuf()
		var ln, rn gbNode
		ln = gbNode{id: l, lo: nd.lo, hi: nd.lo + m, depth: nd.depth + 1}
		rn = gbNode{id: r, lo: nd.lo + m, hi: nd.hi, depth: nd.depth + 1}
		if m <= len(rows)-m {
			g.build(small, rows[:m])
			subtract(nd.hist, small)
			ln.hist, rn.hist = small, nd.hist
		} else {
			g.build(small, rows[m:])
			subtract(nd.hist, small)
			ln.hist, rn.hist = nd.hist, small
		}
		stack = append(stack, rn, ln)
	}
	return g.bld.finish(), nil
}

func subtract(dst, src []float64) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] -= v
	}
}

// totals sums feature 0's bins: every row is in exactly one of them.
func (g *gbGrower) totals(h []float64) []float64 {
	t := g.tmpG
	clear(t)
	s := g.stride
	for b := 0; b < g.b.nbins(0); b++ {
		src := h[(g.off[0]+b)*s : (g.off[0]+b)*s+s]
		for j, v := range src {
			t[j] += v
		}
	}
	return t
}

// shrink soft-thresholds a gradient sum by alpha (L1 on leaf values, as
// XGBoost's reg_alpha): a class whose gradients in a leaf sum to less than
// alpha gets exactly 0 there. Most classes are absent from most leaves, so
// leaves become sparse and prediction skips them.
func (g *gbGrower) shrink(G float64) float64 {
	switch {
	case G > g.alpha:
		return G - g.alpha
	case G < -g.alpha:
		return G + g.alpha
	}
	return 0
}

func (g *gbGrower) score(G, H []float64) float64 {
	var s float64
	for c, gv := range G {
		t := g.shrink(gv)
		s += t * t / (H[c] + g.lambda)
	}
	return s
}

func (g *gbGrower) bestSplit(h, tot []float64) gbSplit {
	k, s := g.k, g.stride
	parent := g.score(tot[:k], tot[k:2*k])
	best := gbSplit{gain: 1e-9 * (1 + parent)}
	right := make([]float64, s)
	for f := 0; f < g.b.d; f++ {
		nb := g.b.nbins(f)
		if nb < 2 {
			continue
		}
		left := g.gl
		clear(left)
		prev := -1
		for b := 0; b < nb; b++ {
			src := h[(g.off[f]+b)*s : (g.off[f]+b)*s+s]
			if src[2*k] <= 0.5 { // no rows in this bin
				continue
			}
			if prev >= 0 {
				g.consider(&best, f, prev, b, left, tot, right, parent)
			}
			for j, v := range src {
				left[j] += v
			}
			prev = b
		}
	}
	return best
}

func (g *gbGrower) consider(best *gbSplit, f, bLow, bHi int, left, tot, right []float64, parent float64) {
	k := g.k
	var hl, hr float64
	for j := range right {
		right[j] = tot[j] - left[j]
	}
	for c := 0; c < k; c++ {
		hl += left[k+c]
		hr += right[k+c]
	}
	if hl < g.minChildWeight || hr < g.minChildWeight {
		return
	}
	gain := g.score(left[:k], left[k:2*k]) + g.score(right[:k], right[k:2*k]) - parent
	if gain > best.gain {
		*best = gbSplit{gain: gain, feat: f, bLow: bLow, bHi: bHi, found: true}
	}
}

// softmaxGrad writes each row's softmax gradient and hessian into gh and
// returns the mean cross-entropy loss.
func (g *gbGrower) softmaxGrad(scores []float64, y []uint8, p []float64) float64 {
	k, s := g.k, g.stride
	var loss float64
	for r := 0; r < g.b.n; r++ {
		row := scores[r*k : r*k+k]
		softmax(row, p)
		yc := int(y[r])
		loss -= math.Log(max(p[yc], 1e-15))
		dst := g.gh[r*s : r*s+s]
		for c, pc := range p {
			gr := pc
			if c == yc {
				gr -= 1
			}
			dst[c] = float32(gr)
			dst[k+c] = float32(max(pc*(1-pc), 1e-16))
		}
		dst[2*k] = 1
	}
	return loss / float64(g.b.n)
}

// softmax writes the softmax of x into p (same length).
func softmax(x, p []float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, v)
	}
	var sum float64
	for i, v := range x {
		e := math.Exp(v - m)
		p[i] = e
		sum += e
	}
	for i := range p {
		p[i] /= sum
	}
}

// trainGBDT runs the boosting rounds.
func trainGBDT(ctx context.Context, t *Task, b *binned, cfg Config) (*Model, error) {
	k := len(t.Classes)
	y := make([]uint8, t.N)
	prior := make([]float64, k)
	for i, c := range t.Y {
		y[i] = uint8(c)
		prior[c]++
	}
	base := make([]float32, k)
	for c := range base {
		// Log prior (smoothed), so the first trees fit departures from the
		// class frequencies rather than the frequencies themselves.
		base[c] = float32(math.Log((prior[c] + 1) / float64(t.N+k)))
	}
	scores := make([]float64, t.N*k)
	for i := 0; i < t.N; i++ {
		for c := range base {
			scores[i*k+c] = float64(base[c])
		}
	}
	g := newGBGrower(b, k, cfg.MaxDepth, cfg.Lambda, cfg.Alpha, cfg.MinChildWeight, cfg.LearningRate)
	p := make([]float64, k)
	m := &Model{Kind: GBDT, Base: base}
	m.Training.Loss = make([]float64, 0, cfg.Rounds+1)
	for round := 0; round < cfg.Rounds; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m.Training.Loss = append(m.Training.Loss, g.softmaxGrad(scores, y, p))
		for i := range g.idx {
			g.idx[i] = int32(i)
		}
		tr, err := g.grow(ctx, t.N, scores)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", round+1, err)
		}
		m.trees = append(m.trees, tr)
	}
	m.Training.Loss = append(m.Training.Loss, g.softmaxGrad(scores, y, p))
	return m, nil
}
