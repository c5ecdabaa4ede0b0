package ui_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
)

// client is a signed-in HTTP client of the node.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
	user string
}

// signIn starts a session for role through the API, as a script would.
func signIn(t *testing.T, n *Node, role string) *client {
	t.Helper()
	cred, ok := n.Users[role]
	if !ok {
		t.Fatalf("the node has no %s user", role)
	}
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, base: n.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, user: cred.Name}
	var me server.Me
	res, body := c.send("POST", "/api/v1/auth/login", "application/json", mustJSON(t, server.LoginRequest{Username: cred.Name, Password: cred.Password}), nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sign in as %s: %d %s", cred.Name, res.StatusCode, body)
	}
	if err := json.Unmarshal(body, &me); err != nil {
		t.Fatal(err)
	}
	c.csrf = me.CSRFToken
	return c
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c *client) send(method, path, ctype string, body []byte, hdr http.Header) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "text/html,application/json")
	}
	res, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return res, b
}

// page GETs a UI page and fails unless it answers want.
func (c *client) page(path string, want int) string {
	c.t.Helper()
	res, b := c.send("GET", path, "", nil, nil)
	if res.StatusCode != want {
		c.t.Fatalf("GET %s as %s: %d, want %d\n%s", path, c.user, res.StatusCode, want, b)
	}
	return string(b)
}

// api GETs an API path into out.
func (c *client) api(path string, out any) {
	c.t.Helper()
	res, b := c.send("GET", path, "", nil, http.Header{"Accept": {"application/json"}})
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s as %s: %d %s", path, c.user, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
}

// form POSTs a form the way a browser without script does.
func (c *client) form(path string, v url.Values) (*http.Response, []byte) {
	c.t.Helper()
	return c.send("POST", path, "application/x-www-form-urlencoded", []byte(v.Encode()), http.Header{"Origin": {c.base}})
}

// text strips tags, for checks on what a reader sees.
func text(html string) string {
	s := regexp.MustCompile(`(?s)<script.*?</script>|<[^>]*>`).ReplaceAllString(html, " ")
	return strings.Join(strings.Fields(s), " ")
}

func TestPagesRenderSeededData(t *testing.T) {
	n := startNode(t)
	a := signIn(t, n, "analyst")

	home := a.page("/", http.StatusOK)
	var o server.Overview
	a.api("/api/v1/overview", &o)
	if o.LocalRAMA.Current == nil || len(o.Riskiest) == 0 {
		t.Fatalf("the node has no hospital score or scored device: %+v", o.LocalRAMA)
	}
	for _, want := range []string{
		`data-chart=`, `id="chart-rama"`, `id="chart-bands"`, `id="chart-enisa-etl-2018"`, `id="chart-owasp-2021"`, `id="chart-alerts"`,
		fmt.Sprintf(`<span class="score" id="rama-now">%d</span>`, o.LocalRAMA.Current.Score),
		`href="/devices/` + o.Riskiest[0].ID + `"`,
	} {
		if !strings.Contains(home, want) {
			t.Errorf("overview lacks %s", want)
		}
	}
	// The data tables carry the API's numbers: every ENISA category with
	// its open-finding count.
	for _, c := range o.OpenFindings[event.TaxENISA] {
		row := fmt.Sprintf(`%s %s</a></td><td class="n">%d</td>`, c.ID, c.Name, c.Count)
		if !strings.Contains(home, row) {
			t.Errorf("overview's ENISA table lacks %q", row)
		}
	}

	dev := o.Riskiest[0]
	page := text(a.page("/devices/"+url.PathEscape(dev.ID), http.StatusOK))
	for _, want := range []string{"Identity", "Evidence", "Services and peers", "RAMA breakdown", "Residual points", "Findings", "Vulnerabilities", "Alerts"} {
		if !strings.Contains(page, want) {
			t.Errorf("device page of %s lacks %q", dev.ID, want)
		}
	}
	// The breakdown's items add up to the stored score (which the node
	// rounds to a whole number).
	var d server.AssetDetail
	a.api("/api/v1/assets/"+url.PathEscape(dev.ID), &d)
	if d.Score.Current == nil {
		t.Fatalf("%s has no score", dev.ID)
	}
	m := regexp.MustCompile(`Total ([0-9.]+) ([0-9.]+)`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the breakdown has no total row:\n%s", page)
	}
	// The node stores the score rounded down (so that it and the band
	// agree); the total is shown to one decimal.
	if res, _ := strconv.ParseFloat(m[2], 64); res-float64(d.Score.Current.Score) < -0.05 || res-float64(d.Score.Current.Score) > 1.05 {
		t.Errorf("the breakdown's residual total %s is not the score %d", m[2], d.Score.Current.Score)
	}

	// The PACS's vulnerabilities: the page's table holds the API's rows,
	// known exploited first, with how each matched.
	const pacs = "mac-024d4c00000a"
	var pd server.AssetDetail
	a.api("/api/v1/assets/"+pacs, &pd)
	if len(pd.Vulnerabilities.Items) == 0 || !pd.Vulnerabilities.Items[0].KEV {
		t.Fatalf("the PACS's vulnerabilities from the API: %+v", pd.Vulnerabilities)
	}
	raw := a.page("/devices/"+pacs, http.StatusOK)
	rows := regexp.MustCompile(`(?s)<table class="list vulns">.*?<tbody>(.*?)</tbody>`).FindStringSubmatch(raw)
	if rows == nil {
		t.Fatal("the PACS's page has no vulnerability table")
	}
	cves := regexp.MustCompile(`<th scope="row">(CVE-[0-9]+-[0-9]+)</th>`).FindAllStringSubmatch(rows[1], -1)
	if len(cves) != len(pd.Vulnerabilities.Items) {
		t.Errorf("the vulnerability table has %d rows, the API %d", len(cves), len(pd.Vulnerabilities.Items))
	}
	for i, m := range cves {
		if i < len(pd.Vulnerabilities.Items) && m[1] != pd.Vulnerabilities.Items[i].CVE {
			t.Errorf("row %d is %s, the API's %s", i, m[1], pd.Vulnerabilities.Items[i].CVE)
		}
	}
	for _, want := range []string{"KEV", "csaf:ICSMA-21-187-01", "Why it matched"} {
		if !strings.Contains(rows[1], want) {
			t.Errorf("the PACS's vulnerability table lacks %q", want)
		}
	}
	// Its main peers: the CT modality that stores images to it, linked
	// to its own page.
	peers := regexp.MustCompile(`(?s)<table class="list peers">.*?<tbody>(.*?)</tbody>`).FindStringSubmatch(raw)
	if peers == nil || !strings.Contains(peers[1], `<th scope="row">10.77.0.20</th><td><a href="/devices/mac-024d4c000014">`) || !strings.Contains(peers[1], "dicom") {
		t.Errorf("the PACS's peers do not list the modality with its page and DICOM: %v", peers)
	}

	for _, p := range []string{"/devices", "/devices?sort=vendor&band=high&band=critical", "/alerts", "/alerts?group=rule", "/alerts?group=source&severity=high",
		"/findings", "/findings?state=&severity=high", "/threats", "/threats/enisa-etl-2018/11", "/threats/owasp-2021/A02"} {
		a.page(p, http.StatusOK)
	}
	a.page("/devices?network=not-a-prefix", http.StatusBadRequest)
	a.page("/threats/enisa-etl-2018/99", http.StatusNotFound)
	a.page("/devices/no-such-device", http.StatusNotFound)
	a.page("/no/such/page", http.StatusNotFound)
}

func TestDevicesListSortsAndFilters(t *testing.T) {
	n := startNode(t)
	if !n.Local {
		t.Skip("relies on the seeded lab data")
	}
	a := signIn(t, n, "viewer")
	// The lab has one PACS (10.77.0.10): the role filter finds it alone.
	page := a.page("/devices?role=pacs", http.StatusOK)
	if !strings.Contains(page, "1 devices match.") || !strings.Contains(page, "10.77.0.10") {
		t.Errorf("role=pacs should list the lab's PACS only:\n%s", text(page))
	}
	// Sorting by vendor ascending marks the column and links to
	// descending.
	page = a.page("/devices?sort=vendor", http.StatusOK)
	if !strings.Contains(page, `aria-sort="ascending"><a href="?sort=-vendor">Vendor`) {
		t.Errorf("vendor column not marked ascending with a link to descending")
	}
	// A network filter narrows to its prefix.
	page = a.page("/devices?network=10.77.0.40/30", http.StatusOK)
	for _, ip := range []string{"10.77.0.40", "10.77.0.41", "10.77.0.42"} {
		if !strings.Contains(page, ip) {
			t.Errorf("network 10.77.0.40/30 lacks %s", ip)
		}
	}
	if strings.Contains(page, "10.77.0.10<") {
		t.Errorf("network 10.77.0.40/30 lists 10.77.0.10")
	}
}

func TestTriageFormAndRoles(t *testing.T) {
	n := startNode(t)
	analyst, viewer := signIn(t, n, "analyst"), signIn(t, n, "viewer")
	var open server.List[store.Finding]
	analyst.api("/api/v1/findings?state=open&limit=2", &open)
	if len(open.Items) < 2 {
		t.Fatalf("need two open findings, have %d", len(open.Items))
	}
	f := open.Items[1]

	// The viewer sees the findings but no triage control, and a forged
	// form post is refused by the API.
	vp := viewer.page("/findings", http.StatusOK)
	if strings.Contains(vp, `class="triage"`) || strings.Contains(vp, "Save decision") {
		t.Error("the viewer's findings page has triage controls")
	}
	if !strings.Contains(vp, "not triage them") {
		t.Error("the viewer is not told why there is no triage control")
	}
	res, body := viewer.form("/findings/"+f.ID+"/triage", url.Values{"csrf_token": {viewer.csrf}, "state": {"accepted"}, "comment": {"viewer tries"}, "next": {"/findings"}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "triage") {
		t.Errorf("viewer's forged triage form: %d, want 403 naming the permission\n%s", res.StatusCode, text(string(body)))
	}
	// Without the CSRF token the server refuses before the UI sees it.
	res, _ = analyst.form("/findings/"+f.ID+"/triage", url.Values{"state": {"accepted"}, "comment": {"no token"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("triage form without CSRF token: %d, want 403", res.StatusCode)
	}

	// The analyst's form post lands, redirects back and shows the new
	// state and comment.
	ap := analyst.page("/findings", http.StatusOK)
	if !strings.Contains(ap, `action="/findings/`+f.ID+`/triage"`) {
		t.Fatalf("the analyst's findings page has no triage form for %s", f.ID)
	}
	comment := "vendor patch scheduled; segment in the meantime"
	res, body = analyst.form("/findings/"+f.ID+"/triage", url.Values{"csrf_token": {analyst.csrf}, "state": {"accepted"}, "comment": {comment}, "next": {"/findings?state="}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/findings?state=#finding-"+f.ID {
		t.Fatalf("analyst's triage form: %d to %q, want 303 back to the list\n%s", res.StatusCode, res.Header.Get("Location"), text(string(body)))
	}
	after := analyst.page("/findings?state=accepted", http.StatusOK)
	if !strings.Contains(after, "Saved: “"+f.Title) || !strings.Contains(after, comment) {
		t.Errorf("after triage the list should confirm and show the comment:\n%s", text(after))
	}
	var got store.Finding
	analyst.api("/api/v1/findings/"+f.ID, &got)
	if got.State != event.StateAccepted || got.Comment != comment || got.StateBy != n.Users["analyst"].Name {
		t.Errorf("stored finding: state %q comment %q by %q", got.State, got.Comment, got.StateBy)
	}
	// The auditor sees the decision in the finding's audit trail.
	auditor := signIn(t, n, "auditor")
	fp := text(auditor.page("/findings/"+f.ID, http.StatusOK))
	if !strings.Contains(fp, "finding.triage") || !strings.Contains(fp, n.Users["analyst"].Name) || !strings.Contains(fp, comment) {
		t.Errorf("auditor's finding page lacks the triage in its trail:\n%s", fp)
	}
	// An empty comment is refused by the UI's form path.
	res, _ = analyst.form("/findings/"+f.ID+"/triage", url.Values{"csrf_token": {analyst.csrf}, "state": {"fixed"}, "comment": {"  "}})
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("triage without comment: %d, want 400", res.StatusCode)
	}
}

func TestHostileTextIsEscaped(t *testing.T) {
	n := startNode(t)
	a := signIn(t, n, "analyst")
	// Filters echo what was typed: it must come back as text.
	page := a.page("/devices?q=%3Cscript%3Ealert(1)%3C/script%3E", http.StatusOK)
	if strings.Contains(page, "<script>alert(1)") {
		t.Error("the search text is echoed as markup")
	}
	page = a.page("/alerts?rule=%22%3E%3Cimg%20src=x%3E", http.StatusOK)
	if strings.Contains(page, `"><img src=x>`) {
		t.Error("the rule filter is echoed as markup")
	}
}

func TestStaticAssetsAndHeaders(t *testing.T) {
	n := startNode(t)
	anon := &http.Client{}
	for _, p := range []string{"/ui/static/js/app.js", "/ui/static/js/charts.js", "/ui/static/vendor/echarts.js", "/ui/static/css/app.css"} {
		res, err := anon.Get(n.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("ETag") == "" {
			t.Errorf("GET %s: %d, ETag %q", p, res.StatusCode, res.Header.Get("ETag"))
			continue
		}
		req, _ := http.NewRequest("GET", n.URL+p, nil)
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		res2, err := anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res2.Body.Close()
		if res2.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", p, res2.StatusCode)
		}
	}
	// Pages need a session: a browser is sent to sign in.
	req, _ := http.NewRequest("GET", n.URL+"/devices", nil)
	req.Header.Set("Accept", "text/html")
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/auth/login?next=") {
		t.Errorf("anonymous GET /devices: %d to %q, want the sign-in page", res.StatusCode, res.Header.Get("Location"))
	}
	// Signed in, pages are HTML that is never cached, under the
	// server's CSP (no inline script or style).
	a := signIn(t, n, "viewer")
	res2, body := a.send("GET", "/", "", nil, nil)
	if ct := res2.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("overview Content-Type %q", ct)
	}
	if res2.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("overview Cache-Control %q, want no-store", res2.Header.Get("Cache-Control"))
	}
	if csp := res2.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>|\sstyle=|<style`).Match(body) {
		t.Error("a page holds inline script or style, which the CSP forbids")
	}
}
