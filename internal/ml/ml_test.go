package ml

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// synth makes a noisy k-class problem: each class has its own mean per
// feature; some features are pure noise, one is heavy-tailed with +Inf.
func synth(n, d, k int, seed uint64) *Task {
	rng := rand.New(rand.NewPCG(seed, 7))
	t := &Task{N: n, D: d, X: make([]float32, n*d), Y: make([]int, n)}
	for f := 0; f < d; f++ {
		t.Features = append(t.Features, fmt.Sprintf("f%d", f))
	}
	for c := 0; c < k; c++ {
		t.Classes = append(t.Classes, fmt.Sprintf("c%d", c))
	}
	means := make([]float64, k*d)
	for i := range means {
		means[i] = rng.NormFloat64() * 2
	}
	for i := 0; i < n; i++ {
		c := i % k
		t.Y[i] = c
		for f := 0; f < d; f++ {
			v := means[c*d+f] + rng.NormFloat64()
			switch {
			case f == d-1: // noise
				v = rng.NormFloat64()
			case f == 0 && rng.IntN(20) == 0:
				v = math.Inf(1)
			case f == 1:
				v = math.Round(v) // few distinct values
			}
			t.X[i*d+f] = float32(v)
		}
	}
	return t
}

// separable makes data a tree can classify perfectly but no single split
// improves: class = XOR of two thresholds, plus a third class by a third
// feature.
func separable(n int, seed uint64) *Task {
	rng := rand.New(rand.NewPCG(seed, 9))
	t := &Task{N: n, D: 3, X: make([]float32, n*3), Y: make([]int, n),
		Features: []string{"a", "b", "c"}, Classes: []string{"x0", "x1", "z"}}
	for i := 0; i < n; i++ {
		a, b, c := rng.Float32(), rng.Float32(), rng.Float32()
		y := 0
		if (a > 0.5) != (b > 0.5) {
			y = 1
		}
		if c > 0.8 {
			y = 2
		}
		t.X[i*3], t.X[i*3+1], t.X[i*3+2] = a, b, c
		t.Y[i] = y
	}
	return t
}

func train(t *testing.T, task *Task, cfg Config) *Model {
	t.Helper()
	m, err := Train(context.Background(), task, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func predictAll(m *Model, task *Task) []int {
	out := make([]int, task.N)
	m.PredictBatch(task.X, out)
	return out
}

func TestTreeSeparableIsPerfect(t *testing.T) {
	task := separable(2000, 1)
	for _, kind := range []Kind{Tree, Forest} {
		cfg := DefaultConfig(kind)
		if kind == Forest {
			cfg.NoBootstrap, cfg.Trees = true, 5
		}
		m := train(t, task, cfg)
		for i, p := range predictAll(m, task) {
			if p != task.Y[i] {
				t.Fatalf("%s: row %d: predicted %d, label %d", kind, i, p, task.Y[i])
			}
		}
	}
	// Unseen points well inside each region.
	m := train(t, task, DefaultConfig(Tree))
	for _, c := range []struct {
		x    []float32
		want int
	}{{[]float32{0.1, 0.1, 0.1}, 0}, {[]float32{0.9, 0.1, 0.1}, 1}, {[]float32{0.1, 0.9, 0.5}, 1}, {[]float32{0.9, 0.9, 0.2}, 0}, {[]float32{0.5, 0.2, 0.95}, 2}} {
		if got := m.Predict(c.x, make([]float64, 3)); got != c.want {
			t.Errorf("tree predicts %d for %v, want %d", got, c.x, c.want)
		}
	}
}

func shuffled(task *Task, seed uint64) *Task {
	perm := rand.New(rand.NewPCG(seed, 3)).Perm(task.N)
	return task.Subset(perm)
}

func TestRowOrderDoesNotMatter(t *testing.T) {
	task := synth(1500, 6, 4, 2)
	other := shuffled(task, 5)
	for _, cfg := range []Config{DefaultConfig(Tree), {Kind: Forest, Trees: 8, NoBootstrap: true, MaxFeatures: 2, Seed: 3}} {
		a, b := train(t, task, cfg), train(t, other, cfg)
		if !a.Equal(b) {
			t.Errorf("%s: shuffling the rows changed the model", cfg.Kind)
		}
	}
	// Boosting sums float gradients, whose rounding depends on order: the
	// predictions must agree, the leaf values to rounding.
	cfg := DefaultConfig(GBDT)
	cfg.Rounds = 20
	a, b := train(t, task, cfg), train(t, other, cfg)
	pa, pb := make([]float64, 4), make([]float64, 4)
	for i := 0; i < task.N; i++ {
		a.PredictProba(task.Row(i), pa)
		b.PredictProba(task.Row(i), pb)
		for c := range pa {
			if math.Abs(pa[c]-pb[c]) > 1e-4 {
				t.Fatalf("gbdt: row %d class %d: %g vs %g after shuffling", i, c, pa[c], pb[c])
			}
		}
	}
}

func TestDeterministicWithSeed(t *testing.T) {
	task := synth(1200, 8, 3, 4)
	for _, kind := range []Kind{Forest, GBDT} {
		cfg := DefaultConfig(kind)
		cfg.Trees, cfg.Rounds, cfg.Seed = 10, 10, 42
		cfg.Workers = 1
		a := train(t, task, cfg)
		cfg.Workers = 4
		b := train(t, task, cfg)
		if !a.Equal(b) {
			t.Errorf("%s: same seed, different workers, different model", kind)
		}
		if kind == Forest {
			cfg.Seed = 43
			if c := train(t, task, cfg); a.Equal(c) {
				t.Errorf("forest: seeds 42 and 43 gave the same model (bootstrap not seeded?)")
			}
		}
	}
}

func TestProbabilitiesSumToOne(t *testing.T) {
	task := synth(800, 5, 5, 6)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, kind := range []Kind{Tree, Forest, GBDT} {
		cfg := DefaultConfig(kind)
		cfg.Trees, cfg.Rounds = 15, 15
		m := train(t, task, cfg)
		p := make([]float64, 5)
		x := make([]float32, 5)
		for i := 0; i < 500; i++ {
			for f := range x {
				x[f] = float32(rng.NormFloat64() * 10)
			}
			if i%10 == 0 {
				x[i%5] = float32(math.Inf(1 - 2*(i/10%2)))
			}
			m.PredictProba(x, p)
			var s float64
			for _, v := range p {
				if v < 0 || v > 1 || math.IsNaN(v) {
					t.Fatalf("%s: probability %g", kind, v)
				}
				s += v
			}
			if math.Abs(s-1) > 1e-9 {
				t.Fatalf("%s: probabilities sum to %.12f for %v", kind, s, x)
			}
		}
	}
}

func TestForestOfOneTreeIsATree(t *testing.T) {
	task := synth(1000, 7, 3, 8)
	tr := train(t, task, DefaultConfig(Tree))
	fo := train(t, task, Config{Kind: Forest, Trees: 1, NoBootstrap: true, MaxFeatures: 7, Seed: 99})
	if len(fo.trees) != 1 || !tr.trees[0].equal(&fo.trees[0]) {
		t.Fatal("a forest of one tree without bagging or feature sampling differs from a tree")
	}
	p, q := make([]float64, 3), make([]float64, 3)
	for i := 0; i < task.N; i++ {
		tr.PredictProba(task.Row(i), p)
		fo.PredictProba(task.Row(i), q)
		for c := range p {
			if p[c] != q[c] {
				t.Fatalf("row %d: %v vs %v", i, p, q)
			}
		}
	}
}

func TestGBDTLossDecreases(t *testing.T) {
	task := synth(1500, 6, 4, 10)
	cfg := DefaultConfig(GBDT)
	cfg.Rounds = 30
	m := train(t, task, cfg)
	loss := m.Training.Loss
	if len(loss) != 31 {
		t.Fatalf("%d loss values, want 31", len(loss))
	}
	if want := math.Log(4); math.Abs(loss[0]-want) > 0.05 {
		t.Errorf("initial loss %g, want about log(4) = %g for balanced classes", loss[0], want)
	}
	for i := 1; i < len(loss); i++ {
		if loss[i] > loss[i-1]+1e-12 {
			t.Fatalf("loss rose at round %d: %g -> %g", i, loss[i-1], loss[i])
		}
	}
	if loss[len(loss)-1] > loss[0]/2 {
		t.Errorf("loss only fell from %g to %g", loss[0], loss[len(loss)-1])
	}
}

func TestLearnersGeneralise(t *testing.T) {
	all := synth(3000, 10, 4, 12)
	folds, err := StratifiedFolds(all.Y, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []Kind{Tree, Forest, GBDT} {
		cfg := DefaultConfig(kind)
		cfg.Trees, cfg.Rounds = 30, 30
		res, err := CrossValidate(context.Background(), all, cfg, folds)
		if err != nil {
			t.Fatal(err)
		}
		// The classes' means are ~2 standard deviations apart on 9
		// features: a good learner is far above chance (0.25).
		floor := 0.85
		if kind == Tree {
			floor = 0.7
		}
		if res.MacroF1Mean < floor {
			t.Errorf("%s: macro-F1 %.3f below %.2f", kind, res.MacroF1Mean, floor)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	task := synth(600, 4, 3, 14)
	for _, kind := range []Kind{Tree, Forest, GBDT} {
		cfg := DefaultConfig(kind)
		cfg.Trees, cfg.Rounds = 5, 5
		m := train(t, task, cfg)
		var buf bytes.Buffer
		if err := m.Save(&buf); err != nil {
			t.Fatal(err)
		}
		l, err := Load(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if !m.Equal(l) || l.Training.Rows != 600 || l.Training.Config.Kind != kind {
			t.Fatalf("%s: loaded model differs", kind)
		}
		p, q := make([]float64, 3), make([]float64, 3)
		for i := 0; i < task.N; i++ {
			m.Scores(task.Row(i), p)
			l.Scores(task.Row(i), q)
			for c := range p {
				if p[c] != q[c] {
					t.Fatalf("%s: row %d scores %v vs %v", kind, i, p, q)
				}
			}
		}
	}
}

func TestLoadRefusesOtherVersionsAndBadFiles(t *testing.T) {
	m := train(t, synth(300, 3, 2, 1), Config{Kind: Tree})
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	cases := []struct {
		name, in, want string
	}{
		{"version", strings.Replace(good, `"version":1`, `"version":2`, 1), "file has version 2, this heir reads version 1"},
		{"format", strings.Replace(good, `"heir-ml-model"`, `"other"`, 1), `format "other"`},
		{"kind", strings.Replace(good, `"kind":"tree","output"`, `"kind":"svm","output"`, 1), `unknown model kind "svm"`},
		{"output", strings.Replace(good, `"mean-probability"`, `"softmax"`, 1), `has output "mean-probability"`},
		{"duplicate feature", strings.Replace(good, `"features":["f0","f1"`, `"features":["f0","f0"`, 1), `feature "f0" appears twice`},
		{"unknown field", strings.Replace(good, `"format"`, `"extra":1,"format"`, 1), `unknown field "extra"`},
		{"cycle", strings.Replace(good, `"left":[1,`, `"left":[0,`, 1), "child 0 out of order"},
		{"truncated", good[:len(good)/2], "unexpected EOF"},
		{"empty", "", "EOF"},
	}
	for _, c := range cases {
		_, err := Load(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if c.name == "version" && !errors.Is(err, ErrVersion) {
			t.Errorf("version error does not wrap ErrVersion: %v", err)
		}
	}
}

func TestCheckFeatures(t *testing.T) {
	m := &Model{Features: []string{"a", "b", "c"}}
	cases := []struct {
		names []string
		want  string
	}{
		{[]string{"a", "b", "c"}, ""},
		{[]string{"a", "x", "c"}, `feature 2: model expects "b", data has "x"`},
		{[]string{"a", "b"}, `model expects 3 features, data has 2 (first missing: "c")`},
		{[]string{"a", "b", "c", "d"}, `model expects 3 features, data has 4 (first extra: "d")`},
	}
	for _, c := range cases {
		err := m.CheckFeatures(c.names)
		if c.want == "" {
			if err != nil {
				t.Errorf("%v: %v", c.names, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrFeatures) {
			t.Errorf("%v: error %v, want %q", c.names, err, c.want)
		}
	}
}

func TestScore(t *testing.T) {
	// Worked by hand: class a: tp 2, fp 1, fn 1 -> P 2/3 R 2/3 F1 2/3;
	// b: tp 1, fp 1, fn 2 -> P 1/2 R 1/3 F1 2/5; c: tp 0, fn 1 -> 0 (in truth);
	// d: predicted once, never true -> F1 0 but counted, as scikit-learn.
	truth := []int{0, 0, 0, 1, 1, 2, 1}
	pred := []int{0, 0, 1, 1, 0, 3, 3}
	m, err := Score([]string{"a", "b", "c", "d", "e"}, truth, pred)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{2.0 / 3, 0.4, 0, 0}
	for c, w := range want {
		if math.Abs(m.PerClass[c].F1-w) > 1e-12 {
			t.Errorf("class %d F1 %g, want %g", c, m.PerClass[c].F1, w)
		}
	}
	if wantMacro := (2.0/3 + 0.4) / 4; math.Abs(m.MacroF1-wantMacro) > 1e-12 {
		t.Errorf("macro-F1 %g, want %g (class e, absent everywhere, not counted)", m.MacroF1, wantMacro)
	}
	if math.Abs(m.Accuracy-3.0/7) > 1e-12 {
		t.Errorf("accuracy %g, want 3/7", m.Accuracy)
	}
}

func TestStratifiedFolds(t *testing.T) {
	var y []int
	for c, n := range []int{50, 7, 23, 3} {
		for range n {
			y = append(y, c)
		}
	}
	f1, err := StratifiedFolds(y, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	f2, _ := StratifiedFolds(y, 5, 1)
	f3, _ := StratifiedFolds(y, 5, 2)
	same, differ := true, false
	per := map[[2]int]int{}
	size := make([]int, 5)
	for i := range y {
		same = same && f1[i] == f2[i]
		differ = differ || f1[i] != f3[i]
		per[[2]int{y[i], f1[i]}]++
		size[f1[i]]++
	}
	if !same || !differ {
		t.Errorf("folds not a function of the seed: same seed equal %v, other seed differs %v", same, differ)
	}
	for c, n := range []int{50, 7, 23, 3} {
		for f := 0; f < 5; f++ {
			got := per[[2]int{c, f}]
			if got < n/5 || got > n/5+1 {
				t.Errorf("class %d fold %d: %d rows of %d", c, f, got, n)
			}
		}
	}
	for f, s := range size {
		if s < 16 || s > 17 {
			t.Errorf("fold %d has %d rows of 83", f, s)
		}
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	task := synth(100, 3, 2, 1)
	task.X[5] = float32(math.NaN())
	if _, err := Train(context.Background(), task, DefaultConfig(Tree)); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN feature: %v", err)
	}
	one := synth(100, 3, 2, 1)
	one.Classes = one.Classes[:1]
	if _, err := Train(context.Background(), one, DefaultConfig(Tree)); err == nil {
		t.Error("one class accepted")
	}
	if _, err := Train(context.Background(), synth(100, 3, 2, 1), Config{Kind: "svm"}); err == nil {
		t.Error("unknown kind accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, synth(500, 3, 2, 1), DefaultConfig(GBDT)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled training: %v", err)
	}
}

func TestPredictAllocatesNothing(t *testing.T) {
	task := synth(500, 6, 4, 3)
	for _, kind := range []Kind{Tree, Forest, GBDT} {
		cfg := DefaultConfig(kind)
		cfg.Trees, cfg.Rounds = 10, 10
		m := train(t, task, cfg)
		p := make([]float64, 4)
		x := task.Row(7)
		if n := testing.AllocsPerRun(100, func() { m.PredictProba(x, p); m.Predict(x, p) }); n != 0 {
			t.Errorf("%s: %v allocations per row", kind, n)
		}
	}
}

func (t *tree) equal(o *tree) bool {
	a := &Model{trees: []tree{*t}}
	b := &Model{trees: []tree{*o}}
	return a.Equal(b)
}

// The complete-tree layout (8 trees in step, float32 sums) must score as
// the plain node walk does.
func TestCompleteLayoutMatchesNodeWalk(t *testing.T) {
	task := synth(1500, 9, 5, 21)
	cfg := DefaultConfig(GBDT)
	cfg.Rounds, cfg.MaxDepth = 13, 5 // 8 in step + 5 alone
	m := train(t, task, cfg)
	if m.depth != 5 {
		t.Fatalf("complete layout depth %d, want 5", m.depth)
	}
	walk := *m
	walk.depth = 0
	a, b := make([]float64, 5), make([]float64, 5)
	for i := 0; i < task.N; i++ {
		m.Scores(task.Row(i), a)
		walk.Scores(task.Row(i), b)
		for c := range a {
			if math.Abs(a[c]-b[c]) > 1e-5 {
				t.Fatalf("row %d class %d: complete %g, node walk %g", i, c, a[c], b[c])
			}
		}
	}
}
