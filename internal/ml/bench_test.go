package ml

import (
	"context"
	"fmt"
	"testing"

	"github.com/heir-emd/heir/internal/ml/dataset"
	"github.com/heir-emd/heir/internal/testenv"
)

// benchModel trains on synthetic data shaped like the CICIoMT2024 sample
// (38 features, 19 classes) so the benchmark runs without shared data;
// BenchmarkPredictCICIoMT uses the real sample.
func benchModel(b *testing.B, kind Kind) (*Model, *Task) {
	b.Helper()
	task := synth(20000, 38, 19, 1)
	cfg := DefaultConfig(kind)
	m, err := Train(context.Background(), task, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return m, task
}

func benchPredict(b *testing.B, m *Model, task *Task) {
	p := make([]float64, len(m.Classes))
	b.ReportAllocs()
	b.ResetTimer()
	rows := 0
	cpu := processCPU()
	for i := 0; b.Loop(); i++ {
		r := i % task.N
		m.Predict(task.X[r*task.D:(r+1)*task.D], p)
		rows++
	}
	// rows/s is wall time; rows/cpu-s per second of the process's CPU
	// time, which other programs on a busy machine do not inflate.
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	if c := processCPU() - cpu; c > 0 {
		b.ReportMetric(float64(rows)/c.Seconds(), "rows/cpu-s")
	}
}

// benchFastReference runs a gbdt's prediction three ways: /reference takes
// the Go walk of the complete layout (the baseline), /fast the assembly
// kernels row by row (Predict), /batch PredictBatch's block walk, when
// this CPU has them. It first checks that all give the same scores on
// every row.
func benchFastReference(b *testing.B, m *Model, task *Task) {
	ref := *m
	ref.fast = nil
	p, q := make([]float64, len(m.Classes)), make([]float64, len(m.Classes))
	for i := range task.N {
		m.Scores(task.Row(i), p)
		ref.Scores(task.Row(i), q)
		for c := range p {
			if p[c] != q[c] {
				b.Fatalf("row %d class %d: fast %v, reference %v", i, c, p[c], q[c])
			}
		}
	}
	if m.fast != nil && m.fast.tbl != nil {
		m.blockScores(task.X, task.N, func(r int, s []float64) {
			ref.Scores(task.Row(r), q)
			for c := range s {
				if s[c] != q[c] {
					b.Fatalf("row %d class %d: block %v, reference %v", r, c, s[c], q[c])
				}
			}
		})
	}
	b.Run("reference", func(b *testing.B) { benchPredict(b, &ref, task) })
	b.Run("fast", func(b *testing.B) {
		if m.fast == nil {
			b.Skip("no fast path for this model or CPU")
		}
		benchPredict(b, m, task)
	})
	b.Run("batch", func(b *testing.B) {
		if m.fast == nil || m.fast.tbl == nil {
			b.Skip("no block walk for this model or CPU")
		}
		benchBatch(b, m, task)
	})
}

// benchBatch measures PredictBatch on 1024 rows a call; ns/op is per
// call, ns/row per row.
func benchBatch(b *testing.B, m *Model, task *Task) {
	const n = 1024
	out := make([]int, n)
	b.ReportAllocs()
	rows := 0
	cpu := processCPU()
	for i := 0; b.Loop(); i++ {
		r := (i * n) % (task.N - n)
		m.PredictBatch(task.X[r*task.D:(r+n)*task.D], out)
		rows += n
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	if c := processCPU() - cpu; c > 0 {
		b.ReportMetric(float64(rows)/c.Seconds(), "rows/cpu-s")
	}
}

func BenchmarkPredictGBDT(b *testing.B) {
	m, task := benchModel(b, GBDT)
	benchFastReference(b, m, task)
}

func BenchmarkPredictForest(b *testing.B) {
	m, task := benchModel(b, Forest)
	benchPredict(b, m, task)
}

// BenchmarkPredictCICIoMT trains the default gbdt and forest and the
// 300-round gbdt at η 0.1 ("gbdt300") on the whole CICIoMT2024 sample at
// each granularity (setup takes a while: about 40 s for gbdt300/class) and
// measures prediction over its rows; gbdt models as /reference and /fast.
func BenchmarkPredictCICIoMT(b *testing.B) {
	path := testenv.DataFile(b, "flows/ciciomt2024/merged_sample.csv.gz")
	d, err := dataset.ReadFile(path, CICIoMT2024Spec())
	if err != nil {
		b.Fatal(err)
	}
	for _, g := range Granularities {
		task, err := CICIoMT2024Task(d, g)
		if err != nil {
			b.Fatal(err)
		}
		eta := DefaultConfig(GBDT)
		eta.Rounds, eta.LearningRate = 300, 0.1
		for _, c := range []struct {
			name string
			cfg  Config
		}{{"gbdt", DefaultConfig(GBDT)}, {"gbdt300", eta}, {"forest", DefaultConfig(Forest)}} {
			// Training inside the sub-benchmark (it runs once: it has
			// sub-benchmarks or b.Loop), so -bench can pick one model.
			b.Run(fmt.Sprintf("%s/%s", c.name, g), func(b *testing.B) {
				m, err := Train(context.Background(), task, c.cfg)
				if err != nil {
					b.Fatal(err)
				}
				if c.cfg.Kind == GBDT {
					benchFastReference(b, m, task)
				} else {
					benchPredict(b, m, task)
				}
			})
		}
	}
}
