package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

var (
	tagInfoLeak  = event.Tag{Taxonomy: event.TaxENISA, ID: "11", Name: "Information leakage"}
	tagIDTheft   = event.Tag{Taxonomy: event.TaxENISA, ID: "12", Name: "Identity theft"}
	tagMalware   = event.Tag{Taxonomy: event.TaxENISA, ID: "1", Name: "Malware"}
	tagCrypto    = event.Tag{Taxonomy: event.TaxOWASP, ID: "A02", Name: "Cryptographic Failures"}
	tagAuth      = event.Tag{Taxonomy: event.TaxOWASP, ID: "A07", Name: "Identification and Authentication Failures"}
	tagOutdated  = event.Tag{Taxonomy: event.TaxOWASP, ID: "A06", Name: "Vulnerable and Outdated Components"}
	tagDiscovery = event.Tag{Taxonomy: event.TaxATTACK, ID: "T1046", Name: "Network Service Discovery"}
)

func finding(id, asset, kind, severity string, last time.Time, count uint64, tags ...event.Tag) event.Finding {
	return event.Finding{V: 1, Type: event.TypeFinding, ID: id, Rule: kind, Kind: kind, Title: kind + " on " + asset,
		Severity: severity, Asset: asset, Endpoint: event.Endpoint{IP: netip.MustParseAddr("10.77.0.10")},
		Proto: "dicom", Detail: "detail of " + id, FirstSeen: t0, LastSeen: last, Count: count,
		Evidence: []event.Reference{{Flow: "flow-" + id, Frame: 1, Time: t0, What: "dicom/c-store-rq"}},
		Tags:     tags, State: event.StateOpen}
}

func testFindingRoundTrip(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	f := finding("f1", "a01", "cleartext-phi", event.SeverityHigh, at(1), 13, tagInfoLeak, tagCrypto)
	f.Remediation = "Enable DICOM TLS"
	must(t, s.UpsertFinding(ctx, f))
	got, err := s.Finding(ctx, "f1")
	must(t, err)
	if fmt.Sprint(got.Finding) != fmt.Sprint(f) {
		t.Errorf("finding round trip:\n got %+v\nwant %+v", got.Finding, f)
	}
	if got.Comment != "" || got.StateBy != "" || !got.StateAt.IsZero() {
		t.Errorf("untriaged finding has triage data %+v", got)
	}

	// A later sighting: newer evidence and detail, count grows, first
	// sighting stays.
	later := finding("f1", "a01", "cleartext-phi", event.SeverityHigh, at(3), 20, tagInfoLeak)
	later.FirstSeen = at(2)
	later.Detail = "new detail"
	later.Evidence = []event.Reference{{Flow: "flow-later", Time: at(3)}}
	must(t, s.UpsertFinding(ctx, later))
	got, err = s.Finding(ctx, "f1")
	must(t, err)
	if got.Count != 20 || got.Detail != "new detail" || !got.FirstSeen.Equal(t0) || !got.LastSeen.Equal(at(3)) ||
		len(got.Evidence) != 1 || got.Evidence[0].Flow != "flow-later" || len(got.Tags) != 1 {
		t.Errorf("after later sighting: %+v", got.Finding)
	}
	// A late, older sighting with a smaller count changes nothing.
	older := finding("f1", "a01", "cleartext-phi", event.SeverityHigh, at(2), 4)
	older.Detail = "stale"
	must(t, s.UpsertFinding(ctx, older))
	got, err = s.Finding(ctx, "f1")
	must(t, err)
	if got.Count != 20 || got.Detail != "new detail" || !got.LastSeen.Equal(at(3)) {
		t.Errorf("after older sighting: count %d detail %q last %v (want 20, new detail, %v)", got.Count, got.Detail, got.LastSeen, at(3))
	}
	_, err = s.Finding(ctx, "nope")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.UpsertFinding(ctx, event.Finding{}), store.ErrInvalid)
}

func testFindingTriage(t *testing.T, b Backend) {
	ctx := context.Background()
	s, clock := open(t, b)
	for _, state := range []string{event.StateAccepted, event.StateFalsePositive} {
		id := "f-" + state
		must(t, s.UpsertFinding(ctx, finding(id, "a01", "telnet", event.SeverityMedium, at(1), 1)))
		clock.Set(at(2))
		got, err := s.TriageFinding(ctx, store.Triage{ID: id, State: state, Comment: "vendor contract until 2027", Actor: "alice", Reason: "risk review"})
		must(t, err)
		if got.State != state || got.Comment != "vendor contract until 2027" || got.StateBy != "alice" || !got.StateAt.Equal(at(2)) {
			t.Errorf("triage %s returned %+v", state, got)
		}
		// Sightings after the decision do not reopen it.
		must(t, s.UpsertFinding(ctx, finding(id, "a01", "telnet", event.SeverityMedium, at(5), 9)))
		got, err = s.Finding(ctx, id)
		must(t, err)
		if got.State != state || got.Comment != "vendor contract until 2027" || got.Count != 9 {
			t.Errorf("%s finding after a later sighting: state %q comment %q count %d", state, got.State, got.Comment, got.Count)
		}
		// The decision is in the audit trail with before and after.
		p, err := s.ListAudit(ctx, store.AuditQuery{ObjectType: "finding", ObjectID: id})
		must(t, err)
		if len(p.Items) != 1 {
			t.Fatalf("audit of %s: %d records, want 1", id, len(p.Items))
		}
		r := p.Items[0]
		if r.Actor != "alice" || r.Action != "finding.triage" || r.Reason != "risk review" || !r.Time.Equal(at(2)) {
			t.Errorf("audit record %+v", r)
		}
		var before, after map[string]string
		must(t, json.Unmarshal(r.Before, &before))
		must(t, json.Unmarshal(r.After, &after))
		if before["state"] != event.StateOpen || after["state"] != state || after["comment"] != "vendor contract until 2027" {
			t.Errorf("audit before %v after %v", before, after)
		}
	}
	_, err := s.TriageFinding(ctx, store.Triage{ID: "f-accepted", State: "ignored", Actor: "alice"})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.TriageFinding(ctx, store.Triage{ID: "f-accepted", State: event.StateFixed})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.TriageFinding(ctx, store.Triage{ID: "nope", State: event.StateFixed, Actor: "alice"})
	wantErr(t, err, store.ErrNotFound)
	// A failed triage leaves no audit record.
	p, err := s.ListAudit(ctx, store.AuditQuery{ListOptions: store.ListOptions{WithTotal: true}})
	must(t, err)
	if p.Total != 2 {
		t.Errorf("audit holds %d records, want 2", p.Total)
	}
}

func testFindingReopen(t *testing.T, b Backend) {
	ctx := context.Background()
	s, clock := open(t, b)
	must(t, s.UpsertFinding(ctx, finding("f9", "a01", "smbv1", event.SeverityHigh, at(1), 3, tagMalware)))
	clock.Set(at(4))
	_, err := s.TriageFinding(ctx, store.Triage{ID: "f9", State: event.StateFixed, Comment: "SMBv1 disabled", Actor: "bob"})
	must(t, err)

	// A sighting from before the fix (delivered late) leaves it fixed.
	must(t, s.UpsertFinding(ctx, finding("f9", "a01", "smbv1", event.SeverityHigh, at(3), 5, tagMalware)))
	got, err := s.Finding(ctx, "f9")
	must(t, err)
	if got.State != event.StateFixed {
		t.Fatalf("sighting before the fix reopened the finding: %q", got.State)
	}
	// Fixed findings count in no open category.
	counts, err := s.CountFindingsByTag(ctx, store.TagCountQuery{Taxonomy: event.TaxENISA})
	must(t, err)
	if len(counts) != 0 {
		t.Errorf("open findings by tag while fixed: %v", counts)
	}

	// A sighting after the fix reopens it, keeps the comment, and says so
	// in the audit trail.
	clock.Set(at(6))
	must(t, s.UpsertFinding(ctx, finding("f9", "a01", "smbv1", event.SeverityHigh, at(5), 7, tagMalware)))
	got, err = s.Finding(ctx, "f9")
	must(t, err)
	if got.State != event.StateOpen || got.Comment != "SMBv1 disabled" || got.StateBy != "heir" || !got.StateAt.Equal(at(6)) {
		t.Errorf("reopened finding: state %q comment %q by %q at %v", got.State, got.Comment, got.StateBy, got.StateAt)
	}
	p, err := s.ListAudit(ctx, store.AuditQuery{ObjectID: "f9"})
	must(t, err)
	if len(p.Items) != 2 || p.Items[0].Action != "finding.reopen" || p.Items[0].Actor != "heir" || p.Items[1].Action != "finding.triage" {
		t.Errorf("audit of f9 (newest first): %+v", p.Items)
	}
	counts, err = s.CountFindingsByTag(ctx, store.TagCountQuery{Taxonomy: event.TaxENISA})
	must(t, err)
	if fmt.Sprint(counts) != fmt.Sprint([]store.TagCount{{Taxonomy: event.TaxENISA, ID: "1", Count: 1}}) {
		t.Errorf("open findings by tag after reopening: %v", counts)
	}
}

// findingSet: severities f1 high, f2 critical, f3 medium, f4 low, f5 high,
// f6 critical; assets a01 a01 a02 a03 a03 a04.
func findingSet() []event.Finding {
	return []event.Finding{
		finding("f1", "a01", "cleartext-phi", event.SeverityHigh, at(1), 10, tagInfoLeak, tagCrypto),
		finding("f2", "a01", "default-credentials", event.SeverityCritical, at(2), 2, tagIDTheft, tagAuth),
		finding("f3", "a02", "obsolete-tls", event.SeverityMedium, at(3), 30, tagInfoLeak, tagCrypto),
		finding("f4", "a03", "weak-certificate", event.SeverityLow, at(4), 1, tagInfoLeak),
		finding("f5", "a03", "smbv1", event.SeverityHigh, at(5), 5, tagMalware, tagOutdated),
		finding("f6", "a04", "default-credentials", event.SeverityCritical, at(6), 3, tagIDTheft, tagAuth),
	}
}

func findingIDs(p store.Page[store.Finding]) []string {
	ids := make([]string, len(p.Items))
	for i, f := range p.Items {
		ids[i] = f.ID
	}
	return ids
}

func testFindingList(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	for _, f := range findingSet() {
		must(t, s.UpsertFinding(ctx, f))
	}
	_, err := s.TriageFinding(ctx, store.Triage{ID: "f3", State: event.StateAccepted, Actor: "alice"})
	must(t, err)
	_, err = s.TriageFinding(ctx, store.Triage{ID: "f4", State: event.StateFalsePositive, Actor: "alice"})
	must(t, err)
	byID := store.ListOptions{Sort: store.Sort{Key: "id"}}
	cases := []struct {
		name string
		q    store.FindingQuery
		want []string
	}{
		{"all", store.FindingQuery{}, []string{"f1", "f2", "f3", "f4", "f5", "f6"}},
		{"open", store.FindingQuery{States: []string{event.StateOpen}}, []string{"f1", "f2", "f5", "f6"}},
		{"triaged", store.FindingQuery{States: []string{event.StateAccepted, event.StateFalsePositive}}, []string{"f3", "f4"}},
		{"critical", store.FindingQuery{Severities: []string{event.SeverityCritical}}, []string{"f2", "f6"}},
		{"kind", store.FindingQuery{Kinds: []string{"default-credentials"}}, []string{"f2", "f6"}},
		{"asset", store.FindingQuery{Asset: "a03"}, []string{"f4", "f5"}},
		{"enisa tag", store.FindingQuery{Tags: []store.TagRef{{Taxonomy: event.TaxENISA, ID: "11"}}}, []string{"f1", "f3", "f4"}},
		{"owasp tags", store.FindingQuery{Tags: []store.TagRef{{Taxonomy: event.TaxOWASP, ID: "A07"}, {Taxonomy: event.TaxOWASP, ID: "A06"}}}, []string{"f2", "f5", "f6"}},
		{"tag of another taxonomy", store.FindingQuery{Tags: []store.TagRef{{Taxonomy: event.TaxOWASP, ID: "11"}}}, nil},
		{"open on a03", store.FindingQuery{Asset: "a03", States: []string{event.StateOpen}}, []string{"f5"}},
		{"seen", store.FindingQuery{SeenAfter: at(2), SeenBefore: at(5)}, []string{"f2", "f3", "f4"}},
	}
	for _, tc := range cases {
		tc.q.ListOptions = byID
		p, err := s.ListFindings(ctx, tc.q)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		sameIDs(t, tc.name, findingIDs(p), tc.want)
	}
	sorts := []struct {
		sort string
		want []string
	}{
		{"", []string{"f6", "f2", "f5", "f1", "f3", "f4"}}, // most severe first
		{"severity", []string{"f4", "f3", "f1", "f5", "f2", "f6"}},
		{"-last_seen", []string{"f6", "f5", "f4", "f3", "f2", "f1"}},
		{"-count", []string{"f3", "f1", "f5", "f6", "f2", "f4"}},
		{"kind", []string{"f1", "f2", "f6", "f3", "f5", "f4"}},
		{"state", []string{"f3", "f4", "f1", "f2", "f5", "f6"}},
	}
	for _, tc := range sorts {
		srt, err := store.ParseSort(tc.sort, store.FindingSortKeys)
		must(t, err)
		var ids []string
		cur := ""
		for {
			p, err := s.ListFindings(ctx, store.FindingQuery{ListOptions: store.ListOptions{Sort: srt, Limit: 4, Cursor: cur}})
			must(t, err)
			ids = append(ids, findingIDs(p)...)
			if cur = p.Next; cur == "" {
				break
			}
		}
		sameIDs(t, "findings sorted "+tc.sort, ids, tc.want)
	}
	_, err = s.ListFindings(ctx, store.FindingQuery{Severities: []string{"severe"}})
	wantErr(t, err, store.ErrInvalid)
	_, err = s.ListFindings(ctx, store.FindingQuery{States: []string{"closed"}})
	wantErr(t, err, store.ErrInvalid)
}

func testFindingCounts(t *testing.T, b Backend) {
	ctx := context.Background()
	s, _ := open(t, b)
	for _, f := range findingSet() {
		must(t, s.UpsertFinding(ctx, f))
	}
	_, err := s.TriageFinding(ctx, store.Triage{ID: "f3", State: event.StateAccepted, Actor: "alice"})
	must(t, err)
	cases := []struct {
		q    store.TagCountQuery
		want []store.TagCount
	}{
		{store.TagCountQuery{Taxonomy: event.TaxENISA}, []store.TagCount{
			{Taxonomy: event.TaxENISA, ID: "11", Count: 2}, {Taxonomy: event.TaxENISA, ID: "12", Count: 2}, {Taxonomy: event.TaxENISA, ID: "1", Count: 1}}},
		{store.TagCountQuery{Taxonomy: event.TaxOWASP}, []store.TagCount{
			{Taxonomy: event.TaxOWASP, ID: "A07", Count: 2}, {Taxonomy: event.TaxOWASP, ID: "A02", Count: 1}, {Taxonomy: event.TaxOWASP, ID: "A06", Count: 1}}},
		{store.TagCountQuery{Taxonomy: event.TaxENISA, States: []string{event.StateAccepted}}, []store.TagCount{
			{Taxonomy: event.TaxENISA, ID: "11", Count: 1}}},
		{store.TagCountQuery{Taxonomy: event.TaxATTACK}, nil},
	}
	for _, tc := range cases {
		got, err := s.CountFindingsByTag(ctx, tc.q)
		must(t, err)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("count %+v: got %v, want %v", tc.q, got, tc.want)
		}
	}
	// A later sighting with other tags moves f1 between categories; a
	// repeated sighting with the same tags changes nothing.
	must(t, s.UpsertFinding(ctx, finding("f1", "a01", "cleartext-phi", event.SeverityHigh, at(8), 11, tagMalware, tagCrypto)))
	must(t, s.UpsertFinding(ctx, finding("f1", "a01", "cleartext-phi", event.SeverityHigh, at(9), 12, tagMalware, tagCrypto)))
	_, err = s.TriageFinding(ctx, store.Triage{ID: "f6", State: event.StateFalsePositive, Actor: "alice"})
	must(t, err)
	got, err := s.CountFindingsByTag(ctx, store.TagCountQuery{Taxonomy: event.TaxENISA})
	must(t, err)
	want := []store.TagCount{{Taxonomy: event.TaxENISA, ID: "1", Count: 2}, {Taxonomy: event.TaxENISA, ID: "11", Count: 1}, {Taxonomy: event.TaxENISA, ID: "12", Count: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("open findings by ENISA tag after changes: got %v, want %v", got, want)
	}
	got, err = s.CountFindingsByTag(ctx, store.TagCountQuery{Taxonomy: event.TaxENISA, States: []string{event.StateFalsePositive, event.StateAccepted}})
	must(t, err)
	want = []store.TagCount{{Taxonomy: event.TaxENISA, ID: "11", Count: 1}, {Taxonomy: event.TaxENISA, ID: "12", Count: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("triaged findings by ENISA tag: got %v, want %v", got, want)
	}
}
