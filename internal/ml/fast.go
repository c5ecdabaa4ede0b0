package ml

import "math"

// fastLayout is the boosted trees' complete layout rearranged for the
// assembly kernels (fast_amd64.s). It is derived from the trees when a
// model is trained or loaded, never stored.
//
// Trees go in groups of eight that are walked in step. Node r (heap order
// from 1: children 2r and 2r+1) of tree j in group g is nodes[g·8s + 8r + j],
// so one base register and a constant displacement per tree address all
// eight; padding trees (to a multiple of eight) always go left and are
// never summed. Leaf l of tree t is the value row t·s + l, kp float32 wide
// (K rounded up to a multiple of 8, zero-padded), so one AVX add takes
// eight classes.
//
// For at most blockMaxTrees trees of depth ≤ 6 on CPUs with AVX-512, tbl
// holds each tree's nodes again for walkBlock (PredictBatch): 64 features
// then 64 threshold keys, heap order from 1, so a 16-lane permute reads
// 16 rows' nodes.
type fastLayout struct {
	depth, s, nt, kp int
	nodes            []fnode
	vals             []float32
	tbl              []uint32
}

type fnode struct {
	feat int32
	thr  uint32 // floatKey(threshold)
}

// floatKey maps a float32 to a uint32 whose unsigned order is the float
// order, so the kernel compares integers (shorter latency than UCOMISS on
// the walk's critical path). −0 becomes +0, which compares equal to it;
// NaN becomes −Inf, which like NaN is greater than no threshold: the key
// compare decides every x > t exactly as the float compare does.
func floatKey(v float32) uint32 {
	if v != v {
		v = float32(math.Inf(-1))
	}
	b := math.Float32bits(v)
	if b == 1<<31 {
		b = 0
	}
	return b ^ (uint32(int32(b)>>31) | 1<<31)
}

// fastMaxClasses and fastMaxFeatures bound the models the fast path
// serves: its float32 accumulator and the row's keys live on the stack.
const (
	fastMaxClasses  = 32
	fastMaxFeatures = 256
)

// blockRows is how many rows walkBlock takes; blockMaxTrees bounds the
// leaf offsets PredictBatch holds for them (4 MiB).
const (
	blockRows     = 64
	blockMaxTrees = 1 << 14
)

// fastBatch is how many trees one walkGroups call handles (a multiple of
// 8): their leaf offsets live on the stack.
const fastBatch = 128

// compileFast builds m.fast from the complete layout when the kernels can
// run, the gbdt has at most fastMaxClasses classes and every leaf offset
// fits the kernels' int32 (which also bounds the layout's size).
func (m *Model) compileFast() {
	m.fast = nil
	k := len(m.Classes)
	if m.depth == 0 || k > fastMaxClasses || len(m.Features) > fastMaxFeatures || !fastKernels() {
		return
	}
	s, per := 1<<m.depth, 1<<m.depth-1
	nt := len(m.cnodes) / per
	groups := (nt + 7) / 8
	kp := (k + 7) &^ 7
	if int64(groups)*8*int64(s)*int64(kp)*4 > min(math.MaxInt32, maxLayoutBytes) {
		return
	}
	f := &fastLayout{depth: m.depth, s: s, nt: nt, kp: kp,
		nodes: make([]fnode, groups*8*s), vals: make([]float32, nt*s*kp)}
	for i := range f.nodes {
		f.nodes[i] = fnode{thr: floatKey(float32(math.Inf(1)))}
	}
	for t := range nt {
		g, j := t/8, t%8
		for p, c := range m.cnodes[t*per : (t+1)*per] {
			f.nodes[g*8*s+(p+1)*8+j] = fnode{feat: c.feat, thr: floatKey(c.thr)}
		}
	}
	for row := range nt * s {
		copy(f.vals[row*kp:row*kp+k], m.cvals[row*k:row*k+k])
	}
	if m.depth <= 6 && nt <= blockMaxTrees && blockKernel() {
		f.tbl = make([]uint32, nt*128)
		for t := range nt {
			tb := f.tbl[t*128 : (t+1)*128]
			for i := range 64 {
				tb[64+i] = floatKey(float32(math.Inf(1)))
			}
			for p, c := range m.cnodes[t*per : (t+1)*per] {
				tb[p+1], tb[64+p+1] = uint32(c.feat), floatKey(c.thr)
			}
		}
	}
	m.fast = f
}

// canFast says whether x can take the fast path: the kernel reads
// features unchecked (validation bounded them by len(Features)).
func (m *Model) canFast(x []float32) bool {
	return m.fast != nil && len(x) >= len(m.Features)
}

// scoresFast adds the sum of the trees' leaves for x into out, bit for bit
// as scoresComplete does: the same float32 additions in the same order.
func (m *Model) scoresFast(x []float32, out []float64) {
	f := m.fast
	var offs [fastBatch]int32
	var acc [fastMaxClasses]float32
	var keys [fastMaxFeatures]uint32
	for i, v := range x[:len(m.Features)] {
		keys[i] = floatKey(v)
	}
	for t0 := 0; t0 < f.nt; t0 += fastBatch {
		n := min(f.nt-t0, fastBatch)
		walkGroups(&f.nodes[t0*f.s], (n+7)/8, f.depth, &keys[0], &offs[0], f.kp*4, f.s, t0*f.s-f.s)
		// scoresComplete adds trees in groups of eight (as two fours) and
		// the rest one by one; batches start at multiples of eight.
		full := n &^ 7
		sumLeaves(&f.vals[0], &offs[0], 4, full/4, n-full, f.kp/8, &acc[0])
	}
	for c := range out {
		out[c] += float64(acc[c])
	}
}

// blockScores scores rows 0..n-1 of X (row-major, len(Features) values a
// row) 64 at a time and calls emit with each row's scores (valid during
// the call), bit for bit those of Scores. walkBlock walks one tree for
// all 64 rows; sumBlock then adds the leaves tree-major, so that four
// trees' leaves stay in L1 (row by row, a 300-tree model at 19 classes
// missed the caches on half its leaves). It needs m.fast.tbl.
func (m *Model) blockScores(X []float32, n int, emit func(row int, scores []float64)) {
	f, d, k := m.fast, len(m.Features), len(m.Classes)
	keys := make([]uint32, blockRows*d)
	offs := make([]int32, f.nt*blockRows)
	scores := make([]float64, k)
	acc := make([]float32, blockRows*f.kp)
	var rowoff [blockRows]int32
	for r := range rowoff {
		rowoff[r] = int32(r * d)
	}
	full := f.nt &^ 7
	for r0 := 0; r0 < n; r0 += blockRows {
		nb := min(blockRows, n-r0)
		for i, v := range X[r0*d : (r0+nb)*d] {
			keys[i] = floatKey(v)
		}
		// Rows past n (the last block) walk whatever keys are left; their
		// leaves are not summed.
		walkBlock(&f.tbl[0], f.nt, f.depth, &keys[0], &rowoff[0], &offs[0], f.kp*4, f.s)
		clear(acc)
		sumBlock(&f.vals[0], &offs[0], nb, full/4, f.nt-full, f.kp/8, &acc[0])
		for r := range nb {
			a := acc[r*f.kp : r*f.kp+k]
			for c := range scores {
				scores[c] = 0
				scores[c] += float64(a[c])
				scores[c] += float64(m.Base[c])
			}
			emit(r0+r, scores)
		}
	}
}
