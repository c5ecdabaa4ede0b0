package ml

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

// FileFormat and FileVersion identify heir model files. A reader refuses
// any other format or version: a model's meaning (how trees combine, what
// a threshold compares) may change with the version.
const (
	FileFormat  = "heir-ml-model"
	FileVersion = 1
)

// Bounds on model files, so that a hostile file cannot make Load hold
// unbounded memory.
const (
	MaxModelBytes = 256 << 20
	maxTrees      = 1 << 20
	maxNodes      = 1 << 26 // over all trees
)

// ErrVersion is wrapped by Load's error for a file of another format
// version; ErrFeatures by CheckFeatures' error for mismatched columns.
var (
	ErrVersion  = errors.New("unsupported model file version")
	ErrFeatures = errors.New("feature mismatch")
)

// Model is a trained classifier. Its exported fields say what it expects
// and predicts; the trees are private and flattened for prediction.
type Model struct {
	Kind     Kind
	Features []string
	Classes  []string
	// Base is the gbdt's initial score per class (log class priors).
	Base     []float32
	Training TrainInfo

	trees []tree

	// Prediction layout: one node array over all trees, the two children
	// of a node adjacent, so a step is child + (x > threshold).
	nodes  []pnode
	roots  []int32
	values []float32
	scale  float64 // forest: 1/trees

	// Complete layout, used when every tree is at most maxCompleteDepth
	// deep (gbdt): each tree padded to a full binary tree of depth depth
	// in heap order, so a row takes exactly depth branch-free steps per
	// tree; leaves shallower than depth are extended by nodes that always
	// go left (threshold +Inf).
	depth  int
	cnodes []cnode
	cvals  []float32

	// fast is the complete layout as the assembly kernels read it, or nil
	// (no kernels for this CPU, or a model they do not serve).
	fast *fastLayout
}

// maxCompleteDepth bounds the complete layout: a tree takes 2^depth×K
// leaf values.
const maxCompleteDepth = 10

// maxLayoutBytes bounds each derived prediction layout (complete, fast);
// a larger model is scored by the node walk. Real models are far smaller
// (300 trees of depth 10 at 19 classes: 25 MB).
const maxLayoutBytes = 512 << 20

type cnode struct {
	feat int32
	thr  float32
}

// TrainInfo records how a model was trained.
type TrainInfo struct {
	Config Config `json:"config"`
	Rows   int    `json:"rows"`
	// Loss is the gbdt's mean training cross-entropy before each round and
	// after the last.
	Loss []float64 `json:"loss,omitempty"`
}

type pnode struct {
	feat  int32 // -1: leaf
	thr   float32
	child int32 // internal: left child (right is child+1); leaf: value offset
}

// NumTrees is the number of trees in the model.
func (m *Model) NumTrees() int { return len(m.roots) }

// NumNodes is the number of nodes over all trees.
func (m *Model) NumNodes() int { return len(m.nodes) }

// compile flattens the trees for prediction.
func (m *Model) compile() error {
	k := len(m.Classes)
	m.nodes, m.roots, m.values = m.nodes[:0], m.roots[:0], m.values[:0]
	for ti := range m.trees {
		t := &m.trees[ti]
		// leaf index in node order
		leafNo := make([]int32, len(t.Feature))
		n := int32(0)
		for i, f := range t.Feature {
			if f < 0 {
				leafNo[i] = n
				n++
			}
		}
		root := int32(len(m.nodes))
		m.roots = append(m.roots, root)
		m.nodes = append(m.nodes, pnode{})
		// Breadth-first: place both children of a node side by side.
		type item struct{ src, dst int32 }
		queue := []item{{0, root}}
		for len(queue) > 0 {
			it := queue[0]
			queue = queue[1:]
			if t.Feature[it.src] < 0 {
				v := t.Value[int(leafNo[it.src])*k : int(leafNo[it.src]+1)*k]
				if c, ok := pureLeaf(m.Kind, v); ok {
					// Most forest leaves hold one class: no values to read.
					m.nodes[it.dst] = pnode{feat: -2 - int32(c)}
					continue
				}
				m.nodes[it.dst] = pnode{feat: -1, child: int32(len(m.values))}
				m.values = append(m.values, v...)
				continue
			}
			c := int32(len(m.nodes))
			m.nodes = append(m.nodes, pnode{}, pnode{})
			m.nodes[it.dst] = pnode{feat: t.Feature[it.src], thr: t.Threshold[it.src], child: c}
			queue = append(queue, item{t.Left[it.src], c}, item{t.Right[it.src], c + 1})
		}
	}
	switch m.Kind {
	case GBDT:
		m.scale = 1
	default:
		m.scale = 1 / float64(len(m.trees))
	}
	m.compileComplete()
	m.compileFast()
	return nil
}

// treeDepth is the longest root-to-leaf path; children come after their
// parents, so one forward pass suffices (no recursion on hostile files).
// pureLeaf says whether a tree or forest leaf holds a single class (its
// frequency exactly 1, the others 0), and which.
func pureLeaf(kind Kind, v []float32) (int, bool) {
	if kind == GBDT {
		return 0, false
	}
	class := -1
	for c, x := range v {
		switch {
		case x == 1 && class < 0:
			class = c
		case x != 0:
			return 0, false
		}
	}
	return class, class >= 0
}

func treeDepth(t *tree) int {
	d := make([]int32, len(t.Feature))
	deepest := int32(0)
	for i, f := range t.Feature {
		if f < 0 {
			deepest = max(deepest, d[i])
			continue
		}
		d[t.Left[i]], d[t.Right[i]] = d[i]+1, d[i]+1
	}
	return int(deepest)
}

func (m *Model) compileComplete() {
	m.depth, m.cnodes, m.cvals = 0, nil, nil
	depth := 0
	for i := range m.trees {
		depth = max(depth, treeDepth(&m.trees[i]))
		if depth > maxCompleteDepth {
			return
		}
	}
	if depth == 0 || m.Kind != GBDT {
		// Forests grow deep; a single-leaf model needs no traversal.
		return
	}
	k := len(m.Classes)
	per, leaves := 1<<depth-1, 1<<depth
	if int64(len(m.trees))*int64(per*8+leaves*k*4) > maxLayoutBytes {
		// Padding makes a thin deep tree cost 2^depth nodes: a small
		// hostile file must not make Load allocate gigabytes.
		return
	}
	m.depth = depth
	m.cnodes = make([]cnode, len(m.trees)*per)
	m.cvals = make([]float32, len(m.trees)*leaves*k)
	for ti := range m.trees {
		t := &m.trees[ti]
		leafNo := make([]int, len(t.Feature))
		n := 0
		for i, f := range t.Feature {
			if f < 0 {
				leafNo[i] = n
				n++
			}
		}
		nodes := m.cnodes[ti*per : (ti+1)*per]
		vals := m.cvals[ti*leaves*k : (ti+1)*leaves*k]
		var fill func(src int32, pos, level int)
		fill = func(src int32, pos, level int) {
			if level == depth {
				l := pos - per
				copy(vals[l*k:l*k+k], t.Value[leafNo[src]*k:leafNo[src]*k+k])
				return
			}
			if t.Feature[src] < 0 {
				nodes[pos] = cnode{feat: 0, thr: float32(math.Inf(1))}
				fill(src, 2*pos+1, level+1)
				return
			}
			nodes[pos] = cnode{feat: t.Feature[src], thr: t.Threshold[src]}
			fill(t.Left[src], 2*pos+1, level+1)
			fill(t.Right[src], 2*pos+2, level+1)
		}
		fill(0, 0, 0)
	}
}

// scoresComplete is Scores for the complete layout. Eight trees are
// walked in step so that their independent chains of loads overlap (the
// walk is bound by load latency: 8 in step ran 1.5× faster than 4, which
// ran 2× faster than 1); leaf values are summed in float32 (the rounding,
// about 1e-7 of the sum, is far below what moves a class's score) and
// added to out once.
func (m *Model) scoresComplete(x []float32, out []float64) {
	k, depth := len(out), m.depth
	per := 1<<depth - 1
	cn := m.cnodes
	nt := len(cn) / per
	var accA [MaxClasses]float32
	acc := accA[:k]
	t := 0
	for ; t+8 <= nt; t += 8 {
		n := cn[t*per : (t+8)*per]
		var r0, r1, r2, r3, r4, r5, r6, r7 int
		for range depth {
			a0 := n[r0]
			a1 := n[per+r1]
			a2 := n[2*per+r2]
			a3 := n[3*per+r3]
			a4 := n[4*per+r4]
			a5 := n[5*per+r5]
			a6 := n[6*per+r6]
			a7 := n[7*per+r7]
			r0 = 2*r0 + 1 + b2i(x[a0.feat] > a0.thr)
			r1 = 2*r1 + 1 + b2i(x[a1.feat] > a1.thr)
			r2 = 2*r2 + 1 + b2i(x[a2.feat] > a2.thr)
			r3 = 2*r3 + 1 + b2i(x[a3.feat] > a3.thr)
			r4 = 2*r4 + 1 + b2i(x[a4.feat] > a4.thr)
			r5 = 2*r5 + 1 + b2i(x[a5.feat] > a5.thr)
			r6 = 2*r6 + 1 + b2i(x[a6.feat] > a6.thr)
			r7 = 2*r7 + 1 + b2i(x[a7.feat] > a7.thr)
		}
		// Leaf g of tree t is value row t<<depth + (r - per).
		g, s := t<<depth-per, 1<<depth
		m.addLeaves(acc, g+r0, g+s+r1, g+2*s+r2, g+3*s+r3)
		m.addLeaves(acc, g+4*s+r4, g+5*s+r5, g+6*s+r6, g+7*s+r7)
	}
	for ; t < nt; t++ {
		nodes := cn[t*per : t*per+per]
		i := 0
		for range depth {
			a := nodes[i]
			i = 2*i + 1 + b2i(x[a.feat] > a.thr)
		}
		v := m.cvals[(t<<depth-per+i)*k:][:len(acc)]
		for c := range acc {
			acc[c] += v[c]
		}
	}
	for c := range out {
		out[c] += float64(acc[c])
	}
}

// addLeaves adds four leaves' values (by leaf row in cvals) into acc.
func (m *Model) addLeaves(acc []float32, g0, g1, g2, g3 int) {
	k := len(acc)
	v0 := m.cvals[g0*k:][:len(acc)]
	v1 := m.cvals[g1*k:][:len(acc)]
	v2 := m.cvals[g2*k:][:len(acc)]
	v3 := m.cvals[g3*k:][:len(acc)]
	for c := range acc {
		acc[c] += v0[c] + v1[c] + v2[c] + v3[c]
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Scores adds the model's raw output for x into out (len(Classes) values,
// cleared first): the gbdt's per-class log-odds, or the forest's mean leaf
// class frequencies. It allocates nothing.
func (m *Model) Scores(x []float32, out []float64) {
	k := len(m.Classes)
	out = out[:k]
	for c := range out {
		out[c] = 0
	}
	if m.depth > 0 {
		if m.canFast(x) {
			m.scoresFast(x, out)
		} else {
			m.scoresComplete(x, out)
		}
		for c, b := range m.Base {
			out[c] += float64(b)
		}
		return
	}
	nodes, values := m.nodes, m.values
	for _, r := range m.roots {
		n := nodes[r]
		for n.feat >= 0 {
			i := n.child
			if x[n.feat] > n.thr {
				i++
			}
			n = nodes[i]
		}
		if n.feat < -1 {
			out[-2-n.feat]++
			continue
		}
		v := values[n.child : n.child+int32(k)]
		for c, a := range v {
			out[c] += float64(a)
		}
	}
	if m.Kind == GBDT {
		for c, b := range m.Base {
			out[c] += float64(b)
		}
	} else if m.scale != 1 {
		for c := range out {
			out[c] *= m.scale
		}
	}
}

// PredictProba writes class probabilities for x into out (len(Classes)
// values, summing to 1). It allocates nothing.
func (m *Model) PredictProba(x []float32, out []float64) {
	m.Scores(x, out)
	out = out[:len(m.Classes)]
	if m.Kind == GBDT {
		softmaxInPlace(out)
		return
	}
	var s float64
	for _, v := range out {
		s += v
	}
	if s > 0 {
		for c := range out {
			out[c] /= s
		}
	}
}

func softmaxInPlace(x []float64) {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = max(mx, v)
	}
	var s float64
	for i, v := range x {
		x[i] = math.Exp(v - mx)
		s += x[i]
	}
	for i := range x {
		x[i] /= s
	}
}

// Predict returns the index in Classes of the most likely class of x;
// scratch holds at least len(Classes) values. Ties go to the lower index.
// It allocates nothing.
func (m *Model) Predict(x []float32, scratch []float64) int {
	m.Scores(x, scratch)
	return argmax(scratch[:len(m.Classes)])
}

// argmax returns the index of the largest score; ties go to the lower
// index.
func argmax(scores []float64) int {
	best := 0
	for c, v := range scores {
		if v > scores[best] {
			best = c
		}
	}
	return best
}

// PredictBatch predicts every row of X (row-major, len(Features) values a
// row) into out, as Predict would. It allocates scratch once per call,
// nothing per row; boosted trees of depth ≤ 6 on CPUs with AVX-512 walk
// 64 rows at a time (blockScores).
func (m *Model) PredictBatch(X []float32, out []int) {
	d := len(m.Features)
	if m.fast != nil && m.fast.tbl != nil && len(X) >= len(out)*d && len(out) > 0 {
		m.blockScores(X, len(out), func(r int, s []float64) { out[r] = argmax(s) })
		return
	}
	scratch := make([]float64, len(m.Classes))
	for i := range out {
		out[i] = m.Predict(X[i*d:(i+1)*d], scratch)
	}
}

// CheckFeatures says whether data with these columns, in this order, can
// be scored by the model; the error names the first difference.
func (m *Model) CheckFeatures(names []string) error {
	for i := 0; i < min(len(names), len(m.Features)); i++ {
		if names[i] != m.Features[i] {
			return fmt.Errorf("%w: feature %d: model expects %q, data has %q", ErrFeatures, i+1, m.Features[i], names[i])
		}
	}
	if len(names) != len(m.Features) {
		if len(names) > len(m.Features) {
			return fmt.Errorf("%w: model expects %d features, data has %d (first extra: %q)", ErrFeatures, len(m.Features), len(names), names[len(m.Features)])
		}
		return fmt.Errorf("%w: model expects %d features, data has %d (first missing: %q)", ErrFeatures, len(m.Features), len(names), m.Features[len(names)])
	}
	return nil
}

// file is the JSON model file (docs/ml.md).
type file struct {
	Format   string    `json:"format"`
	Version  int       `json:"version"`
	Kind     Kind      `json:"kind"`
	Output   string    `json:"output"`
	Features []string  `json:"features"`
	Classes  []string  `json:"classes"`
	Base     []float32 `json:"base,omitempty"`
	Trees    []tree    `json:"trees"`
	Training TrainInfo `json:"training"`
}

// How a kind's tree outputs combine, as the file states it.
const (
	outputMean    = "mean-probability" // tree, forest: leaves hold class frequencies; average them
	outputSoftmax = "softmax"          // gbdt: base + sum of leaves, then softmax
)

func outputOf(k Kind) string {
	if k == GBDT {
		return outputSoftmax
	}
	return outputMean
}

// Save writes the model file.
func (m *Model) Save(w io.Writer) error {
	f := file{Format: FileFormat, Version: FileVersion, Kind: m.Kind, Output: outputOf(m.Kind),
		Features: m.Features, Classes: m.Classes, Base: m.Base, Trees: m.trees, Training: m.Training}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(&f); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}

// SaveFile writes the model file at path.
func (m *Model) SaveFile(path string) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if err := m.Save(fh); err != nil {
		fh.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	return nil
}

// LoadFile reads a model file.
func LoadFile(path string) (*Model, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	defer fh.Close()
	m, err := Load(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Load reads and fully validates a model file: format, version, kind,
// names, and every tree (indices in range, children after parents, one
// parent per node, finite numbers).
func Load(r io.Reader) (*Model, error) {
	lr := &io.LimitedReader{R: r, N: MaxModelBytes + 1}
	dec := json.NewDecoder(lr)
	// Check the header fields first so that another version gets a precise
	// error, not a decoding error about a field it renamed.
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	raw := json.RawMessage{}
	if err := dec.Decode(&raw); err != nil {
		if lr.N <= 0 {
			return nil, fmt.Errorf("load model: file larger than %d bytes", MaxModelBytes)
		}
		return nil, fmt.Errorf("load model: %w", err)
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if head.Format != FileFormat {
		return nil, fmt.Errorf("load model: format %q, want %q", head.Format, FileFormat)
	}
	if head.Version != FileVersion {
		return nil, fmt.Errorf("load model: %w: file has version %d, this heir reads version %d", ErrVersion, head.Version, FileVersion)
	}
	var f file
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if err := strict.Decode(&f); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m := &Model{Kind: f.Kind, Features: f.Features, Classes: f.Classes, Base: f.Base, Training: f.Training, trees: f.Trees}
	if err := m.compile(); err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	return m, nil
}

func (f *file) validate() error {
	if _, err := ParseKind(string(f.Kind)); err != nil {
		return err
	}
	if f.Output != outputOf(f.Kind) {
		return fmt.Errorf("kind %s has output %q, file says %q", f.Kind, outputOf(f.Kind), f.Output)
	}
	if err := uniqueNames("feature", f.Features, 1<<16); err != nil {
		return err
	}
	if err := uniqueNames("class", f.Classes, MaxClasses); err != nil {
		return err
	}
	k, d := len(f.Classes), len(f.Features)
	if k < 2 {
		return fmt.Errorf("%d class(es), want at least 2", k)
	}
	if f.Kind == GBDT {
		if len(f.Base) != k {
			return fmt.Errorf("gbdt base has %d values for %d classes", len(f.Base), k)
		}
		if err := finite("base", f.Base); err != nil {
			return err
		}
	} else if len(f.Base) != 0 {
		return fmt.Errorf("%s model with a base score", f.Kind)
	}
	if len(f.Trees) == 0 || len(f.Trees) > maxTrees {
		return fmt.Errorf("%d trees, want 1 to %d", len(f.Trees), maxTrees)
	}
	if f.Kind == Tree && len(f.Trees) != 1 {
		return fmt.Errorf("tree model with %d trees", len(f.Trees))
	}
	nodes := 0
	for i := range f.Trees {
		nodes += len(f.Trees[i].Feature)
		if nodes > maxNodes {
			return fmt.Errorf("more than %d nodes", maxNodes)
		}
		if err := f.Trees[i].validate(d, k, f.Kind != GBDT); err != nil {
			return fmt.Errorf("tree %d: %w", i, err)
		}
	}
	return nil
}

func uniqueNames(what string, names []string, maxN int) error {
	if len(names) == 0 || len(names) > maxN {
		return fmt.Errorf("%d %s names, want 1 to %d", len(names), what, maxN)
	}
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if n == "" {
			return fmt.Errorf("%s %d has no name", what, i+1)
		}
		if seen[n] {
			return fmt.Errorf("%s %q appears twice", what, n)
		}
		seen[n] = true
	}
	return nil
}

func finite(what string, v []float32) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("%s value %d is not finite", what, i)
		}
	}
	return nil
}

func (t *tree) validate(d, k int, probs bool) error {
	n := len(t.Feature)
	if n == 0 {
		return errors.New("no nodes")
	}
	if len(t.Threshold) != n || len(t.Left) != n || len(t.Right) != n {
		return fmt.Errorf("arrays of %d, %d, %d, %d nodes", n, len(t.Threshold), len(t.Left), len(t.Right))
	}
	parents := make([]uint8, n)
	leaves := 0
	for i := 0; i < n; i++ {
		f, l, r := t.Feature[i], t.Left[i], t.Right[i]
		if f == -1 {
			if l != -1 || r != -1 {
				return fmt.Errorf("leaf %d has children", i)
			}
			leaves++
			continue
		}
		if f < 0 || int(f) >= d {
			return fmt.Errorf("node %d: feature %d out of range (%d features)", i, f, d)
		}
		if math.IsNaN(float64(t.Threshold[i])) {
			return fmt.Errorf("node %d: threshold is NaN", i)
		}
		// Children after their parent: no cycles; one parent each: a tree.
		for _, c := range [2]int32{l, r} {
			if int(c) <= i || int(c) >= n {
				return fmt.Errorf("node %d: child %d out of order or range", i, c)
			}
			if parents[c] > 0 {
				return fmt.Errorf("node %d has two parents", c)
			}
			parents[c]++
		}
	}
	for i := 1; i < n; i++ {
		if parents[i] == 0 {
			return fmt.Errorf("node %d is unreachable", i)
		}
	}
	if len(t.Value) != leaves*k {
		return fmt.Errorf("%d values for %d leaves of %d classes", len(t.Value), leaves, k)
	}
	if err := finite("leaf", t.Value); err != nil {
		return err
	}
	if probs {
		for i := 0; i < leaves; i++ {
			v := t.Value[i*k : i*k+k]
			var s float64
			for _, p := range v {
				if p < 0 || p > 1 {
					return fmt.Errorf("leaf %d: class frequency %g outside [0,1]", i, p)
				}
				s += float64(p)
			}
			if math.Abs(s-1) > 1e-3 {
				return fmt.Errorf("leaf %d: class frequencies sum to %g", i, s)
			}
		}
	}
	return nil
}

// Equal reports whether two models have the same kind, names, base and
// trees (training records aside).
func (m *Model) Equal(o *Model) bool {
	if m.Kind != o.Kind || !slices.Equal(m.Features, o.Features) || !slices.Equal(m.Classes, o.Classes) ||
		!slices.Equal(m.Base, o.Base) || len(m.trees) != len(o.trees) {
		return false
	}
	for i := range m.trees {
		a, b := &m.trees[i], &o.trees[i]
		if !slices.Equal(a.Feature, b.Feature) || !slices.Equal(a.Threshold, b.Threshold) ||
			!slices.Equal(a.Left, b.Left) || !slices.Equal(a.Right, b.Right) || !slices.Equal(a.Value, b.Value) {
			return false
		}
	}
	return true
}
