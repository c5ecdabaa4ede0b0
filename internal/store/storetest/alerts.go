package storetest

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

var (
	tagBrute = event.Tag{Taxonomy: event.TaxATTACK, ID: "T1110", Name: "Brute Force"}
	tagDoS   = event.Tag{Taxonomy: event.TaxENISA, ID: "5", Name: "Denial of service"}
	tagWeb   = event.Tag{Taxonomy: event.TaxENISA, ID: "3", Name: "Web application attacks"}
)

func ep(ip string) event.Endpoint { return event.Endpoint{IP: netip.MustParseAddr(ip)} }

func alert(id, rule, category, severity, src string, targets []string, start, end time.Time, count uint64, tags ...event.Tag) event.Alert {
	a := event.Alert{V: 1, Type: event.TypeAlert, ID: id, Rule: rule, Category: category, Title: rule, Description: rule + " from " + src,
		Severity: severity, Source: ep(src), TargetCount: len(targets), Start: start, End: end, Count: count, Tags: tags}
	for _, t := range targets {
		a.Targets = append(a.Targets, ep(t))
	}
	return a
}

// alertSet: starts (hours after t0) al1 0.25, al2 0.75, al3 1.5, al4 2.1,
// al5 2.9, al6 3.2.
func alertSet() []event.Alert {
	return []event.Alert{
		alert("al1", "port-scan", "reconnaissance", event.SeverityMedium, "10.77.0.66", []string{"10.77.0.10", "10.77.0.20"}, at(0.25), at(0.5), 198, tagDiscovery),
		alert("al2", "brute-force", "credential-access", event.SeverityHigh, "10.77.0.66", []string{"10.77.0.50"}, at(0.75), at(1.2), 23, tagBrute, tagIDTheft),
		alert("al3", "port-scan", "reconnaissance", event.SeverityLow, "10.77.0.70", []string{"10.77.0.10"}, at(1.5), at(1.6), 30, tagDiscovery),
		alert("al4", "flood", "denial-of-service", event.SeverityCritical, "10.77.0.40", []string{"10.77.0.41"}, at(2.1), at(3.0), 5000, tagDoS),
		alert("al5", "web-attack", "web-attack", event.SeverityHigh, "10.99.0.1", []string{"10.77.0.60"}, at(2.9), at(2.95), 3, tagWeb),
		alert("al6", "port-scan", "reconnaissance", event.SeverityMedium, "fd00::66", []string{"fd00::8"}, at(3.2), at(3.4), 50, tagDiscovery),
	}
}

func alertIDs(p store.Page[event.Alert]) []string {
	ids := make([]string, len(p.Items))
	for i, a := range p.Items {
		ids[i] = a.ID
	}
	return ids
}

func testAlertIncident(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	a := alert("inc", "brute-force", "credential-access", event.SeverityHigh, "10.77.0.66", []string{"10.77.0.50"}, at(1), at(1.1), 10, tagBrute)
	a.Model, a.Score = "gbdt-v1", 0.93
	a.Counts = map[string]uint64{"failed_logins": 10}
	a.Samples = map[string]string{"user": "admin"}
	a.Evidence = []event.Reference{{Flow: "f1", Time: at(1)}}
	a.Remediation = "Lock the account"
	must(t, s.UpsertAlert(ctx, a))
	got, err := s.Alert(ctx, "inc")
	must(t, err)
	if fmt.Sprint(got) != fmt.Sprint(a) {
		t.Errorf("alert round trip:\n got %+v\nwant %+v", got, a)
	}
	// A brief list leaves out the description, counts, samples, evidence
	// and remediation, and only them.
	for _, brief := range []bool{false, true} {
		pg, err := s.ListAlerts(ctx, store.AlertQuery{Brief: brief})
		must(t, err)
		if len(pg.Items) != 1 {
			t.Fatalf("list of one alert: %d items", len(pg.Items))
		}
		w := a
		if brief {
			w.Description, w.Counts, w.Samples, w.Evidence, w.Remediation = "", nil, nil, nil, ""
		}
		if fmt.Sprint(pg.Items[0]) != fmt.Sprint(w) {
			t.Errorf("list (brief %v):\n got %+v\nwant %+v", brief, pg.Items[0], w)
		}
	}

	// The incident goes on: more attempts, a second target.
	up := a
	up.End, up.Count = at(1.5), 50
	up.Targets = append(up.Targets, ep("10.77.0.51"))
	up.Counts = map[string]uint64{"failed_logins": 50}
	must(t, s.UpsertAlert(ctx, up))
	// A late, older update changes nothing.
	stale := a
	stale.End, stale.Count, stale.Description = at(1.2), 20, "stale"
	must(t, s.UpsertAlert(ctx, stale))
	got, err = s.Alert(ctx, "inc")
	must(t, err)
	if got.Count != 50 || !got.End.Equal(at(1.5)) || got.Description != a.Description || got.Counts["failed_logins"] != 50 || len(got.Targets) != 2 {
		t.Errorf("after updates: %+v", got)
	}
	p, err := s.ListAlerts(ctx, store.AlertQuery{IP: netip.MustParseAddr("10.77.0.51")})
	must(t, err)
	sameIDs(t, "alerts against the new target", alertIDs(p), []string{"inc"})

	// The final update closes it; a later update cannot reopen it, and an
	// update that knows an earlier start moves the start.
	fin := up
	fin.End, fin.Count, fin.Final = at(2), 60, true
	must(t, s.UpsertAlert(ctx, fin))
	after := up
	after.Start, after.End, after.Count, after.Final = at(0.9), at(2.5), 61, false
	must(t, s.UpsertAlert(ctx, after))
	got, err = s.Alert(ctx, "inc")
	must(t, err)
	if !got.Final || got.Count != 61 || !got.Start.Equal(at(0.9)) || !got.End.Equal(at(2.5)) {
		t.Errorf("after final: final %v count %d start %v end %v (want true 61 %v %v)", got.Final, got.Count, got.Start, got.End, at(0.9), at(2.5))
	}
	_, err = s.Alert(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.UpsertAlert(ctx, event.Alert{}), store.ErrInvalid)
}

func testAlertList(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	for _, a := range alertSet() {
		must(t, s.UpsertAlert(ctx, a))
	}
	ip := netip.MustParseAddr
	cases := []struct {
		name string
		q    store.AlertQuery
		want []string
	}{
		{"all", store.AlertQuery{}, []string{"al1", "al2", "al3", "al4", "al5", "al6"}},
		{"category", store.AlertQuery{Categories: []string{"reconnaissance"}}, []string{"al1", "al3", "al6"}},
		{"severity", store.AlertQuery{Severities: []string{event.SeverityHigh}}, []string{"al2", "al5"}},
		{"rule", store.AlertQuery{Rules: []string{"port-scan", "flood"}}, []string{"al1", "al3", "al4", "al6"}},
		{"target", store.AlertQuery{IP: ip("10.77.0.10")}, []string{"al1", "al3"}},
		{"source", store.AlertQuery{IP: ip("10.77.0.66")}, []string{"al1", "al2"}},
		{"v6", store.AlertQuery{IP: ip("fd00::8")}, []string{"al6"}},
		{"quiet address", store.AlertQuery{IP: ip("10.1.1.1")}, nil},
		{"tag", store.AlertQuery{Tags: []store.TagRef{{Taxonomy: event.TaxATTACK, ID: "T1046"}}}, []string{"al1", "al3", "al6"}},
		{"enisa tag", store.AlertQuery{Tags: []store.TagRef{{Taxonomy: event.TaxENISA, ID: "12"}}}, []string{"al2"}},
		{"time", store.AlertQuery{Since: at(1), Until: at(3)}, []string{"al3", "al4", "al5"}},
		{"combined", store.AlertQuery{Categories: []string{"reconnaissance"}, IP: ip("10.77.0.10"), Since: at(1)}, []string{"al3"}},
	}
	for _, tc := range cases {
		tc.q.Sort = store.Sort{Key: "id"}
		tc.q.WithTotal = true
		p, err := s.ListAlerts(ctx, tc.q)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		sameIDs(t, tc.name, alertIDs(p), tc.want)
		if p.Total != int64(len(tc.want)) {
			t.Errorf("%s: total %d, want %d", tc.name, p.Total, len(tc.want))
		}
	}
	sorts := []struct {
		sort string
		want []string
	}{
		{"", []string{"al6", "al5", "al4", "al3", "al2", "al1"}},
		{"severity", []string{"al3", "al1", "al6", "al2", "al5", "al4"}},
		{"-count", []string{"al4", "al1", "al6", "al3", "al2", "al5"}},
		{"category", []string{"al2", "al4", "al1", "al3", "al6", "al5"}},
		{"-end", []string{"al6", "al4", "al5", "al3", "al2", "al1"}},
	}
	for _, tc := range sorts {
		srt, err := store.ParseSort(tc.sort, store.AlertSortKeys)
		must(t, err)
		var ids []string
		cur := ""
		for {
			p, err := s.ListAlerts(ctx, store.AlertQuery{ListOptions: store.ListOptions{Sort: srt, Limit: 4, Cursor: cur}})
			must(t, err)
			ids = append(ids, alertIDs(p)...)
			if cur = p.Next; cur == "" {
				break
			}
		}
		sameIDs(t, "alerts sorted "+tc.sort, ids, tc.want)
	}
}

func testAlertHistogram(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	for _, a := range alertSet() {
		must(t, s.UpsertAlert(ctx, a))
	}
	bk := func(h float64, cat string, n int64) store.AlertBucket {
		return store.AlertBucket{Start: at(h), Category: cat, Count: n}
	}
	cases := []struct {
		name string
		q    store.HistogramQuery
		want []store.AlertBucket
	}{
		{"hourly", store.HistogramQuery{From: t0, To: at(4), Bucket: time.Hour}, []store.AlertBucket{
			bk(0, "credential-access", 1), bk(0, "reconnaissance", 1), bk(1, "reconnaissance", 1),
			bk(2, "denial-of-service", 1), bk(2, "web-attack", 1), bk(3, "reconnaissance", 1)}},
		// t0 is 15:00 UTC: two-hour buckets since the epoch start at 14:00, 16:00, 18:00.
		{"two-hourly", store.HistogramQuery{From: t0, To: at(4), Bucket: 2 * time.Hour}, []store.AlertBucket{
			bk(-1, "credential-access", 1), bk(-1, "reconnaissance", 1),
			bk(1, "denial-of-service", 1), bk(1, "reconnaissance", 1), bk(1, "web-attack", 1),
			bk(3, "reconnaissance", 1)}},
		{"daily", store.HistogramQuery{From: at(-15), To: at(9), Bucket: 24 * time.Hour}, []store.AlertBucket{
			bk(-15, "credential-access", 1), bk(-15, "denial-of-service", 1), bk(-15, "reconnaissance", 3), bk(-15, "web-attack", 1)}},
		{"quarter-hourly", store.HistogramQuery{From: t0, To: at(1), Bucket: 15 * time.Minute}, []store.AlertBucket{
			bk(0.25, "reconnaissance", 1), bk(0.75, "credential-access", 1)}},
		{"high only", store.HistogramQuery{From: t0, To: at(4), Bucket: time.Hour, Severities: []string{event.SeverityHigh}}, []store.AlertBucket{
			bk(0, "credential-access", 1), bk(2, "web-attack", 1)}},
		// A range that does not start on the hour counts alerts, not the rollup.
		{"unaligned range", store.HistogramQuery{From: at(0.5), To: at(3), Bucket: time.Hour}, []store.AlertBucket{
			bk(0, "credential-access", 1), bk(1, "reconnaissance", 1), bk(2, "denial-of-service", 1), bk(2, "web-attack", 1)}},
		{"empty", store.HistogramQuery{From: at(10), To: at(20), Bucket: time.Hour}, nil},
	}
	check := func(name string, q store.HistogramQuery, want []store.AlertBucket) {
		t.Helper()
		got, err := s.AlertHistogram(ctx, q)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n got %v\nwant %v", name, got, want)
		}
	}
	for _, tc := range cases {
		check(tc.name, tc.q, tc.want)
	}

	// An update that moves an incident to another category and hour moves
	// it in the rollup too.
	moved := alertSet()[2]
	moved.Category, moved.Start, moved.End = "scan", at(0.9), at(2)
	must(t, s.UpsertAlert(ctx, moved))
	check("after move", store.HistogramQuery{From: t0, To: at(4), Bucket: time.Hour}, []store.AlertBucket{
		bk(0, "credential-access", 1), bk(0, "reconnaissance", 1), bk(0, "scan", 1),
		bk(2, "denial-of-service", 1), bk(2, "web-attack", 1), bk(3, "reconnaissance", 1)})

	for name, q := range map[string]store.HistogramQuery{
		"no range":     {Bucket: time.Hour},
		"reversed":     {From: at(2), To: at(1), Bucket: time.Hour},
		"tiny bucket":  {From: t0, To: at(1), Bucket: time.Millisecond},
		"many buckets": {From: t0, To: at(24 * 365 * 10), Bucket: time.Second},
		"severity":     {From: t0, To: at(1), Bucket: time.Hour, Severities: []string{"bad"}},
	} {
		_, err := s.AlertHistogram(ctx, q)
		if err == nil {
			t.Errorf("histogram %s: no error", name)
		}
		wantErr(t, err, store.ErrInvalid)
	}
}
