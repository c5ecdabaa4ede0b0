package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

// RunFill loads a small generated hospital through a backend's bulk
// loader and checks what the upserts would have maintained: every row is
// there, the alert rollup counts every alert, every device got its latest
// score as its risk.
func RunFill(t *testing.T, s store.Store, bulk Bulk) {
	ctx := context.Background()
	sc := Scale{Assets: 500, FindingsPerAsset: 2, Alerts: 3000, AlertDays: 3, ScoreDays: 3}
	if err := Fill(ctx, bulk, sc); err != nil {
		t.Fatal(err)
	}
	if !Filled(ctx, s, sc) {
		t.Fatal("the filled store does not hold the scale's assets and alerts")
	}
	bands, err := s.CountAssetsByBand(ctx)
	must(t, err)
	var n int64
	for band, c := range bands {
		if band == store.BandNone {
			t.Errorf("%d devices without risk after the load", c)
		}
		n += c
	}
	if n != int64(sc.Assets) {
		t.Errorf("bands count %d devices, want %d", n, sc.Assets)
	}
	// The rollup path (whole hours) and the raw path (minutes) agree
	// and see every alert.
	from, to := BenchEnd.Add(-time.Duration(sc.AlertDays)*24*time.Hour), BenchEnd.Add(time.Hour)
	hourly, err := s.AlertHistogram(ctx, store.HistogramQuery{From: from, To: to, Bucket: time.Hour})
	must(t, err)
	raw, err := s.AlertHistogram(ctx, store.HistogramQuery{From: from, To: to, Bucket: 30 * time.Minute})
	must(t, err)
	if sumBuckets(hourly) != int64(sc.Alerts) || sumBuckets(raw) != int64(sc.Alerts) {
		t.Errorf("histograms count %d (rollup) and %d (raw) alerts, want %d", sumBuckets(hourly), sumBuckets(raw), sc.Alerts)
	}
	// The riskiest device's risk is its latest day's score.
	top, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Limit: 1}})
	must(t, err)
	trend, err := s.ScoreTrend(ctx, store.ScoreDevice, top.Items[0].ID, BenchEnd.AddDate(0, 0, -10), BenchEnd)
	must(t, err)
	if len(trend) != sc.ScoreDays || top.Items[0].Risk == nil || top.Items[0].Risk.Score != trend[len(trend)-1].Score {
		t.Errorf("riskiest device %+v, trend %+v", top.Items[0].Risk, trend)
	}
	// Bulk-loaded findings keep their states and count as the upserts do.
	open, err := s.ListFindings(ctx, store.FindingQuery{States: []string{event.StateOpen}, ListOptions: store.ListOptions{WithTotal: true}})
	must(t, err)
	all, err := s.ListFindings(ctx, store.FindingQuery{ListOptions: store.ListOptions{WithTotal: true}})
	must(t, err)
	if open.Total <= 0 || open.Total >= all.Total {
		t.Errorf("%d open findings of %d", open.Total, all.Total)
	}
	// A bulk load after which upserts go on keeps the rollup right.
	al := alertSet()[0]
	al.Start, al.End = BenchEnd, BenchEnd.Add(time.Minute)
	must(t, s.UpsertAlert(ctx, al))
	hourly, err = s.AlertHistogram(ctx, store.HistogramQuery{From: from, To: to, Bucket: time.Hour})
	must(t, err)
	if sumBuckets(hourly) != int64(sc.Alerts)+1 {
		t.Errorf("rollup after an upsert counts %d, want %d", sumBuckets(hourly), sc.Alerts+1)
	}
}
