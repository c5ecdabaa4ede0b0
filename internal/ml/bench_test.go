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

func BenchmarkPredictGBDT(b *testing.B) {
	m, task := benchModel(b, GBDT)
	benchPredict(b, m, task)
}

func BenchmarkPredictForest(b *testing.B) {
	m, task := benchModel(b, Forest)
	benchPredict(b, m, task)
}

// BenchmarkPredictCICIoMT trains the default gbdt and forest on the whole
// CICIoMT2024 sample (19 classes; setup takes a while) and measures
// prediction over its rows.
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
		for _, kind := range []Kind{GBDT, Forest} {
			// Training inside the sub-benchmark (b.Loop runs it once), so
			// -bench can pick one model.
			b.Run(fmt.Sprintf("%s/%s", kind, g), func(b *testing.B) {
				m, err := Train(context.Background(), task, DefaultConfig(kind))
				if err != nil {
					b.Fatal(err)
				}
				benchPredict(b, m, task)
			})
		}
	}
}
