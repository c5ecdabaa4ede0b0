package storetest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

func asset(id, name, mac, ip, role, vendor, model string, last time.Time) event.Asset {
	a := event.Asset{V: 1, Type: event.TypeAsset, ID: id, Hostname: name, MAC: mac, Role: role, Vendor: vendor, Model: model,
		FirstSeen: t0, LastSeen: last}
	if ip != "" {
		a.IPs = []netip.Addr{netip.MustParseAddr(ip)}
	}
	return a
}

// fleet is a small hospital: the filter and sort tests state their
// expectations against it by hand. Scores: a01 95 critical, a02 72 high,
// a03 45 medium, a04 10 low, a05 none, a06 88 high, a07 30 low,
// a08 60 medium.
func fleet() ([]event.Asset, []store.Score) {
	as := []event.Asset{
		asset("a01", "pacs01", "02:4d:4c:00:00:0a", "10.77.0.10", "pacs", "Agfa", "Enterprise Imaging", at(1)),
		asset("a02", "ct-scanner", "02:4d:4c:00:00:14", "10.77.0.20", "modality", "Siemens", "SOMATOM", at(2)),
		asset("a03", "pump-icu1", "02:4d:4c:00:01:28", "10.77.1.40", "infusion-pump", "BBraun", "Space", at(3)),
		asset("a04", "pump-icu2", "02:4d:4c:00:01:29", "10.77.1.41", "infusion-pump", "BBraun", "Space", at(4)),
		asset("a05", "monitor-3", "02:4d:4c:00:01:32", "10.77.1.50", "patient-monitor", "Philips", "IntelliVue MX800", at(5)),
		asset("a06", "hl7-engine", "02:4d:4c:00:00:1e", "10.77.0.30", "hl7-engine", "Mirth", "Connect", at(6)),
		asset("a07", "ws-lab", "02:4d:4c:00:02:05", "10.78.0.5", "workstation", "Dell", "OptiPlex", at(7)),
		asset("a08", "Monitor-ICU-8", "02:4d:4c:00:01:33", "fd00::8", "patient-monitor", "Philips", "IntelliVue MX450", at(8)),
	}
	// a06 also has a second address, in another network.
	as[5].IPs = append(as[5].IPs, netip.MustParseAddr("192.168.5.30"))
	score := func(id string, s int, band string) store.Score {
		return store.Score{Kind: store.ScoreDevice, Subject: id, Day: t0, Score: s, Band: band}
	}
	ss := []store.Score{
		score("a01", 95, store.BandCritical), score("a02", 72, store.BandHigh), score("a03", 45, store.BandMedium),
		score("a04", 10, store.BandLow), score("a06", 88, store.BandHigh), score("a07", 30, store.BandLow),
		score("a08", 60, store.BandMedium),
	}
	return as, ss
}

func loadFleet(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	as, ss := fleet()
	for _, a := range as {
		must(t, s.UpsertAsset(ctx, a))
	}
	for _, sc := range ss {
		must(t, s.PutScore(ctx, sc))
	}
}

func assetIDs(p store.Page[store.Asset]) []string {
	ids := make([]string, len(p.Items))
	for i, a := range p.Items {
		ids[i] = a.ID
	}
	return ids
}

func testSchema(t *testing.T, b Backend) {
	s, _ := open(t, b)
	v, err := s.SchemaVersion(context.Background())
	must(t, err)
	if v < 1 {
		t.Fatalf("schema version %d after open, want at least 1", v)
	}
}

func testAssetRoundTrip(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	a := event.Asset{
		ID: "mac-024d4c00000a", MAC: "02:4d:4c:00:00:0a", IPs: []netip.Addr{netip.MustParseAddr("10.77.0.10"), netip.MustParseAddr("fe80::1")},
		VLAN: 12, Vendor: "OFFIS", Hostname: "pacs01.medlab.local", Role: "pacs", Model: "DCMTK", Firmware: "3.6.7",
		Software: []string{"OFFIS_DCMTK_367"}, OS: "Linux",
		Services:  []event.Service{{Transport: "tcp", Port: 4242, Proto: "dicom"}},
		Protocols: []string{"dicom", "tls"}, Peers: 5,
		FirstSeen: time.Date(2026, 11, 28, 15, 43, 40, 172723000, time.UTC),
		LastSeen:  time.Date(2026, 11, 28, 15, 44, 40, 172723000, time.UTC),
		Evidence:  []event.Evidence{{Attr: event.AttrRole, Value: "pacs", Confidence: 0.9, Source: "dicom:c-store server", Flow: "f1", Frame: 88, Time: t0}},
		Weaknesses: []event.AssetWeakness{{Kind: event.WeakCleartextPHI, Proto: "dicom", Detail: "patient attributes", Count: 13,
			FirstSeen: t0, LastSeen: t0}},
		TopPeers: []event.Peer{{IP: netip.MustParseAddr("10.77.0.20"), Asset: "mac-024d4c000014", Protocols: []string{"dicom"}, Flows: 5, Bytes: 530_000, LastSeen: t0}},
	}
	must(t, s.UpsertAsset(ctx, a))
	got, err := s.Asset(ctx, a.ID)
	must(t, err)
	want := a
	want.V, want.Type = 1, "asset"
	if fmt.Sprint(got.Asset) != fmt.Sprint(want) {
		t.Errorf("asset round trip:\n got %+v\nwant %+v", got.Asset, want)
	}
	// A brief list leaves out the evidence and the top peers, and only them.
	for _, brief := range []bool{false, true} {
		pg, err := s.ListAssets(ctx, store.AssetQuery{Brief: brief})
		must(t, err)
		if len(pg.Items) != 1 {
			t.Fatalf("list of one asset: %d items", len(pg.Items))
		}
		w := want
		if brief {
			w.Evidence, w.TopPeers = nil, nil
		}
		if fmt.Sprint(pg.Items[0].Asset) != fmt.Sprint(w) {
			t.Errorf("list (brief %v):\n got %+v\nwant %+v", brief, pg.Items[0].Asset, w)
		}
	}
	if got.Risk != nil {
		t.Errorf("unscored asset has risk %+v", got.Risk)
	}
	_, err = s.Asset(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.UpsertAsset(ctx, event.Asset{}), store.ErrInvalid)
}

func testAssetMerge(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	a := asset("m1", "pump", "02:00:00:00:00:01", "10.0.0.1", "infusion-pump", "", "", at(2))
	a.FirstSeen = at(1)
	must(t, s.UpsertAsset(ctx, a))

	// A newer snapshot replaces the record but keeps the first sighting.
	newer := asset("m1", "pump-7", "02:00:00:00:00:01", "10.0.0.2", "infusion-pump", "BBraun", "Space", at(3))
	newer.FirstSeen = at(2.5)
	must(t, s.UpsertAsset(ctx, newer))
	got, err := s.Asset(ctx, "m1")
	must(t, err)
	if got.Hostname != "pump-7" || got.Vendor != "BBraun" || !got.FirstSeen.Equal(at(1)) || !got.LastSeen.Equal(at(3)) {
		t.Errorf("after newer snapshot: %+v (want pump-7, BBraun, first %v, last %v)", got.Asset, at(1), at(3))
	}

	// A late, older snapshot changes nothing but an earlier first sighting.
	older := asset("m1", "stale-name", "02:00:00:00:00:01", "10.0.0.1", "workstation", "", "", at(1.5))
	older.FirstSeen = at(0.5)
	must(t, s.UpsertAsset(ctx, older))
	got, err = s.Asset(ctx, "m1")
	must(t, err)
	if got.Hostname != "pump-7" || got.Role != "infusion-pump" || !got.FirstSeen.Equal(at(0.5)) || !got.LastSeen.Equal(at(3)) {
		t.Errorf("after older snapshot: %+v (want pump-7, infusion-pump, first %v, last %v)", got.Asset, at(0.5), at(3))
	}

	// The address index follows the newest snapshot: 10.0.0.1 is gone.
	p, err := s.ListAssets(ctx, store.AssetQuery{Network: netip.MustParsePrefix("10.0.0.1/32")})
	must(t, err)
	sameIDs(t, "assets at the replaced address", assetIDs(p), nil)
	p, err = s.ListAssets(ctx, store.AssetQuery{Network: netip.MustParsePrefix("10.0.0.2/32")})
	must(t, err)
	sameIDs(t, "assets at the new address", assetIDs(p), []string{"m1"})
}

func testAssetFilters(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	loadFleet(t, s)
	pfx := netip.MustParsePrefix
	cases := []struct {
		name string
		q    store.AssetQuery
		want []string
	}{
		{"all", store.AssetQuery{}, []string{"a01", "a02", "a03", "a04", "a05", "a06", "a07", "a08"}},
		{"role", store.AssetQuery{Roles: []string{"infusion-pump"}}, []string{"a03", "a04"}},
		{"roles", store.AssetQuery{Roles: []string{"pacs", "modality"}}, []string{"a01", "a02"}},
		{"vendor and model", store.AssetQuery{Vendors: []string{"Philips"}, Models: []string{"IntelliVue MX800"}}, []string{"a05"}},
		{"bands", store.AssetQuery{Bands: []string{store.BandCritical, store.BandHigh}}, []string{"a01", "a02", "a06"}},
		{"unscored", store.AssetQuery{Bands: []string{store.BandNone}}, []string{"a05"}},
		{"v4 /24", store.AssetQuery{Network: pfx("10.77.0.0/24")}, []string{"a01", "a02", "a06"}},
		{"v4 /16", store.AssetQuery{Network: pfx("10.77.0.0/16")}, []string{"a01", "a02", "a03", "a04", "a05", "a06"}},
		{"v4 unmasked", store.AssetQuery{Network: pfx("10.77.1.99/24")}, []string{"a03", "a04", "a05"}},
		{"second address", store.AssetQuery{Network: pfx("192.168.0.0/16")}, []string{"a06"}},
		{"host", store.AssetQuery{Network: pfx("10.78.0.5/32")}, []string{"a07"}},
		{"all v4", store.AssetQuery{Network: pfx("0.0.0.0/0")}, []string{"a01", "a02", "a03", "a04", "a05", "a06", "a07"}},
		{"all v6", store.AssetQuery{Network: pfx("::/0")}, []string{"a08"}},
		{"v6 /64", store.AssetQuery{Network: pfx("fd00::/64")}, []string{"a08"}},
		{"seen after", store.AssetQuery{SeenAfter: at(5)}, []string{"a05", "a06", "a07", "a08"}},
		{"seen before", store.AssetQuery{SeenBefore: at(3)}, []string{"a01", "a02"}},
		{"seen between", store.AssetQuery{SeenAfter: at(3), SeenBefore: at(5)}, []string{"a03", "a04"}},
		{"text name any case", store.AssetQuery{Text: "ICU"}, []string{"a03", "a04", "a08"}},
		{"text address", store.AssetQuery{Text: "10.77.1."}, []string{"a03", "a04", "a05"}},
		{"text mac upper", store.AssetQuery{Text: "02:4D:4C:00:00:0A"}, []string{"a01"}},
		{"text is not the vendor", store.AssetQuery{Text: "braun"}, nil},
		{"text wildcard is literal", store.AssetQuery{Text: "%"}, nil},
		{"text underscore is literal", store.AssetQuery{Text: "pump_icu"}, nil},
		{"combined", store.AssetQuery{Roles: []string{"patient-monitor"}, Network: pfx("10.0.0.0/8")}, []string{"a05"}},
		{"nothing", store.AssetQuery{Roles: []string{"mri"}}, nil},
	}
	for _, tc := range cases {
		tc.q.Sort = store.Sort{Key: "id"}
		tc.q.WithTotal = true
		p, err := s.ListAssets(ctx, tc.q)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		sameIDs(t, tc.name, assetIDs(p), tc.want)
		if p.Total != int64(len(tc.want)) {
			t.Errorf("%s: total %d, want %d", tc.name, p.Total, len(tc.want))
		}
		if p.Next != "" {
			t.Errorf("%s: a single page has a next cursor", tc.name)
		}
	}
	// A text search over several pages counts all its matches on each.
	var seen []string
	for cur := ""; ; {
		p, err := s.ListAssets(ctx, store.AssetQuery{Text: "icu", ListOptions: store.ListOptions{Sort: store.Sort{Key: "id"}, Limit: 1, Cursor: cur, WithTotal: true}})
		must(t, err)
		if p.Total != 3 {
			t.Errorf("text page after %q counts %d matches, want 3", cur, p.Total)
		}
		seen = append(seen, assetIDs(p)...)
		if cur = p.Next; cur == "" {
			break
		}
	}
	sameIDs(t, "text pages", seen, []string{"a03", "a04", "a08"})
	_, err := s.ListAssets(ctx, store.AssetQuery{Text: string(make([]byte, 300))})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Sort: store.Sort{Key: "doc"}}})
	wantErr(t, err, store.ErrInvalid)

	bands, err := s.CountAssetsByBand(ctx)
	must(t, err)
	want := map[string]int64{store.BandCritical: 1, store.BandHigh: 2, store.BandMedium: 2, store.BandLow: 2, store.BandNone: 1}
	if fmt.Sprint(bands) != fmt.Sprint(want) {
		t.Errorf("assets by band %v, want %v", bands, want)
	}
}

func testAssetSorts(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	loadFleet(t, s)
	cases := []struct {
		sort string
		want []string
	}{
		{"", []string{"a01", "a06", "a02", "a08", "a03", "a07", "a04", "a05"}}, // default: riskiest first, unscored last
		{"-risk", []string{"a01", "a06", "a02", "a08", "a03", "a07", "a04", "a05"}},
		{"risk", []string{"a05", "a04", "a07", "a03", "a08", "a02", "a06", "a01"}},
		{"vendor", []string{"a01", "a03", "a04", "a07", "a06", "a05", "a08", "a02"}},
		{"-vendor", []string{"a02", "a08", "a05", "a06", "a07", "a04", "a03", "a01"}},
		{"role", []string{"a06", "a03", "a04", "a02", "a01", "a05", "a08", "a07"}},
		{"model", []string{"a06", "a01", "a08", "a05", "a07", "a02", "a03", "a04"}},
		{"-last_seen", []string{"a08", "a07", "a06", "a05", "a04", "a03", "a02", "a01"}},
		{"name", []string{"a08", "a02", "a06", "a05", "a01", "a03", "a04", "a07"}},
	}
	for _, tc := range cases {
		srt, err := store.ParseSort(tc.sort, store.AssetSortKeys)
		must(t, err)
		p, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Sort: srt}})
		must(t, err)
		sameIDs(t, "sort "+tc.sort, assetIDs(p), tc.want)
	}
	// The riskiest devices of the overview.
	p, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Limit: 3}})
	must(t, err)
	sameIDs(t, "top 3", assetIDs(p), []string{"a01", "a06", "a02"})
	if p.Items[0].Risk == nil || p.Items[0].Risk.Score != 95 || p.Items[0].Risk.Band != store.BandCritical || !p.Items[0].Risk.Day.Equal(t0.Truncate(24*time.Hour)) {
		t.Errorf("risk of a01: %+v, want 95 critical on %s", p.Items[0].Risk, t0.Format(time.DateOnly))
	}
}

func testAssetPaging(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	// 23 assets in 4 roles: many ties, which the id tie-breaker must order.
	roles := []string{"pacs", "modality", "infusion-pump", "workstation"}
	var all []string
	for i := range 23 {
		id := fmt.Sprintf("p%02d", i)
		all = append(all, id)
		must(t, s.UpsertAsset(ctx, asset(id, "", "", "", roles[i%4], "", "", at(float64(i%5)))))
	}
	for _, key := range []string{"role", "-role", "last_seen", "-last_seen", "id", "-risk"} {
		srt, err := store.ParseSort(key, store.AssetSortKeys)
		must(t, err)
		whole, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Sort: srt, Limit: 100}})
		must(t, err)
		if len(whole.Items) != 23 {
			t.Fatalf("sort %s: one page holds %d assets, want 23", key, len(whole.Items))
		}
		var paged []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("sort %s: paging does not end", key)
			}
			p, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Sort: srt, Limit: 5, Cursor: cursor}})
			must(t, err)
			if len(p.Items) > 5 {
				t.Fatalf("page of %d, limit 5", len(p.Items))
			}
			paged = append(paged, assetIDs(p)...)
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		sameIDs(t, "pages of sort "+key, paged, assetIDs(whole))
		sameIDs(t, "assets of sort "+key, sorted(paged), all)
	}

	// Filtered pages: small pages of a broad filter walk the sort index on
	// SQLite, a single large page reads the matches; both agree.
	for _, key := range []string{"-last_seen", "vendor", "role"} {
		srt, err := store.ParseSort(key, store.AssetSortKeys)
		must(t, err)
		q := store.AssetQuery{Roles: []string{"pacs", "modality"}, SeenAfter: at(1)}
		q.ListOptions = store.ListOptions{Sort: srt, Limit: 100}
		whole, err := s.ListAssets(ctx, q)
		must(t, err)
		// i%4 is 0 or 1 and i%5 is not 0: 9 of the 23.
		if len(whole.Items) != 9 {
			t.Fatalf("filtered page of sort %s holds %d assets, want 9", key, len(whole.Items))
		}
		var paged []string
		for cur := ""; ; {
			q.ListOptions = store.ListOptions{Sort: srt, Limit: 2, Cursor: cur, WithTotal: true}
			p, err := s.ListAssets(ctx, q)
			must(t, err)
			if p.Total != 9 {
				t.Errorf("sort %s: a page after %q says %d assets match, want 9", key, cur, p.Total)
			}
			paged = append(paged, assetIDs(p)...)
			if cur = p.Next; cur == "" {
				break
			}
		}
		sameIDs(t, "filtered pages of sort "+key, paged, assetIDs(whole))
	}

	// Rows added between pages appear once or not at all, never twice.
	p1, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Sort: store.Sort{Key: "id"}, Limit: 10}})
	must(t, err)
	must(t, s.UpsertAsset(ctx, asset("p00a", "", "", "", "pacs", "", "", at(1)))) // sorts before the cursor
	must(t, s.UpsertAsset(ctx, asset("p99", "", "", "", "pacs", "", "", at(1))))  // sorts after it
	seen := assetIDs(p1)
	for cur := p1.Next; cur != ""; {
		p, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Sort: store.Sort{Key: "id"}, Limit: 10, Cursor: cur}})
		must(t, err)
		seen = append(seen, assetIDs(p)...)
		cur = p.Next
	}
	sameIDs(t, "paging across inserts", seen, append(slices.Clone(all), "p99"))

	// A cursor of another sort order, or garbage, is refused.
	_, err = s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Sort: store.Sort{Key: "vendor"}, Cursor: p1.Next}})
	wantErr(t, err, store.ErrBadCursor)
	_, err = s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Cursor: "not a cursor"}})
	wantErr(t, err, store.ErrBadCursor)

	// Limits: 0 is the default size, more than the maximum is cut.
	p, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Limit: 2}})
	must(t, err)
	if len(p.Items) != 2 || p.Next == "" || p.Total != -1 {
		t.Errorf("limit 2: %d items, next %q, total %d (want 2, a cursor, -1)", len(p.Items), p.Next, p.Total)
	}
}

func testAssetRisk(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	day := func(d int) time.Time { return t0.AddDate(0, 0, d) }
	// A score stored before the device is seen applies when it appears.
	must(t, s.PutScore(ctx, store.Score{Kind: store.ScoreDevice, Subject: "r1", Day: day(0), Score: 50, Band: store.BandMedium}))
	must(t, s.UpsertAsset(ctx, asset("r1", "", "", "", "pacs", "", "", at(1))))
	check := func(what string, score int, band string, d time.Time) {
		t.Helper()
		a, err := s.Asset(ctx, "r1")
		must(t, err)
		if a.Risk == nil || a.Risk.Score != score || a.Risk.Band != band || !a.Risk.Day.Equal(store.Day(d)) {
			t.Errorf("%s: risk %+v, want %d %s on %s", what, a.Risk, score, band, d.Format(time.DateOnly))
		}
	}
	check("score before asset", 50, store.BandMedium, day(0))
	must(t, s.PutScore(ctx, store.Score{Kind: store.ScoreDevice, Subject: "r1", Day: day(2), Score: 91, Band: store.BandCritical}))
	check("newer day", 91, store.BandCritical, day(2))
	must(t, s.PutScore(ctx, store.Score{Kind: store.ScoreDevice, Subject: "r1", Day: day(1), Score: 20, Band: store.BandLow}))
	check("older day stored later", 91, store.BandCritical, day(2))
	must(t, s.PutScore(ctx, store.Score{Kind: store.ScoreDevice, Subject: "r1", Day: day(2), Score: 75, Band: store.BandHigh}))
	check("same day corrected", 75, store.BandHigh, day(2))
	// A new snapshot of the device keeps its risk.
	must(t, s.UpsertAsset(ctx, asset("r1", "renamed", "", "", "pacs", "", "", at(5))))
	check("after a new snapshot", 75, store.BandHigh, day(2))
	// Hospital scores do not touch devices with the same id.
	must(t, s.PutScore(ctx, store.Score{Kind: store.ScoreHospital, Subject: "r1", Day: day(3), Score: 5, Band: store.BandLow}))
	check("hospital score", 75, store.BandHigh, day(2))
}

// OneConnection checks that a store whose pool holds a single read
// connection still answers every kind of list, including a first page
// with a next page and its total, which needs a second statement after
// the page's rows. A list that keeps its rows open while it counts waits
// for a connection that never comes; the deadline turns that hang into a
// failure. s must be empty and opened with a one-connection pool.
func OneConnection(t *testing.T, s store.Store) {
	t.Helper()
	loadFleet(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, q := range []store.AssetQuery{
		{ListOptions: store.ListOptions{Limit: 2, WithTotal: true}},
		{ListOptions: store.ListOptions{Limit: 1, WithTotal: true}, Vendors: []string{"Philips"}},
		{ListOptions: store.ListOptions{Limit: 1, WithTotal: true, Sort: store.Sort{Key: "name"}}, Roles: []string{"infusion-pump"}},
	} {
		pg, err := s.ListAssets(ctx, q)
		if err != nil {
			t.Fatalf("ListAssets(%+v) with one connection: %v", q, err)
		}
		if pg.Next == "" || pg.Total <= int64(len(pg.Items)) {
			t.Fatalf("ListAssets(%+v): %d items, total %d, next %q: want a partial first page with its total", q, len(pg.Items), pg.Total, pg.Next)
		}
	}
}
