package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/sqlite"
)

// cheap argon2id parameters keep tests fast; the algorithm is the same.
var cheap = auth.Params{Time: 1, Memory: 64, Threads: 1, KeyLen: 32, SaltLen: 16}

// t0 is the tests' "now".
var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const testPassword = "correct horse battery"

// env is a node with a store, a user and a token per role, and a test
// HTTP server in front of it.
type env struct {
	t      *testing.T
	st     store.Store
	srv    *Server
	ts     *httptest.Server
	clock  *clock
	tokens map[string]string // user name → bearer token
	users  map[string]store.User
}

func openSQLite(t testing.TB, now func() time.Time) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testUsers: one per role, plus one with no role.
var testUsers = []struct{ name, role string }{
	{"admin", store.RoleAdmin}, {"analyst", store.RoleAnalyst}, {"viewer", store.RoleViewer},
	{"auditor", store.RoleAuditor}, {"dpo", store.RoleDPO}, {"nobody", ""},
}

func newEnv(t *testing.T, opts ...func(*Options)) *env {
	return newEnvWith(t, nil, opts...)
}

func newEnvWith(t *testing.T, st store.Store, opts ...func(*Options)) *env {
	t.Helper()
	c := &clock{t: t0}
	if st == nil {
		st = openSQLite(t, c.Now)
	}
	e := &env{t: t, st: st, clock: c, tokens: map[string]string{}, users: map[string]store.User{}}
	ctx := context.Background()
	for _, tu := range testUsers {
		h, err := auth.HashPassword(testPassword, cheap)
		if err != nil {
			t.Fatal(err)
		}
		var roles []string
		if tu.role != "" {
			roles = []string{tu.role}
		}
		u, err := st.CreateUser(ctx, "test", store.User{Name: tu.name, Roles: roles, PasswordHash: h})
		if err != nil {
			t.Fatal(err)
		}
		e.users[tu.name] = u
		secret, hash, err := auth.NewSecret(auth.TokenPrefix)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateToken(ctx, "test", store.Token{Name: "test", Owner: u.ID, Hash: hash}); err != nil {
			t.Fatal(err)
		}
		e.tokens[tu.name] = secret
	}
	o := Options{Store: st, Now: c.Now, Auth: AuthOptions{Password: cheap}}
	for _, f := range opts {
		f(&o)
	}
	// The listener exists before the server, so that options can name
	// its URL (PublicURL "test" means this server's own).
	e.ts = httptest.NewUnstartedServer(nil)
	if o.PublicURL == "test" {
		o.PublicURL = "http://" + e.ts.Listener.Addr().String()
	}
	srv, err := New(ctx, o)
	if err != nil {
		e.ts.Listener.Close()
		t.Fatal(err)
	}
	e.srv = srv
	e.ts.Config.Handler = srv.Handler()
	e.ts.Start()
	t.Cleanup(e.ts.Close)
	return e
}

// req is one test request.
type req struct {
	method, path string
	body         any    // JSON-encoded unless a string (sent as is)
	ctype        string // default application/json with a body
	as           string // bearer token of this user
	client       *http.Client
	header       http.Header
	// stream: read only the head (a live stream never ends).
	stream bool
}

// do sends r and returns the response with its body read.
func (e *env) do(r req) (*http.Response, []byte) {
	e.t.Helper()
	var body io.Reader
	ctype := r.ctype
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(j)
		if ctype == "" {
			ctype = "application/json"
		}
	}
	hr, err := http.NewRequest(r.method, e.ts.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		hr.Header.Set("Content-Type", ctype)
	}
	for k, vs := range r.header {
		hr.Header[k] = vs
	}
	if r.as != "" {
		hr.Header.Set("Authorization", "Bearer "+e.tokens[r.as])
	}
	c := r.client
	if c == nil {
		c = noRedirect(nil)
	}
	resp, err := c.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if r.stream && resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	checkResponse(e.t, e.srv, hr, resp, b)
	return resp, b
}

// get is a GET as a user that must answer 200; it decodes into v.
func (e *env) get(as, path string, v any) {
	e.t.Helper()
	resp, b := e.do(req{method: "GET", path: path, as: as})
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s as %s: %d %s", path, as, resp.StatusCode, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			e.t.Fatalf("GET %s: %v in %s", path, err, b)
		}
	}
}

func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func newJar(t *testing.T) http.CookieJar {
	j, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func problemOf(t *testing.T, resp *http.Response, b []byte) Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%d answer of type %q, want application/problem+json: %s", resp.StatusCode, ct, b)
	}
	var p Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != resp.StatusCode || p.Type == "" || p.Title == "" || p.Instance == "" {
		t.Fatalf("problem %+v for status %d", p, resp.StatusCode)
	}
	return p
}

// Hospital data for the tests.
func ep(ip string, port uint16) event.Endpoint {
	return event.Endpoint{IP: netip.MustParseAddr(ip), Port: port}
}

var (
	tagInfoLeak = event.Tag{Taxonomy: event.TaxENISA, ID: "11", Name: "Information leakage"}
	tagCrypto   = event.Tag{Taxonomy: event.TaxOWASP, ID: "A02", Name: "Cryptographic Failures"}
	tagIDTheft  = event.Tag{Taxonomy: event.TaxENISA, ID: "12", Name: "Identity theft"}
	tagAuthFail = event.Tag{Taxonomy: event.TaxOWASP, ID: "A07", Name: "Identification and Authentication Failures"}
	tagRecon    = event.Tag{Taxonomy: event.TaxENISA, ID: "15", Name: "Cyber espionage"}
)

// fill stores a small hospital: n pumps (the first three scored), a
// finding per pump (the first two with credentials), alerts, hospital
// scores.
func fill(t testing.TB, st store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		ip := fmt.Sprintf("10.1.0.%d", i+1)
		a := event.Asset{V: 1, Type: event.TypeAsset, ID: fmt.Sprintf("dev-%03d", i), MAC: fmt.Sprintf("02:00:00:00:00:%02x", i),
			IPs: []netip.Addr{netip.MustParseAddr(ip)}, Vendor: "BBraun", Model: "Space", Role: "infusion-pump",
			Hostname: fmt.Sprintf("pump-%d", i), Services: []event.Service{{Transport: "tcp", Port: 80, Proto: "http"}},
			Protocols: []string{"http"}, Peers: 3, FirstSeen: t0.Add(-48 * time.Hour), LastSeen: t0.Add(-time.Duration(i) * time.Minute),
			Evidence: []event.Evidence{{Attr: event.AttrVendor, Value: "BBraun", Confidence: 0.9, Source: "oui", Time: t0}}}
		if i%2 == 1 {
			a.Vendor, a.Role = "Philips", "patient-monitor"
		}
		if err := st.UpsertAsset(ctx, a); err != nil {
			t.Fatal(err)
		}
		if i < 3 {
			for d := range 3 {
				score := 95 - 30*i + d
				if err := st.PutScore(ctx, store.Score{Kind: store.ScoreDevice, Subject: a.ID, Day: store.Day(t0).AddDate(0, 0, d-2),
					Score: score, Band: band(score), Breakdown: json.RawMessage(`{"likelihood":0.9,"impact":0.8}`)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		f := event.Finding{V: 1, Type: event.TypeFinding, ID: fmt.Sprintf("fnd-%03d", i), Rule: "cleartext-phi", Kind: "cleartext-phi",
			Title: "Patient data in cleartext", Severity: event.SeverityHigh, Asset: a.ID, Endpoint: ep(ip, 2575), Proto: "hl7",
			Detail: "HL7 PID segment without TLS", FirstSeen: t0.Add(-time.Hour), LastSeen: t0, Count: 3,
			Tags: []event.Tag{tagInfoLeak, tagCrypto}, State: event.StateOpen}
		if i < 2 {
			f.Kind, f.Rule, f.Severity, f.Tags = "default-credentials", "default-credentials", event.SeverityCritical, []event.Tag{tagIDTheft, tagAuthFail}
		}
		if err := st.UpsertFinding(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		start := t0.Add(-time.Duration(i+1) * time.Hour)
		a := event.Alert{V: 1, Type: event.TypeAlert, ID: fmt.Sprintf("alr-%03d", i), Rule: "port-scan", Category: "reconnaissance",
			Title: "Port scan", Description: "scan", Severity: event.SeverityMedium, Source: ep("10.9.0.1", 0),
			Targets: []event.Endpoint{ep("10.1.0.1", 80)}, TargetCount: 1, Start: start, End: start.Add(time.Minute), Count: 10,
			Tags: []event.Tag{tagRecon}}
		if err := st.UpsertAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// Vulnerabilities of the first two devices: dev-000 has a KEV one.
	epss := func(f float64) *float64 { return &f }
	vuln := func(cve string, cvss float64, e *float64, kev bool, status string) store.Vulnerability {
		return store.Vulnerability{CVE: cve, Product: "csaf:b_braun/space", Component: "Space 1.0", CVSS: cvss, EPSS: e, KEV: kev,
			Status: status, Confidence: 0.85, Evidence: []store.VulnEvidence{{Source: "csaf:ICSMA-00-000-00", Target: "model", How: "advisory product", Confidence: 0.85}}}
	}
	fp := vuln("CVE-2020-0003", 7.5, nil, false, store.VulnFalsePositive)
	fp.Decision = &store.VulnDecision{Subject: "dev-001", State: "false-positive", Comment: "not this firmware", Author: "ana"}
	if n >= 2 {
		if err := st.ReplaceVulnerabilities(ctx, []store.VulnSet{
			{Asset: "dev-000", At: t0, Items: []store.Vulnerability{vuln("CVE-2020-0001", 9.8, epss(0.3), false, store.VulnOpen), vuln("CVE-2020-0002", 5.9, epss(0.01), true, store.VulnOpen)}},
			{Asset: "dev-001", At: t0, Items: []store.Vulnerability{fp, vuln("CVE-2020-0001", 9.8, epss(0.3), false, store.VulnOpen)}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	for d := range 3 {
		if err := st.PutScore(ctx, store.Score{Kind: store.ScoreHospital, Subject: DefaultSite, Day: store.Day(t0).AddDate(0, 0, d-2),
			Score: 70 + d, Band: store.BandHigh}); err != nil {
			t.Fatal(err)
		}
	}
}

func band(score int) string {
	switch {
	case score >= 90:
		return store.BandCritical
	case score >= 70:
		return store.BandHigh
	case score >= 40:
		return store.BandMedium
	}
	return store.BandLow
}
