package ml

import (
	"bytes"
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
// layout: same leaves, same float32 additions in the same order. The
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
		ref := *m
		ref.fast = nil
		a, b, l := make([]float64, c.k), make([]float64, c.k), make([]float64, c.k)
		for i, x := range fastRows(m, task) {
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
