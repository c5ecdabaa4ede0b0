package ml

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// fastRows returns rows that probe the walk: the task's rows, rows whose
// feature sits exactly on a threshold or one float32 step either side of
// it, signed zeros, infinities and NaN (which takes the Go walk).
func fastRows(m *Model, task *Task) [][]float32 {
	var rows [][]float32
	for i := range task.N {
		rows = append(rows, task.Row(i))
	}
	rng := rand.New(rand.NewPCG(9, 9))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.MaxFloat32}
	for i, n := range m.cnodes {
		if math.IsInf(float64(n.thr), 1) || i%3 != 0 {
			continue
		}
		for _, v := range []float32{n.thr, math.Nextafter32(n.thr, float32(math.Inf(1))), math.Nextafter32(n.thr, float32(math.Inf(-1))), special[rng.IntN(len(special))]} {
			x := append([]float32(nil), task.Row(rng.IntN(task.N))...)
			x[n.feat] = v
			rows = append(rows, x)
		}
	}
	// Longer than the model's features: the extra values are ignored.
	rows = append(rows, append(append([]float32(nil), task.Row(0)...), float32(math.NaN())))
	return rows
}

// The assembly kernels must score exactly as the Go walk of the complete
// layout: same leaves, same float32 additions in the same order, row by
// row (Scores, Predict) and 64 rows at a time (blockScores, PredictBatch). The
// cases cross the kernels' edges: tree counts that are not a multiple of
// eight or exceed one batch (128 trees), depths 1 to 10, class counts
// that fill one to four 8-lane chunks, and more classes than the fast
// path serves. BenchmarkPredictCICIoMT checks the same on the real
// sample before timing.
func TestFastMatchesReference(t *testing.T) {
	if !fastKernels() {
		t.Skip("no assembly kernels on this CPU or architecture: Scores always takes the Go walk")
	}
	for _, c := range []struct {
		k, depth, rounds int
		fast             bool
	}{
		{19, 6, 137, true}, {2, 1, 9, true}, {5, 10, 20, true}, {8, 3, 8, true}, {32, 4, 17, true}, {33, 3, 5, false},
	} {
		task := synth(1200, 7, c.k, uint64(c.k))
		cfg := DefaultConfig(GBDT)
		cfg.Rounds, cfg.MaxDepth, cfg.MinChildWeight = c.rounds, c.depth, 1e-3 // small leaves: grow to full depth
		m := train(t, task, cfg)
		if (m.fast != nil) != c.fast {
			t.Fatalf("k=%d depth=%d: fast layout %v, want %v", c.k, c.depth, m.fast != nil, c.fast)
		}
		if m.depth != c.depth {
			t.Fatalf("k=%d: trees of depth %d, want %d (the case would not test that depth)", c.k, m.depth, c.depth)
		}
		var buf bytes.Buffer
		if err := m.Save(&buf); err != nil {
			t.Fatal(err)
		}
		loaded, err := Load(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if want := c.fast && c.depth <= 6 && blockKernel(); (m.fast != nil && m.fast.tbl != nil) != want {
			t.Fatalf("k=%d depth=%d: block tables %v, want %v", c.k, c.depth, m.fast != nil && m.fast.tbl != nil, want)
		}
		ref := *m
		ref.fast = nil
		rows := fastRows(m, task)
		checkBlock(t, m, &ref, rows)
		a, b, l := make([]float64, c.k), make([]float64, c.k), make([]float64, c.k)
		for i, x := range rows {
			m.Scores(x, a)
			ref.Scores(x, b)
			loaded.Scores(x, l)
			for j := range a {
				if a[j] != b[j] || l[j] != b[j] {
					t.Fatalf("k=%d depth=%d rounds=%d row %d class %d: fast %v, loaded %v, reference %v", c.k, c.depth, c.rounds, i, j, a[j], l[j], b[j])
				}
			}
			if p, q := m.Predict(x, a), ref.Predict(x, b); p != q {
				t.Fatalf("k=%d row %d: fast predicts %d, reference %d", c.k, i, p, q)
			}
		}
	}
}

// A model of many thin deep trees is small, but padded to complete trees
// it would take gigabytes: the derived layouts are skipped and the node
// walk scores it.
func TestLayoutsBounded(t *testing.T) {
	const k, depth, trees = 255, 10, 520 // 520 × (1023×8 + 1024×255×4) bytes > maxLayoutBytes
	var chain tree
	for i := range depth { // node 2i splits, 2i+1 is a leaf, the last node a leaf
		chain.Feature = append(chain.Feature, 0, -1)
		chain.Threshold = append(chain.Threshold, float32(i), 0)
		chain.Left = append(chain.Left, int32(2*i+1), -1)
		chain.Right = append(chain.Right, int32(2*i+2), -1)
	}
	chain.Feature, chain.Threshold = append(chain.Feature, -1), append(chain.Threshold, 0)
	chain.Left, chain.Right = append(chain.Left, -1), append(chain.Right, -1)
	chain.Value = make([]float32, (depth+1)*k)
	for i := range chain.Value {
		chain.Value[i] = float32(i%7) / 10
	}
	m := &Model{Kind: GBDT, Features: []string{"x"}, Base: make([]float32, k)}
	for c := range k {
		m.Classes = append(m.Classes, fmt.Sprintf("c%d", c))
	}
	for range trees {
		m.trees = append(m.trees, chain)
	}
	if err := m.compile(); err != nil {
		t.Fatal(err)
	}
	if m.depth != 0 || m.cvals != nil || m.fast != nil {
		t.Fatalf("padded layouts built for %d trees of depth %d (%d values)", trees, depth, len(m.cvals))
	}
	p := make([]float64, k)
	m.PredictProba([]float32{3.5}, p)
	var s float64
	for _, v := range p {
		s += v
	}
	if math.Abs(s-1) > 1e-9 {
		t.Errorf("probabilities sum to %v", s)
	}
}

// floatKey's unsigned order must decide x > t as the float compare does,
// for every pair, NaN and signed zeros included.
func TestFloatKeyOrder(t *testing.T) {
	inf := float32(math.Inf(1))
	vals := []float32{0, float32(math.Copysign(0, -1)), inf, -inf, float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1, -1, 1.5, -1.5, math.Nextafter32(1, 2), math.Nextafter32(-1, -2)}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		vals = append(vals, math.Float32frombits(rng.Uint32()))
	}
	for _, x := range vals {
		for _, th := range vals {
			if th != th {
				continue // thresholds are never NaN (Load refuses them)
			}
			if got, want := floatKey(x) > floatKey(th), x > th; got != want {
				t.Fatalf("x=%g (%#x) t=%g (%#x): key compare %v, float compare %v", x, math.Float32bits(x), th, math.Float32bits(th), got, want)
			}
		}
	}
}

// checkBlock compares PredictBatch and, when the model has block tables,
// blockScores with the reference on rows (cut to the model's features).
func checkBlock(t *testing.T, m, ref *Model, rows [][]float32) {
	t.Helper()
	d, k := len(m.Features), len(m.Classes)
	var X []float32
	for _, x := range rows {
		X = append(X, x[:d]...)
	}
	want := make([]float64, k)
	if m.fast != nil && m.fast.tbl != nil {
		seen := 0
		m.blockScores(X, len(rows), func(r int, s []float64) {
			if r != seen {
				t.Fatalf("blockScores gave row %d after %d rows", r, seen)
			}
			seen++
			ref.Scores(rows[r], want)
			for c := range s {
				if s[c] != want[c] {
					t.Fatalf("k=%d row %d class %d: block %v, reference %v", k, r, c, s[c], want[c])
				}
			}
		})
		if seen != len(rows) {
			t.Fatalf("blockScores gave %d rows of %d", seen, len(rows))
		}
	}
	got := make([]int, len(rows))
	m.PredictBatch(X, got)
	for r, p := range got {
		if q := ref.Predict(rows[r], want); p != q {
			t.Fatalf("k=%d row %d: PredictBatch %d, reference Predict %d", k, r, p, q)
		}
	}
}
