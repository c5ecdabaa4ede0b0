package storetest

import (
	"context"
	"encoding/json"
	"fmt"
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
	sc := Scale{Assets: 500, FindingsPerAsset: 2, Alerts: 3000, AlertDays: 3, ScoreDays: 3, Vulns: HospitalScale.Vulns, TopPeers: true}
	if err := Fill(ctx, bulk, sc); err != nil {
		t.Fatal(err)
	}
	if !Filled(ctx, s, sc) {
		t.Fatal("the filled store does not hold the scale's assets, alerts and vulnerabilities")
	}
	// A store filled before devices had vulnerabilities is not filled.
	noVulns := sc
	noVulns.Vulns = nil
	if Filled(ctx, s, noVulns) {
		t.Error("Filled takes a store with vulnerabilities for one of a scale without")
	}
	runFillVulns(t, s, sc)
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

// runFillVulns checks the bulk-loaded vulnerabilities: the device with
// most matches lists them all, known exploitation first and then by risk,
// as the device page shows them; the statuses came through; and the rows
// are the ones ReplaceVulnerabilities stores for the same matches.
func runFillVulns(t *testing.T, s store.Store, sc Scale) {
	ctx := context.Background()
	i, n, kev := MostVulnerable(sc)
	id := fmt.Sprintf("dev-%06d", i)
	if n < 100 || kev == 0 {
		t.Fatalf("the most vulnerable of %d devices has %d matches, %d in KEV: want a Windows workstation's hundreds", sc.Assets, n, kev)
	}
	pg, err := s.ListVulnerabilities(ctx, store.VulnQuery{Assets: []string{id}, ListOptions: store.ListOptions{Limit: store.MaxLimit, WithTotal: true}})
	must(t, err)
	if pg.Total != int64(n) || len(pg.Items) != min(n, store.MaxLimit) {
		t.Fatalf("%s lists %d matches of %d, want %d", id, len(pg.Items), pg.Total, n)
	}
	nKEV := 0
	for j, v := range pg.Items {
		if v.Asset != id || v.ID != id+"|"+v.CVE || len(v.Evidence) == 0 {
			t.Fatalf("match %d of %s: %+v", j, id, v)
		}
		if v.KEV {
			nKEV++
			if j > 0 && !pg.Items[j-1].KEV {
				t.Errorf("%s: KEV match %s after a match not in KEV", id, v.CVE)
			}
		}
		if j > 0 && store.VulnRisk(v) > store.VulnRisk(pg.Items[j-1]) {
			t.Errorf("%s: %s (risk %d) after %s (risk %d)", id, v.CVE, store.VulnRisk(v), pg.Items[j-1].CVE, store.VulnRisk(pg.Items[j-1]))
		}
	}
	if nKEV != kev && len(pg.Items) == n {
		t.Errorf("%s lists %d matches in KEV, want %d", id, nKEV, kev)
	}
	for _, st := range []string{store.VulnAccepted, store.VulnFalsePositive, store.VulnNotAffected} {
		p, err := s.ListVulnerabilities(ctx, store.VulnQuery{Statuses: []string{st}, ListOptions: store.ListOptions{Limit: 1, WithTotal: true}})
		must(t, err)
		if p.Total <= 0 || p.Items[0].Status != st || st != store.VulnNotAffected && (p.Items[0].Decision == nil || p.Items[0].Decision.Comment == "") {
			t.Errorf("%d matches %s, first %+v", p.Total, st, p.Items)
		}
	}
	// The same matches stored the node's way read back the same.
	before, err := json.Marshal(pg.Items)
	must(t, err)
	must(t, s.ReplaceVulnerabilities(ctx, []store.VulnSet{{Asset: id, At: pg.Items[0].Updated, Items: pg.Items}}))
	again, err := s.ListVulnerabilities(ctx, store.VulnQuery{Assets: []string{id}, ListOptions: store.ListOptions{Limit: store.MaxLimit}})
	must(t, err)
	after, err := json.Marshal(again.Items)
	must(t, err)
	if string(before) != string(after) {
		t.Errorf("%s's matches bulk-loaded and stored by ReplaceVulnerabilities differ:\n%.600s\n%.600s", id, before, after)
	}
}
