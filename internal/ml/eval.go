package ml

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"time"
)

// ClassScore is one class's precision, recall and F1 on an evaluation set.
type ClassScore struct {
	Class     string  `json:"class"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
}

// Metrics summarise predictions against the truth.
type Metrics struct {
	Classes   []string     `json:"classes"`
	Confusion [][]int      `json:"confusion"` // [true][predicted]
	PerClass  []ClassScore `json:"per_class"`
	// MacroF1 is the unweighted mean F1 over classes that occur in the
	// truth or the predictions (scikit-learn's f1_score(average="macro")).
	MacroF1  float64 `json:"macro_f1"`
	Accuracy float64 `json:"accuracy"`
	N        int     `json:"n"`
}

// Score compares predicted with true class indices into classes.
func Score(classes []string, truth, pred []int) (Metrics, error) {
	if len(truth) != len(pred) {
		return Metrics{}, fmt.Errorf("score: %d labels, %d predictions", len(truth), len(pred))
	}
	k := len(classes)
	m := Metrics{Classes: classes, Confusion: make([][]int, k), N: len(truth)}
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, k)
	}
	correct := 0
	for i, t := range truth {
		p := pred[i]
		if t < 0 || t >= k || p < 0 || p >= k {
			return Metrics{}, fmt.Errorf("score: row %d: class out of range", i)
		}
		m.Confusion[t][p]++
		if t == p {
			correct++
		}
	}
	if len(truth) > 0 {
		m.Accuracy = float64(correct) / float64(len(truth))
	}
	used := 0
	for c := 0; c < k; c++ {
		tp := m.Confusion[c][c]
		support, predicted := 0, 0
		for j := 0; j < k; j++ {
			support += m.Confusion[c][j]
			predicted += m.Confusion[j][c]
		}
		s := ClassScore{Class: classes[c], Support: support}
		if predicted > 0 {
			s.Precision = float64(tp) / float64(predicted)
		}
		if support > 0 {
			s.Recall = float64(tp) / float64(support)
		}
		if s.Precision+s.Recall > 0 {
			s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
		}
		m.PerClass = append(m.PerClass, s)
		if support > 0 || predicted > 0 {
			m.MacroF1 += s.F1
			used++
		}
	}
	if used > 0 {
		m.MacroF1 /= float64(used)
	}
	return m, nil
}

// Evaluate scores the model on a labelled task. The task's columns must be
// the model's; its classes are matched by name, and a class the model
// does not know counts as always mispredicted.
func Evaluate(m *Model, t *Task) (Metrics, error) {
	if err := m.CheckFeatures(t.Features); err != nil {
		return Metrics{}, fmt.Errorf("evaluate: %w", err)
	}
	classes := append([]string(nil), m.Classes...)
	index := map[string]int{}
	for i, c := range classes {
		index[c] = i
	}
	remap := make([]int, len(t.Classes))
	for i, c := range t.Classes {
		j, ok := index[c]
		if !ok {
			j = len(classes)
			classes = append(classes, c)
			index[c] = j
		}
		remap[i] = j
	}
	truth := make([]int, t.N)
	pred := make([]int, t.N)
	for i, y := range t.Y {
		truth[i] = remap[y]
	}
	m.PredictBatch(t.X, pred)
	return Score(classes, truth, pred)
}

// StratifiedFolds assigns each row a fold in [0,k) so that every class is
// spread evenly over the folds: each class's rows are shuffled with seed,
// then dealt round-robin, continuing the deal from class to class so the
// folds' sizes differ by at most one. The same labels and seed always give
// the same folds.
func StratifiedFolds(y []int, k int, seed uint64) ([]int, error) {
	if k < 2 {
		return nil, fmt.Errorf("folds: k = %d, want at least 2", k)
	}
	byClass := map[int][]int{}
	maxC := -1
	for i, c := range y {
		if c < 0 {
			return nil, fmt.Errorf("folds: row %d has class %d", i, c)
		}
		byClass[c] = append(byClass[c], i)
		maxC = max(maxC, c)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5f0f))
	folds := make([]int, len(y))
	deal := 0
	for c := 0; c <= maxC; c++ {
		rows := byClass[c]
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for _, r := range rows {
			folds[r] = deal % k
			deal++
		}
	}
	return folds, nil
}

// FoldResult is one cross-validation fold's outcome.
type FoldResult struct {
	Fold        int           `json:"fold"`
	TrainRows   int           `json:"train_rows"`
	TestRows    int           `json:"test_rows"`
	TrainTime   time.Duration `json:"train_ns"`
	PredictTime time.Duration `json:"predict_ns"` // one goroutine over the test rows
	// CPU time of the process during training and prediction (0 where not
	// measured): on a busy machine it is the fairer figure.
	TrainCPU   time.Duration `json:"train_cpu_ns"`
	PredictCPU time.Duration `json:"predict_cpu_ns"`
	Metrics    Metrics       `json:"metrics"`
}

// CVResult is a cross-validation's outcome: per fold, and the macro-F1's
// mean and standard deviation over folds.
type CVResult struct {
	Config      Config       `json:"config"`
	Folds       []FoldResult `json:"folds"`
	MacroF1Mean float64      `json:"macro_f1_mean"`
	MacroF1Std  float64      `json:"macro_f1_std"`
	// Pooled scores the test predictions of all folds together.
	Pooled Metrics `json:"pooled"`
}

// RowsPerSecond is the prediction rate over all folds.
func (r *CVResult) RowsPerSecond() float64 {
	var n int
	var d time.Duration
	for _, f := range r.Folds {
		n += f.TestRows
		d += f.PredictTime
	}
	if d <= 0 {
		return math.Inf(1)
	}
	return float64(n) / d.Seconds()
}

// RowsPerCPUSecond is the prediction rate per second of CPU time.
func (r *CVResult) RowsPerCPUSecond() float64 {
	var n int
	var d time.Duration
	for _, f := range r.Folds {
		n += f.TestRows
		d += f.PredictCPU
	}
	if d <= 0 {
		return math.Inf(1)
	}
	return float64(n) / d.Seconds()
}

// MeanTrainCPU is the mean training CPU time per fold.
func (r *CVResult) MeanTrainCPU() time.Duration {
	if len(r.Folds) == 0 {
		return 0
	}
	var d time.Duration
	for _, f := range r.Folds {
		d += f.TrainCPU
	}
	return d / time.Duration(len(r.Folds))
}

// MeanTrainTime is the mean training time per fold.
func (r *CVResult) MeanTrainTime() time.Duration {
	if len(r.Folds) == 0 {
		return 0
	}
	var d time.Duration
	for _, f := range r.Folds {
		d += f.TrainTime
	}
	return d / time.Duration(len(r.Folds))
}

// CrossValidate trains on all folds but one and tests on it, for each fold
// in folds (one fold index per row).
func CrossValidate(ctx context.Context, t *Task, cfg Config, folds []int) (*CVResult, error) {
	if len(folds) != t.N {
		return nil, fmt.Errorf("cross-validate: %d fold assignments for %d rows", len(folds), t.N)
	}
	k := 0
	for _, f := range folds {
		if f < 0 {
			return nil, errors.New("cross-validate: negative fold")
		}
		k = max(k, f+1)
	}
	res := &CVResult{}
	allTruth := make([]int, 0, t.N)
	allPred := make([]int, 0, t.N)
	for f := 0; f < k; f++ {
		var tr, te []int
		for i, g := range folds {
			if g == f {
				te = append(te, i)
			} else {
				tr = append(tr, i)
			}
		}
		if len(te) == 0 {
			continue
		}
		train, test := t.Subset(tr), t.Subset(te)
		runtime.GC() // keep the previous fold's garbage out of this fold's timing
		start, cpu := time.Now(), processCPU()
		m, err := Train(ctx, train, cfg)
		if err != nil {
			return nil, fmt.Errorf("cross-validate fold %d: %w", f, err)
		}
		trainTime, trainCPU := time.Since(start), processCPU()-cpu
		res.Config = m.Training.Config
		pred := make([]int, test.N)
		start, cpu = time.Now(), processCPU()
		m.PredictBatch(test.X, pred)
		predTime, predCPU := time.Since(start), processCPU()-cpu
		met, err := Score(t.Classes, test.Y, pred)
		if err != nil {
			return nil, err
		}
		res.Folds = append(res.Folds, FoldResult{Fold: f, TrainRows: train.N, TestRows: test.N,
			TrainTime: trainTime, PredictTime: predTime, TrainCPU: trainCPU, PredictCPU: predCPU, Metrics: met})
		allTruth = append(allTruth, test.Y...)
		allPred = append(allPred, pred...)
	}
	if len(res.Folds) == 0 {
		return nil, errors.New("cross-validate: no folds")
	}
	for _, f := range res.Folds {
		res.MacroF1Mean += f.Metrics.MacroF1
	}
	res.MacroF1Mean /= float64(len(res.Folds))
	for _, f := range res.Folds {
		d := f.Metrics.MacroF1 - res.MacroF1Mean
		res.MacroF1Std += d * d
	}
	res.MacroF1Std = math.Sqrt(res.MacroF1Std / float64(len(res.Folds)))
	var err error
	res.Pooled, err = Score(t.Classes, allTruth, allPred)
	return res, err
}
