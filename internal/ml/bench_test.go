package ml

import (
	"context"
	"testing"
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
	for i := 0; b.Loop(); i++ {
		r := i % task.N
		m.Predict(task.X[r*task.D:(r+1)*task.D], p)
		rows++
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkPredictGBDT(b *testing.B) {
	m, task := benchModel(b, GBDT)
	benchPredict(b, m, task)
}

func BenchmarkPredictForest(b *testing.B) {
	m, task := benchModel(b, Forest)
	benchPredict(b, m, task)
}
