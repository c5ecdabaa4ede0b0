package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

func ids[T any](items []T, id func(T) string) []string {
	var out []string
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func assetID(a store.Asset) string { return a.ID }

func TestAssetListPagingFilters(t *testing.T) {
	e := newEnv(t)
	fill(t, e.st, 7)
	// Paging by cursor, by name ascending, visits every device once.
	var all []string
	path := "/api/v1/assets?sort=name&limit=3&total=true"
	for range 5 {
		var page List[store.Asset]
		e.get("viewer", path, &page)
		if *page.Total != 7 {
			t.Fatalf("total %d", *page.Total)
		}
		for _, a := range page.Items {
			if a.Evidence != nil {
				t.Fatal("evidence in a list")
			}
		}
		all = append(all, ids(page.Items, assetID)...)
		if page.Next == "" {
			break
		}
		path = "/api/v1/assets?sort=name&limit=3&total=true&cursor=" + page.Next
	}
	want := []string{"dev-000", "dev-001", "dev-002", "dev-003", "dev-004", "dev-005", "dev-006"} // pump-0 … pump-6
	if !slices.Equal(all, want) {
		t.Fatalf("pages %v", all)
	}
	// Default order: riskiest first, unscored last.
	var page List[store.Asset]
	e.get("viewer", "/api/v1/assets?limit=3", &page)
	if got := ids(page.Items, assetID); !slices.Equal(got, []string{"dev-000", "dev-001", "dev-002"}) || page.Items[0].Risk.Score != 97 {
		t.Fatalf("riskiest %v", got)
	}
	for q, want := range map[string][]string{
		"vendor=Philips&sort=id":                                   {"dev-001", "dev-003", "dev-005"},
		"band=critical,medium&sort=id":                             {"dev-000", "dev-001"},
		"band=none&role=infusion-pump&sort=id":                     {"dev-004", "dev-006"},
		"network=10.1.0.0/30&sort=id":                              {"dev-000", "dev-001", "dev-002"},
		"q=pump-5":                                                 {"dev-005"},
		"role=patient-monitor&role=infusion-pump&sort=-id&limit=2": {"dev-006", "dev-005"},
	} {
		e.get("viewer", "/api/v1/assets?"+q, &page)
		if got := ids(page.Items, assetID); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
	// Bad parameters: one problem naming each.
	resp, b := e.do(req{method: "GET", path: "/api/v1/assets?limit=0&sort=colour&band=purple&network=x&seen_after=today&rolee=pump", as: "viewer"})
	p := problemOf(t, resp, b)
	if resp.StatusCode != 400 {
		t.Fatalf("bad params: %d", resp.StatusCode)
	}
	var fields []string
	for _, f := range p.Errors {
		fields = append(fields, f.Field)
	}
	slices.Sort(fields)
	if !slices.Equal(fields, []string{"band", "limit", "network", "rolee", "seen_after", "sort"}) {
		t.Fatalf("fields %v", fields)
	}
	resp, b = e.do(req{method: "GET", path: "/api/v1/assets?sort=id&cursor=bm9wZQ", as: "viewer"})
	if resp.StatusCode != 400 || !strings.Contains(problemOf(t, resp, b).Detail, "first page") {
		t.Fatalf("bad cursor: %d %s", resp.StatusCode, b)
	}
}

func TestAssetPage(t *testing.T) {
	e := newEnv(t)
	fill(t, e.st, 3)
	var d AssetDetail
	e.get("viewer", "/api/v1/assets/dev-000", &d)
	if d.Asset.ID != "dev-000" || len(d.Asset.Evidence) != 1 || len(d.Asset.Services) != 1 || d.Asset.Peers != 3 {
		t.Fatalf("asset %+v", d.Asset)
	}
	if len(d.Findings.Items) != 1 || d.Findings.Items[0].ID != "fnd-000" || *d.Findings.Total != 1 {
		t.Fatalf("findings %+v", d.Findings)
	}
	// Every alert targets 10.1.0.1: newest first.
	if len(d.Alerts.Items) != 5 || d.Alerts.Items[0].ID != "alr-000" || *d.Alerts.Total != 5 {
		t.Fatalf("alerts %v", ids(d.Alerts.Items, func(a event.Alert) string { return a.ID }))
	}
	if d.Score.Current == nil || d.Score.Current.Score != 97 || len(d.Score.Trend) != 3 || string(d.Score.Current.Breakdown) != `{"likelihood":0.9,"impact":0.8}` {
		t.Fatalf("score %+v", d.Score)
	}
	e.get("viewer", "/api/v1/assets/dev-002", &d)
	if len(d.Alerts.Items) != 0 || *d.Alerts.Total != 0 {
		t.Fatalf("dev-002 alerts %+v", d.Alerts)
	}
	resp, b := e.do(req{method: "GET", path: "/api/v1/assets/dev-999", as: "viewer"})
	if resp.StatusCode != 404 {
		t.Fatalf("missing: %d", resp.StatusCode)
	}
	problemOf(t, resp, b)
	var h ScoreHistory
	e.get("viewer", "/api/v1/scores/assets/dev-001?from=2026-11-27T00:00:00Z", &h)
	if len(h.Items) != 2 || h.Items[0].Score != 66 || h.Items[1].Score != 67 {
		t.Fatalf("history %+v", h.Items)
	}
	e.get("viewer", "/api/v1/scores/hospital", &h)
	if len(h.Items) != 3 || h.Items[2].Score != 72 || h.Subject != DefaultSite {
		t.Fatalf("hospital %+v", h)
	}
	if resp, _ := e.do(req{method: "GET", path: "/api/v1/scores/hospital?from=2020-01-01T00:00:00Z", as: "viewer"}); resp.StatusCode != 400 {
		t.Fatalf("too long a range: %d", resp.StatusCode)
	}
}

func vulnID(v store.Vulnerability) string { return v.ID }

// TestVulnerabilities: the device page lists its vulnerabilities most
// severe first (known exploited first); the list filters, sorts and
// pages like every other.
func TestVulnerabilities(t *testing.T) {
	e := newEnv(t)
	fill(t, e.st, 3)
	var d AssetDetail
	e.get("viewer", "/api/v1/assets/dev-000", &d)
	if got := ids(d.Vulnerabilities.Items, vulnID); !slices.Equal(got, []string{"dev-000|CVE-2020-0002", "dev-000|CVE-2020-0001"}) || *d.Vulnerabilities.Total != 2 {
		t.Fatalf("device page vulnerabilities %v", got)
	}
	if v := d.Vulnerabilities.Items[0]; !v.KEV || v.CVSS != 5.9 || *v.EPSS != 0.01 || len(v.Evidence) != 1 || v.Component != "Space 1.0" {
		t.Errorf("KEV vulnerability %+v", v)
	}
	e.get("viewer", "/api/v1/assets/dev-002", &d)
	if d.Vulnerabilities.Items == nil || len(d.Vulnerabilities.Items) != 0 || *d.Vulnerabilities.Total != 0 {
		t.Errorf("dev-002 vulnerabilities %+v", d.Vulnerabilities)
	}
	var page List[store.Vulnerability]
	for q, want := range map[string][]string{
		"":                                  {"dev-000|CVE-2020-0002", "dev-001|CVE-2020-0001", "dev-000|CVE-2020-0001", "dev-001|CVE-2020-0003"},
		"kev=true":                          {"dev-000|CVE-2020-0002"},
		"kev=false&sort=id":                 {"dev-000|CVE-2020-0001", "dev-001|CVE-2020-0001", "dev-001|CVE-2020-0003"},
		"cve=CVE-2020-0001&sort=asset":      {"dev-000|CVE-2020-0001", "dev-001|CVE-2020-0001"},
		"asset=dev-001&sort=cve":            {"dev-001|CVE-2020-0001", "dev-001|CVE-2020-0003"},
		"status=false-positive":             {"dev-001|CVE-2020-0003"},
		"min_cvss=7.5&status=open&sort=-id": {"dev-001|CVE-2020-0001", "dev-000|CVE-2020-0001"},
		"min_epss=0.1&sort=id":              {"dev-000|CVE-2020-0001", "dev-001|CVE-2020-0001"},
		"sort=-cvss&limit=1":                {"dev-001|CVE-2020-0001"},
	} {
		e.get("viewer", "/api/v1/vulnerabilities?"+q, &page)
		if got := ids(page.Items, vulnID); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
	e.get("viewer", "/api/v1/vulnerabilities?status=false-positive", &page)
	if dec := page.Items[0].Decision; dec == nil || dec.Comment != "not this firmware" || dec.State != "false-positive" {
		t.Errorf("the analyst's decision: %+v", dec)
	}
	// Pages by cursor visit every row once.
	var all []string
	path := "/api/v1/vulnerabilities?limit=3&total=true"
	for range 3 {
		var page List[store.Vulnerability]
		e.get("viewer", path, &page)
		if *page.Total != 4 {
			t.Fatalf("total %d", *page.Total)
		}
		all = append(all, ids(page.Items, vulnID)...)
		if page.Next == "" {
			break
		}
		path = "/api/v1/vulnerabilities?limit=3&total=true&cursor=" + page.Next
	}
	if len(all) != 4 || all[0] != "dev-000|CVE-2020-0002" {
		t.Errorf("pages %v", all)
	}
	resp, b := e.do(req{method: "GET", path: "/api/v1/vulnerabilities?status=fixed&kev=maybe&min_cvss=11&min_epss=x&sort=severity&assets=dev-000", as: "viewer"})
	p := problemOf(t, resp, b)
	var fields []string
	for _, f := range p.Errors {
		fields = append(fields, f.Field)
	}
	slices.Sort(fields)
	if resp.StatusCode != 400 || !slices.Equal(fields, []string{"assets", "kev", "min_cvss", "min_epss", "sort", "status"}) {
		t.Fatalf("bad params: %d %v", resp.StatusCode, fields)
	}
}

func TestOverview(t *testing.T) {
	e := newEnv(t)
	fill(t, e.st, 5)
	var o Overview
	e.get("viewer", "/api/v1/overview?window=24h", &o)
	if o.LocalRAMA.Current == nil || o.LocalRAMA.Current.Score != 72 || len(o.LocalRAMA.Trend) != 3 {
		t.Fatalf("local RAMA %+v", o.LocalRAMA)
	}
	// Latest scores 97, 67, 37: critical, medium, low; 2 unscored.
	want := map[string]int64{"critical": 1, "high": 0, "medium": 1, "low": 1, "none": 2}
	if fmt.Sprint(o.DevicesByBand) != fmt.Sprint(want) || o.Devices != 5 {
		t.Fatalf("bands %v (%d)", o.DevicesByBand, o.Devices)
	}
	enisa := o.OpenFindings[event.TaxENISA]
	if len(enisa) < 15 || enisa[10].ID != "11" || enisa[10].Count != 3 || enisa[11].ID != "12" || enisa[11].Count != 2 || enisa[0].Count != 0 {
		t.Fatalf("ENISA %+v", enisa)
	}
	owasp := o.OpenFindings[event.TaxOWASP]
	if owasp[1].ID != "A02" || owasp[1].Count != 3 || owasp[6].ID != "A07" || owasp[6].Count != 2 {
		t.Fatalf("OWASP %+v", owasp)
	}
	var n int64
	for _, b := range o.Alerts.Buckets {
		n += b.Count
	}
	if n != 5 || o.Alerts.Bucket != "1h" || !o.Alerts.To.After(t0) || o.Alerts.To.Sub(o.Alerts.From).Hours() != 24 {
		t.Fatalf("alerts %+v", o.Alerts)
	}
	if got := ids(o.Riskiest, assetID); !slices.Equal(got, []string{"dev-000", "dev-001", "dev-002"}) {
		t.Fatalf("riskiest %v", got)
	}
	// Triage takes a finding out of the open counts.
	if resp, b := e.do(req{method: "POST", path: "/api/v1/findings/fnd-000/triage", body: TriageRequest{State: "false-positive", Comment: "lab device"}, as: "analyst"}); resp.StatusCode != 200 {
		t.Fatalf("triage %d %s", resp.StatusCode, b)
	}
	e.get("viewer", "/api/v1/overview", &o)
	if o.OpenFindings[event.TaxENISA][11].Count != 1 || o.Alerts.Bucket != "1h" || o.Alerts.To.Sub(o.Alerts.From).Hours() != 7*24 {
		t.Fatalf("after triage: %+v", o.OpenFindings[event.TaxENISA][11])
	}
}

func TestFindingsAlertsTriageAudit(t *testing.T) {
	e := newEnv(t)
	fill(t, e.st, 4)
	var fl List[store.Finding]
	e.get("viewer", "/api/v1/findings?severity=critical&sort=id", &fl)
	if got := ids(fl.Items, func(f store.Finding) string { return f.ID }); !slices.Equal(got, []string{"fnd-000", "fnd-001"}) {
		t.Fatalf("critical %v", got)
	}
	e.get("viewer", "/api/v1/findings?tag=enisa-etl-2018:11&asset=dev-003", &fl)
	if len(fl.Items) != 1 || fl.Items[0].ID != "fnd-003" {
		t.Fatalf("by tag %+v", fl.Items)
	}
	var al List[event.Alert]
	e.get("viewer", "/api/v1/alerts?sort=start&limit=2&ip=10.9.0.1", &al)
	if got := ids(al.Items, func(a event.Alert) string { return a.ID }); !slices.Equal(got, []string{"alr-004", "alr-003"}) || al.Next == "" {
		t.Fatalf("alerts %v", got)
	}
	var a event.Alert
	e.get("viewer", "/api/v1/alerts/alr-002", &a)
	if a.ID != "alr-002" || a.Category != "reconnaissance" {
		t.Fatalf("alert %+v", a)
	}
	// Triage: bad state refused; each decision audited with before and after.
	resp, b := e.do(req{method: "POST", path: "/api/v1/findings/fnd-001/triage", body: map[string]string{"state": "ignored"}, as: "analyst"})
	if resp.StatusCode != 400 || problemOf(t, resp, b).Errors[0].Field != "state" {
		t.Fatalf("bad state: %d %s", resp.StatusCode, b)
	}
	resp, _ = e.do(req{method: "POST", path: "/api/v1/findings/fnd-001/triage", body: `{"state":"accepted","extra":1}`, ctype: "application/json", as: "analyst"})
	if resp.StatusCode != 400 {
		t.Fatalf("unknown field: %d", resp.StatusCode)
	}
	resp, _ = e.do(req{method: "POST", path: "/api/v1/findings/fnd-001/triage", body: `state=accepted`, ctype: "application/x-www-form-urlencoded", as: "analyst"})
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form body: %d", resp.StatusCode)
	}
	for _, st := range []string{"accepted", "open", "fixed"} {
		resp, b := e.do(req{method: "POST", path: "/api/v1/findings/fnd-001/triage", body: TriageRequest{State: st, Comment: "c-" + st, Reason: "r-" + st}, as: "analyst"})
		if resp.StatusCode != 200 {
			t.Fatalf("triage %s: %d %s", st, resp.StatusCode, b)
		}
		var f store.Finding
		json.Unmarshal(b, &f)
		if f.State != st || f.Comment != "c-"+st || f.StateBy != "analyst" {
			t.Fatalf("triaged %+v", f)
		}
	}
	var audit List[store.AuditRecord]
	e.get("auditor", "/api/v1/audit?object_type=finding&object_id=fnd-001&total=true", &audit)
	if *audit.Total != 3 {
		t.Fatalf("audit %d records", *audit.Total)
	}
	last := audit.Items[2]
	if last.Actor != "analyst" || last.Action != "finding.triage" || last.Reason != "r-fixed" ||
		!strings.Contains(string(last.Before), `"open"`) || !strings.Contains(string(last.After), `"fixed"`) {
		t.Fatalf("audit record %+v before %s after %s", last, last.Before, last.After)
	}
	e.get("auditor", "/api/v1/audit?sort=-seq&limit=1", &audit)
	if audit.Items[0].Seq != last.Seq {
		t.Fatalf("newest first: %d", audit.Items[0].Seq)
	}
	var v AuditVerification
	e.get("auditor", "/api/v1/audit/verify", &v)
	if !v.OK || v.Head.Seq < last.Seq {
		t.Fatalf("verify %+v", v)
	}
	// A viewer may not triage; an auditor may not either.
	for _, who := range []string{"viewer", "auditor", "dpo"} {
		if resp, _ := e.do(req{method: "POST", path: "/api/v1/findings/fnd-001/triage", body: TriageRequest{State: "open"}, as: who}); resp.StatusCode != 403 {
			t.Fatalf("%s triaged: %d", who, resp.StatusCode)
		}
	}
}

func TestUsersAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var cu CreatedUser
	resp, b := e.do(req{method: "POST", path: "/api/v1/users", body: CreateUserRequest{Name: "nurse.kim", Roles: []string{"viewer"}}, as: "admin"})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	json.Unmarshal(b, &cu)
	if len(cu.InitialPassword) < 20 || cu.User.Name != "nurse.kim" {
		t.Fatalf("created %+v", cu)
	}
	// The one-time password signs in.
	resp, _ = e.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: "nurse.kim", Password: cu.InitialPassword}})
	if resp.StatusCode != 200 {
		t.Fatalf("sign in with the initial password: %d", resp.StatusCode)
	}
	for name, body := range map[string]any{
		"short password": CreateUserRequest{Name: "x", Roles: []string{"viewer"}, Password: "short"},
		"bad role":       CreateUserRequest{Name: "x", Roles: []string{"root"}},
		"bad name":       CreateUserRequest{Name: "oidc:x", Roles: []string{"viewer"}},
	} {
		if resp, _ := e.do(req{method: "POST", path: "/api/v1/users", body: body, as: "admin"}); resp.StatusCode != 400 {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	if resp, _ := e.do(req{method: "POST", path: "/api/v1/users", body: CreateUserRequest{Name: "viewer", Roles: []string{"viewer"}}, as: "admin"}); resp.StatusCode != 409 {
		t.Fatalf("duplicate: %d", resp.StatusCode)
	}
	// Roles change; disabling ends the sessions.
	c, _ := e.login("analyst")
	var u store.User
	id := e.users["analyst"].ID
	resp, b = e.do(req{method: "PATCH", path: "/api/v1/users/" + id, body: map[string]any{"roles": []string{"viewer", "auditor"}}, as: "admin"})
	json.Unmarshal(b, &u)
	if resp.StatusCode != 200 || !slices.Equal(u.Roles, []string{"auditor", "viewer"}) {
		t.Fatalf("roles: %d %s", resp.StatusCode, b)
	}
	if resp, _ := e.do(req{method: "POST", path: "/api/v1/findings/x/triage", body: TriageRequest{State: "open"}, as: "analyst"}); resp.StatusCode != 403 {
		t.Fatalf("former analyst triages: %d", resp.StatusCode)
	}
	e.do(req{method: "PATCH", path: "/api/v1/users/" + id, body: map[string]any{"disabled": true}, as: "admin"})
	if resp, _ := e.doc(c, "GET", "/api/v1/auth/me", nil, nil); resp.StatusCode != 401 {
		t.Fatalf("disabled user's session: %d", resp.StatusCode)
	}
	if resp, _ := e.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: "analyst", Password: testPassword}}); resp.StatusCode != 401 {
		t.Fatalf("disabled user signs in: %d", resp.StatusCode)
	}
	// The last administrator cannot lose the role or be disabled.
	adminID := e.users["admin"].ID
	for _, body := range []map[string]any{{"roles": []string{"viewer"}}, {"disabled": true}} {
		if resp, _ := e.do(req{method: "PATCH", path: "/api/v1/users/" + adminID, body: body, as: "admin"}); resp.StatusCode != 409 {
			t.Fatalf("last admin %v: %d", body, resp.StatusCode)
		}
	}
	var list List[store.User]
	e.get("admin", "/api/v1/users?role=admin,dpo&sort=-name", &list)
	if got := ids(list.Items, func(u store.User) string { return u.Name }); !slices.Equal(got, []string{"dpo", "admin"}) {
		t.Fatalf("users %v", got)
	}
	e.get("admin", "/api/v1/users?disabled=true", &list)
	if len(list.Items) != 1 || list.Items[0].Name != "analyst" {
		t.Fatalf("disabled users %+v", list.Items)
	}
	e.get("admin", "/api/v1/users?limit=2&sort=name", &list)
	second := List[store.User]{}
	e.get("admin", "/api/v1/users?limit=2&sort=name&cursor="+list.Next, &second)
	if got := ids(append(list.Items, second.Items...), func(u store.User) string { return u.Name }); !slices.Equal(got, []string{"admin", "analyst", "auditor", "dpo"}) {
		t.Fatalf("user pages %v", got)
	}

	// Changing one's own password: the old one stops working, other
	// sessions end, the browser gets a new session.
	c1, tok := e.login("viewer")
	c2, _ := e.login("viewer")
	resp, b = e.doc(c1, "POST", "/api/v1/auth/password", PasswordChange{CurrentPassword: "nope", NewPassword: "a much longer secret"}, http.Header{"X-Csrf-Token": {tok}})
	if resp.StatusCode != 400 {
		t.Fatalf("wrong current password: %d %s", resp.StatusCode, b)
	}
	resp, b = e.doc(c1, "POST", "/api/v1/auth/password", PasswordChange{CurrentPassword: testPassword, NewPassword: "a much longer secret"}, http.Header{"X-Csrf-Token": {tok}})
	if resp.StatusCode != 200 {
		t.Fatalf("change: %d %s", resp.StatusCode, b)
	}
	e.okc(c1, "GET", "/api/v1/auth/me")
	if resp, _ := e.doc(c2, "GET", "/api/v1/auth/me", nil, nil); resp.StatusCode != 401 {
		t.Fatalf("other session after a password change: %d", resp.StatusCode)
	}
	if resp, _ := e.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: "viewer", Password: testPassword}}); resp.StatusCode != 401 {
		t.Fatalf("old password: %d", resp.StatusCode)
	}
	// Audit: user changes with before/after, never a hash.
	var audit List[store.AuditRecord]
	e.get("admin", "/api/v1/audit?object_type=user&limit=1000", &audit)
	var actions []string
	for _, r := range audit.Items {
		actions = append(actions, r.Actor+":"+r.Action)
		if strings.Contains(string(r.After)+string(r.Before), "argon2id") {
			t.Fatal("a password hash in the audit trail")
		}
	}
	for _, want := range []string{"admin:user.create", "admin:user.update", "viewer:user.update"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}
	if _, err := e.st.UserByName(ctx, "nurse.kim"); err != nil {
		t.Fatal(err)
	}
}

func TestSensors(t *testing.T) {
	iss := &fakeIssuer{}
	e := newEnv(t, func(o *Options) { o.Sensors = iss })
	var is IssuedSensor
	resp, b := e.do(req{method: "POST", path: "/api/v1/sensors", body: IssueSensorRequest{Name: "icu3"}, as: "admin"})
	if resp.StatusCode != 201 {
		t.Fatalf("issue: %d %s", resp.StatusCode, b)
	}
	json.Unmarshal(b, &is)
	if is.Sensor.Name != "icu3" || !strings.Contains(is.Credentials, "SUAFAKESEED") || is.FileName != "icu3.creds.json" {
		t.Fatalf("issued %+v", is)
	}
	s, _ := e.st.Sensor(context.Background(), "icu3")
	if s.CredentialHash == "" || strings.Contains(s.CredentialHash, "SUAFAKESEED") {
		t.Fatalf("stored %+v", s)
	}
	for name, c := range map[string]struct {
		body string
		code int
	}{"again": {`{"name":"icu3"}`, 409}, "bad name": {`{"name":"ICU 3"}`, 400}} {
		if resp, _ := e.do(req{method: "POST", path: "/api/v1/sensors", body: c.body, ctype: "application/json", as: "admin"}); resp.StatusCode != c.code {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	var list List[store.Sensor]
	e.get("admin", "/api/v1/sensors?revoked=false", &list)
	if len(list.Items) != 1 {
		t.Fatalf("sensors %+v", list.Items)
	}
	if resp, _ := e.do(req{method: "DELETE", path: "/api/v1/sensors/icu3", as: "admin"}); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if !slices.Equal(iss.revoked, []string{"icu3"}) {
		t.Fatalf("bus revoked %v", iss.revoked)
	}
	e.get("admin", "/api/v1/sensors?revoked=true", &list)
	if len(list.Items) != 1 || list.Items[0].Revoked.IsZero() {
		t.Fatalf("revoked %+v", list.Items)
	}
	var audit List[store.AuditRecord]
	e.get("admin", "/api/v1/audit?object_type=sensor", &audit)
	if len(audit.Items) != 2 || audit.Items[0].Action != "sensor.create" || audit.Items[1].Action != "sensor.revoke" || audit.Items[1].Actor != "admin" {
		t.Fatalf("audit %+v", audit.Items)
	}
	if strings.Contains(string(audit.Items[0].After), "SUAFAKESEED") {
		t.Fatal("secret in the audit trail")
	}
	// Without the bus the endpoints say so.
	e2 := newEnv(t)
	if resp, _ := e2.do(req{method: "POST", path: "/api/v1/sensors", body: IssueSensorRequest{Name: "x"}, as: "admin"}); resp.StatusCode != 501 {
		t.Fatalf("no bus: %d", resp.StatusCode)
	}
}
