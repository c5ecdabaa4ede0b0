package rama_test

import (
	"context"
	"testing"

	"github.com/heir-emd/heir/internal/rama"
	"github.com/heir-emd/heir/internal/rama/ramagen"
)

// The whole-hospital figures (350,000 devices, against the bare formula
// and a re-sorting roll-up) come from `go run ./bench/rama`; these
// benchmarks time the parts and prove the scoring path allocates nothing.

func benchDevices(b *testing.B, n int) (*rama.Scorer, []*rama.Device) {
	b.Helper()
	s, err := rama.NewScorer(rama.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	return s, ramagen.Generate(ramagen.Options{Devices: n, Seed: 1})
}

func BenchmarkScore(b *testing.B) {
	s, devs := benchDevices(b, 10000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Score(devs[i%len(devs)], ramagen.DefaultAt)
		i++
	}
}

func BenchmarkExplain(b *testing.B) {
	s, devs := benchDevices(b, 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Explain(devs[i%len(devs)], ramagen.DefaultAt)
		i++
	}
}

func BenchmarkRecompute50k(b *testing.B) {
	s, devs := benchDevices(b, 50000)
	e := rama.NewEngine(s)
	if err := e.Load(context.Background(), devs, ramagen.DefaultAt); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Recompute(context.Background(), ramagen.DefaultAt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/50000, "ns/device")
}

func BenchmarkUpsertAndHospital(b *testing.B) {
	s, devs := benchDevices(b, 50000)
	e := rama.NewEngine(s)
	if err := e.Load(context.Background(), devs, ramagen.DefaultAt); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Upsert(devs[(i*7919)%len(devs)], ramagen.DefaultAt)
		e.Hospital()
		i++
	}
}

func BenchmarkParseConfig(b *testing.B) {
	data := []byte("hospital:\n  top_k: 20\nfindings:\n  kinds:\n    smbv1: {weight: 0.6, enisa: [1, 14]}\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rama.ParseConfig("bench", data); err != nil {
			b.Fatal(err)
		}
	}
}
