package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/heir-emd/heir/internal/store"
)

func fptr(f float64) *float64 { return &f }

func vul(cve string, cvss float64, epss *float64, kev bool, status string) store.Vulnerability {
	return store.Vulnerability{CVE: cve, Product: "csaf:bd/alaris_pc_unit_8015", Component: "Alaris PC Unit 8015 9.19",
		CVSS: cvss, Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", EPSS: epss, KEV: kev, Status: status, Confidence: 0.85,
		Evidence: []store.VulnEvidence{{Source: "csaf:ICSMA-23-089-01", ProductName: "Alaris PC Unit 8015", Rule: "<= 9.19",
			Target: "model", DeviceValue: "Alaris PC Unit 8015", How: "advisory product", Verdict: "in", Confidence: 0.85}}}
}

func vulnIDs(p store.Page[store.Vulnerability]) []string {
	out := make([]string, len(p.Items))
	for i, v := range p.Items {
		out[i] = v.ID
	}
	return out
}

// vulnSets: pump (a40) and PACS (a10); the risk order, most severe first,
// is a40|CVE-4 (KEV), a10|CVE-5 (9.8 × 0.5), a40|CVE-1 (9.8 × 0.2),
// a40|CVE-2 (7.5 × 0.02, no EPSS), a10|CVE-3 (5.0 × 0.01).
func vulnSets() []store.VulnSet {
	accepted := vul("CVE-3", 5.0, fptr(0.01), false, store.VulnAccepted)
	accepted.Decision = &store.VulnDecision{Subject: "a10", State: "accepted", Comment: "isolated VLAN", Author: "ana"}
	return []store.VulnSet{
		{Asset: "a40", At: t0, Items: []store.Vulnerability{vul("CVE-1", 9.8, fptr(0.2), false, store.VulnOpen),
			vul("CVE-2", 7.5, nil, false, store.VulnFalsePositive), vul("CVE-4", 5.9, fptr(0.001), true, store.VulnOpen)}},
		{Asset: "a10", At: t0, Items: []store.Vulnerability{accepted, vul("CVE-5", 9.8, fptr(0.5), false, store.VulnOpen)}},
	}
}

func testVulnReplace(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	must(t, s.ReplaceVulnerabilities(ctx, vulnSets()))
	p, err := s.ListVulnerabilities(ctx, store.VulnQuery{Assets: []string{"a10"}, ListOptions: store.ListOptions{Sort: store.Sort{Key: "cve"}}})
	must(t, err)
	sameIDs(t, "a10", vulnIDs(p), []string{"a10|CVE-3", "a10|CVE-5"})
	got := p.Items[0]
	want := vulnSets()[1].Items[0]
	want.ID, want.Asset, want.Updated = "a10|CVE-3", "a10", t0
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("round trip:\n got %s\nwant %s", gj, wj)
	}
	if p.Items[1].EPSS == nil || *p.Items[1].EPSS != 0.5 || p.Items[1].CVSS != 9.8 {
		t.Errorf("CVE-5 scores: %+v", p.Items[1])
	}

	// A rescore replaces the pump's set whole: CVE-1 stays with new data,
	// CVE-2 and CVE-4 are gone, CVE-6 is new; the PACS keeps its own.
	newer := vul("CVE-1", 9.8, fptr(0.3), true, store.VulnOpen)
	must(t, s.ReplaceVulnerabilities(ctx, []store.VulnSet{{Asset: "a40", At: at(24), Items: []store.Vulnerability{newer, vul("CVE-6", 4.3, nil, false, store.VulnOpen)}}}))
	p, err = s.ListVulnerabilities(ctx, store.VulnQuery{ListOptions: store.ListOptions{Sort: store.Sort{Key: "id"}, WithTotal: true}})
	must(t, err)
	sameIDs(t, "after rescore", vulnIDs(p), []string{"a10|CVE-3", "a10|CVE-5", "a40|CVE-1", "a40|CVE-6"})
	if p.Total != 4 {
		t.Errorf("total %d, want 4", p.Total)
	}
	if v := p.Items[2]; !v.KEV || *v.EPSS != 0.3 || !v.Updated.Equal(at(24)) {
		t.Errorf("CVE-1 not replaced: %+v", v)
	}
	if !p.Items[0].Updated.Equal(t0) {
		t.Errorf("the PACS's set changed with the pump's: %+v", p.Items[0])
	}

	// An empty set clears the device.
	must(t, s.ReplaceVulnerabilities(ctx, []store.VulnSet{{Asset: "a40", At: at(48)}}))
	p, err = s.ListVulnerabilities(ctx, store.VulnQuery{Assets: []string{"a40"}, ListOptions: store.ListOptions{WithTotal: true}})
	must(t, err)
	if len(p.Items) != 0 || p.Total != 0 {
		t.Errorf("cleared set still lists %v (total %d)", vulnIDs(p), p.Total)
	}

	// A bad set changes nothing, not even the sets before it.
	for name, sets := range map[string][]store.VulnSet{
		"no device":   {{Asset: "a10", At: t0}, {Asset: "", At: t0}},
		"same device": {{Asset: "a10", At: t0}, {Asset: "a10", At: t0}},
		"same CVE":    {{Asset: "a10", At: t0, Items: []store.Vulnerability{vul("CVE-9", 1, nil, false, store.VulnOpen), vul("CVE-9", 2, nil, false, store.VulnOpen)}}},
		"no CVE":      {{Asset: "a10", At: t0, Items: []store.Vulnerability{vul("", 1, nil, false, store.VulnOpen)}}},
		"status":      {{Asset: "a10", At: t0, Items: []store.Vulnerability{vul("CVE-9", 1, nil, false, "fixed")}}},
		"cvss":        {{Asset: "a10", At: t0, Items: []store.Vulnerability{vul("CVE-9", 11, nil, false, store.VulnOpen)}}},
		"epss":        {{Asset: "a10", At: t0, Items: []store.Vulnerability{vul("CVE-9", 1, fptr(1.5), false, store.VulnOpen)}}},
	} {
		wantErr(t, s.ReplaceVulnerabilities(ctx, sets), store.ErrInvalid)
		p, err := s.ListVulnerabilities(ctx, store.VulnQuery{Assets: []string{"a10"}, ListOptions: store.ListOptions{Sort: store.Sort{Key: "id"}}})
		must(t, err)
		sameIDs(t, name+": a10 after a refused set", vulnIDs(p), []string{"a10|CVE-3", "a10|CVE-5"})
	}
}

func testVulnList(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	must(t, s.ReplaceVulnerabilities(ctx, vulnSets()))
	yes, no := true, false
	cases := []struct {
		name string
		q    store.VulnQuery
		want []string
	}{
		{"all", store.VulnQuery{}, []string{"a10|CVE-3", "a10|CVE-5", "a40|CVE-1", "a40|CVE-2", "a40|CVE-4"}},
		{"asset", store.VulnQuery{Assets: []string{"a40"}}, []string{"a40|CVE-1", "a40|CVE-2", "a40|CVE-4"}},
		{"assets", store.VulnQuery{Assets: []string{"a40", "a10"}}, []string{"a10|CVE-3", "a10|CVE-5", "a40|CVE-1", "a40|CVE-2", "a40|CVE-4"}},
		{"unknown asset", store.VulnQuery{Assets: []string{"a99"}}, nil},
		{"cve", store.VulnQuery{CVEs: []string{"CVE-5", "CVE-2"}}, []string{"a10|CVE-5", "a40|CVE-2"}},
		{"kev", store.VulnQuery{KEV: &yes}, []string{"a40|CVE-4"}},
		{"not kev", store.VulnQuery{KEV: &no, Assets: []string{"a40"}}, []string{"a40|CVE-1", "a40|CVE-2"}},
		{"status", store.VulnQuery{Statuses: []string{store.VulnAccepted, store.VulnFalsePositive}}, []string{"a10|CVE-3", "a40|CVE-2"}},
		{"min cvss", store.VulnQuery{MinCVSS: 7.5}, []string{"a10|CVE-5", "a40|CVE-1", "a40|CVE-2"}},
		{"min epss", store.VulnQuery{MinEPSS: 0.01}, []string{"a10|CVE-3", "a10|CVE-5", "a40|CVE-1"}},
		{"min epss leaves out unknown", store.VulnQuery{MinEPSS: 0.000001, Assets: []string{"a40"}}, []string{"a40|CVE-1", "a40|CVE-4"}},
		{"combined", store.VulnQuery{Statuses: []string{store.VulnOpen}, MinCVSS: 9, Assets: []string{"a40"}}, []string{"a40|CVE-1"}},
	}
	for _, tc := range cases {
		tc.q.Sort = store.Sort{Key: "id"}
		tc.q.WithTotal = true
		p, err := s.ListVulnerabilities(ctx, tc.q)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		sameIDs(t, tc.name, vulnIDs(p), tc.want)
		if p.Total != int64(len(tc.want)) {
			t.Errorf("%s: total %d, want %d", tc.name, p.Total, len(tc.want))
		}
	}
	sorts := []struct {
		sort   string
		assets []string
		want   []string
	}{
		{"", nil, []string{"a40|CVE-4", "a10|CVE-5", "a40|CVE-1", "a40|CVE-2", "a10|CVE-3"}},
		{"", []string{"a40"}, []string{"a40|CVE-4", "a40|CVE-1", "a40|CVE-2"}},
		{"risk", nil, []string{"a10|CVE-3", "a40|CVE-2", "a40|CVE-1", "a10|CVE-5", "a40|CVE-4"}},
		{"-cvss", nil, []string{"a40|CVE-1", "a10|CVE-5", "a40|CVE-2", "a40|CVE-4", "a10|CVE-3"}},
		{"-epss", nil, []string{"a10|CVE-5", "a40|CVE-1", "a10|CVE-3", "a40|CVE-4", "a40|CVE-2"}},
		{"cve", nil, []string{"a40|CVE-1", "a40|CVE-2", "a10|CVE-3", "a40|CVE-4", "a10|CVE-5"}},
		{"-asset", nil, []string{"a40|CVE-4", "a40|CVE-2", "a40|CVE-1", "a10|CVE-5", "a10|CVE-3"}},
	}
	for _, tc := range sorts {
		srt, err := store.ParseSort(tc.sort, store.VulnSortKeys)
		must(t, err)
		var ids []string
		cur := ""
		for {
			p, err := s.ListVulnerabilities(ctx, store.VulnQuery{Assets: tc.assets, ListOptions: store.ListOptions{Sort: srt, Limit: 2, Cursor: cur}})
			must(t, err)
			ids = append(ids, vulnIDs(p)...)
			if cur = p.Next; cur == "" {
				break
			}
		}
		sameIDs(t, "sort "+tc.sort, ids, tc.want)
	}
	// A first page with its total, and a cursor of another sort.
	p, err := s.ListVulnerabilities(ctx, store.VulnQuery{Assets: []string{"a40"}, ListOptions: store.ListOptions{Limit: 1, WithTotal: true}})
	must(t, err)
	if p.Total != 3 || len(p.Items) != 1 || p.Next == "" {
		t.Errorf("first page of one: %v total %d next %q", vulnIDs(p), p.Total, p.Next)
	}
	_, err = s.ListVulnerabilities(ctx, store.VulnQuery{ListOptions: store.ListOptions{Cursor: p.Next, Sort: store.Sort{Key: "cvss"}}})
	wantErr(t, err, store.ErrBadCursor)
	for name, q := range map[string]store.VulnQuery{
		"status":   {Statuses: []string{"fixed"}},
		"cvss":     {MinCVSS: 10.5},
		"epss":     {MinEPSS: -0.1},
		"sort key": {ListOptions: store.ListOptions{Sort: store.Sort{Key: "severity"}}},
	} {
		if _, err := s.ListVulnerabilities(ctx, q); err == nil {
			t.Errorf("%s: a bad query was accepted", name)
		}
	}
}
