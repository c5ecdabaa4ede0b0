package ml

import (
	"context"
	"math/rand/v2"
	"slices"
)

// tree is one trained tree in file order: node 0 is the root, children
// come after their parent, and a leaf (feature -1) owns K values, stored
// leaf after leaf in node order.
type tree struct {
	Feature   []int32   `json:"feature"`
	Threshold []float32 `json:"threshold"`
	Left      []int32   `json:"left"`
	Right     []int32   `json:"right"`
	Value     []float32 `json:"value"`
}

// treeBuilder collects nodes while a tree grows; leaf values are kept per
// node and put in leaf order by finish.
type treeBuilder struct {
	t      tree
	binOf  []int32 // split bin per internal node (for binned traversal)
	leafAt []int32 // per node: offset into vals, or -1
	vals   []float32
	k      int
}

func (b *treeBuilder) reset(k int) {
	b.t = tree{}
	b.binOf = b.binOf[:0]
	b.leafAt = b.leafAt[:0]
	b.vals = b.vals[:0]
	b.k = k
}

func (b *treeBuilder) add() int32 {
	b.t.Feature = append(b.t.Feature, -1)
	b.t.Threshold = append(b.t.Threshold, 0)
	b.t.Left = append(b.t.Left, -1)
	b.t.Right = append(b.t.Right, -1)
	b.binOf = append(b.binOf, 0)
	b.leafAt = append(b.leafAt, -1)
	return int32(len(b.t.Feature) - 1)
}

// split makes node id internal and returns its two new children.
func (b *treeBuilder) split(id int32, f int, bin int, thr float32) (int32, int32) {
	l, r := b.add(), b.add()
	b.t.Feature[id], b.t.Threshold[id] = int32(f), thr
	b.t.Left[id], b.t.Right[id] = l, r
	b.binOf[id] = int32(bin)
	return l, r
}

// leaf makes node id a leaf and returns its K values to fill.
func (b *treeBuilder) leaf(id int32) []float32 {
	off := len(b.vals)
	b.leafAt[id] = int32(off)
	b.vals = append(b.vals, make([]float32, b.k)...)
	return b.vals[off : off+b.k]
}

func (b *treeBuilder) finish() tree {
	t := b.t
	t.Value = make([]float32, 0, len(b.vals))
	for _, off := range b.leafAt {
		if off >= 0 {
			t.Value = append(t.Value, b.vals[off:int(off)+b.k]...)
		}
	}
	b.t = tree{}
	return t
}

// classGrower grows CART classification trees with the Gini criterion on
// binned features, for the tree and forest learners. Weights are integer
// bootstrap counts, so every split score is computed from exact integer
// sums: the tree does not depend on the order of the rows.
type classGrower struct {
	b        *binned
	y        []uint8
	k        int
	mtry     int
	maxDepth int
	minLeaf  int64

	// scratch, reused across nodes and trees
	w      []uint32
	idx    []int32
	feats  []int
	hist   []int64
	binW   []int64
	tot    []int64
	left   []int64
	keys   []uint32
	bld    treeBuilder
	pushed []gnode
}

type gnode struct {
	id        int32
	lo, hi    int
	depth     int
	weight    int64
	totOffset int
}

type splitCand struct {
	score     float64
	feat      int
	bLow, bHi int
	found     bool
}

func newClassGrower(b *binned, y []uint8, k, mtry, maxDepth, minLeaf int) *classGrower {
	return &classGrower{b: b, y: y, k: k, mtry: mtry, maxDepth: maxDepth, minLeaf: int64(max(minLeaf, 1)),
		w: make([]uint32, b.n), idx: make([]int32, 0, b.n), feats: make([]int, b.d),
		hist: make([]int64, 256*k), binW: make([]int64, 256), tot: make([]int64, k), left: make([]int64, k),
	}
}

// smallNode is the node size below which split finding sorts the node's
// rows by bin instead of filling a bins×classes histogram.
const smallNode = 384

// grow builds one tree from the rows with w[r] > 0. rng draws the feature
// subsets; it is not used when every feature is considered.
func (g *classGrower) grow(ctx context.Context, rng *rand.Rand) (tree, error) {
	g.idx = g.idx[:0]
	for r, w := range g.w {
		if w > 0 {
			g.idx = append(g.idx, int32(r))
		}
	}
	g.bld.reset(g.k)
	root := g.bld.add()
	stack := append(g.pushed[:0], gnode{id: root, lo: 0, hi: len(g.idx)})
	counts := make([]int64, g.k)
	for steps := 0; len(stack) > 0; steps++ {
		if steps&1023 == 0 && ctx.Err() != nil {
			return tree{}, ctx.Err()
		}
		nd := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		rows := g.idx[nd.lo:nd.hi]
		clear(counts)
		var w int64
		for _, r := range rows {
			c := int64(g.w[r])
			counts[g.y[r]] += c
			w += c
		}
		pure := false
		for _, c := range counts {
			if c == w {
				pure = true
			}
		}
		var best splitCand
		if !pure && w >= 2*g.minLeaf && (g.maxDepth <= 0 || nd.depth < g.maxDepth) {
			best = g.bestSplit(rows, counts, w, rng)
		}
		if !best.found {
			vals := g.bld.leaf(nd.id)
			for c, n := range counts {
				vals[c] = float32(float64(n) / float64(w))
			}
			continue
		}
		// Threshold mid-way through the empty bins between the two sides,
		// so unseen values in the gap go to the nearer side.
		tb := (best.bLow + best.bHi - 1) / 2
		l, r := g.bld.split(nd.id, best.feat, tb, g.b.edges[best.feat][tb])
		col := g.b.cols[best.feat*g.b.n : (best.feat+1)*g.b.n]
		m := partition(rows, col, uint8(best.bLow))
		// Push right first so the left subtree is built first.
		stack = append(stack, gnode{id: r, lo: nd.lo + m, hi: nd.hi, depth: nd.depth + 1},
			gnode{id: l, lo: nd.lo, hi: nd.lo + m, depth: nd.depth + 1})
	}
	g.pushed = stack
	return g.bld.finish(), nil
}

// partition moves rows whose bin is <= b to the front and returns their
// number.
func partition(rows []int32, col []uint8, b uint8) int {
	i, j := 0, len(rows)-1
	for i <= j {
		if col[rows[i]] <= b {
			i++
		} else {
			rows[i], rows[j] = rows[j], rows[i]
			j--
		}
	}
	return i
}

// bestSplit follows scikit-learn's feature sampling: features are drawn
// without replacement until mtry features that are not constant in the
// node have been evaluated (or none are left).
func (g *classGrower) bestSplit(rows []int32, counts []int64, w int64, rng *rand.Rand) splitCand {
	d := g.b.d
	for i := range g.feats {
		g.feats[i] = i
	}
	sampled := g.mtry < d
	var best splitCand
	best.score = -1
	evaluated := 0
	for i := 0; i < d && evaluated < g.mtry; i++ {
		if sampled {
			j := i + rng.IntN(d-i)
			g.feats[i], g.feats[j] = g.feats[j], g.feats[i]
		}
		f := g.feats[i]
		var nonConst bool
		if len(rows) < smallNode {
			nonConst = g.evalSorted(f, rows, counts, w, &best)
		} else {
			nonConst = g.evalHist(f, rows, counts, w, &best)
		}
		if nonConst {
			evaluated++
		}
	}
	return best
}

// consider records a candidate split after bin bLow (the next non-empty
// bin being bHi) when it is valid and strictly better: ties keep the
// earlier feature in evaluation order and the lower bin.
func (g *classGrower) consider(best *splitCand, f, bLow, bHi int, sqL, sqR, wl, wr int64) {
	if wl < g.minLeaf || wr < g.minLeaf {
		return
	}
	s := float64(sqL)/float64(wl) + float64(sqR)/float64(wr)
	if s > best.score {
		*best = splitCand{score: s, feat: f, bLow: bLow, bHi: bHi, found: true}
	}
}

func sumSq(c []int64) int64 {
	var s int64
	for _, v := range c {
		s += v * v
	}
	return s
}

func (g *classGrower) evalHist(f int, rows []int32, counts []int64, w int64, best *splitCand) bool {
	k := g.k
	nb := g.b.nbins(f)
	hist, binW := g.hist[:nb*k], g.binW[:nb]
	clear(hist)
	clear(binW)
	col := g.b.cols[f*g.b.n : (f+1)*g.b.n]
	for _, r := range rows {
		b := int(col[r])
		c := int64(g.w[r])
		hist[b*k+int(g.y[r])] += c
		binW[b] += c
	}
	// first and last non-empty bins
	first, last := -1, -1
	for b, v := range binW {
		if v > 0 {
			if first < 0 {
				first = b
			}
			last = b
		}
	}
	if first == last {
		return false
	}
	left := g.left
	clear(left)
	right := g.tot
	copy(right, counts)
	sqL, sqR := int64(0), sumSq(counts)
	var wl int64
	prev := -1
	for b := first; b <= last; b++ {
		if binW[b] == 0 {
			continue
		}
		if prev >= 0 {
			g.consider(best, f, prev, b, sqL, sqR, wl, w-wl)
		}
		h := hist[b*k : b*k+k]
		for c, v := range h {
			if v == 0 {
				continue
			}
			sqL += v * (2*left[c] + v)
			sqR += v * (v - 2*right[c])
			left[c] += v
			right[c] -= v
		}
		wl += binW[b]
		prev = b
	}
	return true
}

func (g *classGrower) evalSorted(f int, rows []int32, counts []int64, w int64, best *splitCand) bool {
	col := g.b.cols[f*g.b.n : (f+1)*g.b.n]
	keys := g.keys[:0]
	for p, r := range rows {
		keys = append(keys, uint32(col[r])<<16|uint32(p))
	}
	g.keys = keys
	slices.Sort(keys)
	if keys[0]>>16 == keys[len(keys)-1]>>16 {
		return false
	}
	left := g.left
	clear(left)
	right := g.tot
	copy(right, counts)
	sqL, sqR := int64(0), sumSq(counts)
	var wl int64
	for i, key := range keys {
		r := rows[key&0xffff]
		c := int(g.y[r])
		v := int64(g.w[r])
		sqL += v * (2*left[c] + v)
		sqR += v * (v - 2*right[c])
		left[c] += v
		right[c] -= v
		wl += v
		if i+1 < len(keys) {
			b, nb := int(key>>16), int(keys[i+1]>>16)
			if nb != b {
				g.consider(best, f, b, nb, sqL, sqR, wl, w-wl)
			}
		}
	}
	return true
}
