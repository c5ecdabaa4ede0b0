package ml

import (
	"bytes"
	"context"
	"math"
	"testing"
)

// FuzzLoadModel: Load must never panic or accept a model it cannot score
// with; an accepted model predicts probabilities that sum to 1 for any
// row, the same class with the assembly kernels (Predict, PredictBatch) as
// with the Go walk, and saving and loading it again gives the same model.
func FuzzLoadModel(f *testing.F) {
	task := synth(200, 3, 3, 1)
	for _, kind := range []Kind{Tree, Forest, GBDT} {
		cfg := DefaultConfig(kind)
		cfg.Trees, cfg.Rounds, cfg.MaxDepth = 2, 2, 3
		m, err := Train(context.Background(), task, cfg)
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := m.Save(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte(`{"format":"heir-ml-model","version":1,"kind":"gbdt","output":"softmax","features":["a"],"classes":["x","y"],"base":[0,0],` +
		`"trees":[{"feature":[0,-1,-1],"threshold":[0.5,0,0],"left":[1,-1,-1],"right":[2,-1,-1],"value":[1,-1,-1,1]}],"training":{"config":{"kind":"gbdt","seed":0,"max_bins":0,"max_depth":0},"rows":0}}`))
	f.Add([]byte(`{"format":"heir-ml-model","version":2}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Load(bytes.NewReader(in))
		if err != nil {
			return
		}
		k, d := len(m.Classes), len(m.Features)
		p := make([]float64, k)
		ref := *m
		ref.fast = nil
		vals := []float32{0, -1e30, 1e30, float32(math.Inf(1)), float32(math.NaN())}
		X := make([]float32, len(vals)*d)
		for r, v := range vals {
			x := X[r*d : (r+1)*d]
			for i := range x {
				x[i] = v
			}
			m.PredictProba(x, p)
			var s float64
			for _, q := range p {
				s += q
			}
			if math.IsNaN(s) || math.Abs(s-1) > 1e-6 {
				t.Fatalf("probabilities sum to %g for %v", s, v)
			}
			if c := m.Predict(x, p); c < 0 || c >= k {
				t.Fatalf("class %d of %d", c, k)
			} else if w := ref.Predict(x, p); c != w {
				t.Fatalf("row of %v: class %d, Go walk %d", v, c, w)
			}
		}
		out := make([]int, len(vals))
		m.PredictBatch(X, out)
		for r, c := range out {
			if w := ref.Predict(X[r*d:(r+1)*d], p); c != w {
				t.Fatalf("PredictBatch row of %v: class %d, Go walk %d", vals[r], c, w)
			}
		}
		var buf bytes.Buffer
		if err := m.Save(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := Load(&buf)
		if err != nil {
			t.Fatalf("saved model does not load: %v", err)
		}
		if !m.Equal(again) {
			t.Fatal("save and load changed the model")
		}
	})
}
