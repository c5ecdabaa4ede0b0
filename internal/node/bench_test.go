package node

import (
	"context"
	"log/slog"
	"testing"

	"github.com/heir-emd/heir/internal/store/sqlite"
	"github.com/heir-emd/heir/internal/store/storetest"
)

// BenchmarkScoringRun scores a generated hospital (storetest.Fill: 5,000
// devices with their findings, vulnerability matches and top peers,
// 50,000 alerts) on SQLite. The baseline, writeAll, is a node that has
// stored nothing yet (its first run of a day, or after a restart): every
// device's score and vulnerability set is written. unchanged is the
// steady state: a run on the same node where nothing changed since the
// last, which writes only the hospital's score.
//
//	go test -run '^$' -bench ScoringRun -benchtime 5x ./internal/node/
func BenchmarkScoringRun(b *testing.B) {
	ctx := context.Background()
	scale := storetest.HospitalScale
	scale.Assets, scale.Alerts = 5_000, 50_000
	db, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := storetest.Fill(ctx, db.Bulk(), scale); err != nil {
		b.Fatal(err)
	}
	now := storetest.BenchEnd
	log := slog.New(slog.DiscardHandler)
	b.Run("writeAll", func(b *testing.B) {
		for b.Loop() {
			sc := &Scoring{Store: db, Log: log}
			if _, err := sc.Once(ctx, now); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(scale.Assets), "µs/device")
	})
	b.Run("unchanged", func(b *testing.B) {
		sc := &Scoring{Store: db, Log: log}
		if _, err := sc.Once(ctx, now); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := sc.Once(ctx, now); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(scale.Assets), "µs/device")
	})
}
