package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/postgres"
	"github.com/heir-emd/heir/internal/testenv"
)

type fakeNode struct{}

func (fakeNode) NodeStats() NodeSnapshot {
	return NodeSnapshot{EventsIn: map[string]uint64{"alert": 7, "flow": 1200}, EventsDropped: map[string]uint64{"malformed": 2}, QueueDepth: 13}
}

func TestHealthReadyMetrics(t *testing.T) {
	busErr := error(nil)
	m := NewMetrics(MetricsOptions{Node: fakeNode{}})
	e := newEnv(t, func(o *Options) {
		o.Metrics = m
		o.Bus = HealthFunc(func(context.Context) error { return busErr })
	})
	var h healthAnswer
	e.get("", "/healthz", &h)
	if h.Status != "ok" {
		t.Fatalf("healthz %+v", h)
	}
	e.get("", "/readyz", &h)
	if h.Status != "ready" || h.Checks["store"] != "ok" || h.Checks["bus"] != "ok" {
		t.Fatalf("readyz %+v", h)
	}
	busErr = errors.New("nats: no servers available for connection (10.0.0.5:4222)")
	resp, b := e.do(req{method: "GET", path: "/readyz"})
	json.Unmarshal(b, &h)
	if resp.StatusCode != 503 || h.Checks["bus"] != "failing" || strings.Contains(string(b), "10.0.0.5") {
		t.Fatalf("readyz with the bus down: %d %s", resp.StatusCode, b)
	}
	// Metrics need a credential by default.
	e.get("viewer", "/api/v1/assets", nil)
	if resp, _ := e.do(req{method: "GET", path: "/metrics"}); resp.StatusCode != 401 {
		t.Fatalf("anonymous metrics: %d", resp.StatusCode)
	}
	resp, b = e.do(req{method: "GET", path: "/metrics", as: "viewer"})
	text := string(b)
	for _, want := range []string{
		`heir_http_request_duration_seconds_bucket{code="200",route="GET /api/v1/assets",le=`,
		`heir_node_events_in_total{type="flow"} 1200`,
		`heir_node_events_dropped_total{reason="malformed"} 2`,
		`heir_node_queue_depth 13`,
		`heir_alerts_stream_clients 0`,
		`heir_rama_scoring_duration_seconds_count 1`,
		`go_goroutines`,
	} {
		if want == `heir_rama_scoring_duration_seconds_count 1` {
			continue // checked below, after a scoring run is observed
		}
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	m.ObserveScoring(120 * time.Millisecond)
	_, b = e.do(req{method: "GET", path: "/metrics", as: "viewer"})
	if !strings.Contains(string(b), "heir_rama_scoring_duration_seconds_count 1") {
		t.Error("scoring run not counted")
	}
	// Public when configured.
	e2 := newEnv(t, func(o *Options) { o.MetricsPublic = true })
	if resp, _ := e2.do(req{method: "GET", path: "/metrics"}); resp.StatusCode != 200 {
		t.Fatalf("public metrics: %d", resp.StatusCode)
	}
}

func TestSecurityHeadersAndLimits(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, func(o *Options) {
		o.MaxBody = 4096
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	for _, path := range []string{"/healthz", "/api/v1/assets", "/nothing"} {
		resp, _ := e.do(req{method: "GET", path: path, as: "viewer"})
		h := resp.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			strings.Contains(h.Get("Content-Security-Policy"), "unsafe-inline") || h.Get("Referrer-Policy") == "" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s headers %v", path, h)
		}
		if path == "/api/v1/assets" && h.Get("Cache-Control") != "no-store" {
			t.Errorf("API answer cacheable: %q", h.Get("Cache-Control"))
		}
	}
	// Bodies are bounded, before and while reading.
	big := `{"state":"open","comment":"` + strings.Repeat("x", 8000) + `"}`
	resp, b := e.do(req{method: "POST", path: "/api/v1/findings/f/triage", body: big, ctype: "application/json", as: "analyst"})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("large body: %d %s", resp.StatusCode, b)
	}
	problemOf(t, resp, b)
	// Secrets stay out of the log: sign-in, token creation, a bad bearer.
	e.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: "viewer", Password: testPassword}})
	e.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: "viewer", Password: "wrong-secret-pw"}})
	_, tb := e.do(req{method: "POST", path: "/api/v1/tokens", body: CreateTokenRequest{Name: "t"}, as: "viewer"})
	var ct CreatedToken
	json.Unmarshal(tb, &ct)
	e.do(req{method: "GET", path: "/api/v1/assets", header: http.Header{"Authorization": {"Bearer heir_tok_garbage"}}})
	l := logs.String()
	for _, secret := range []string{testPassword, "wrong-secret-pw", ct.Secret, e.tokens["viewer"]} {
		if secret != "" && strings.Contains(l, secret) {
			t.Errorf("log holds a secret %q", secret[:6])
		}
	}
	if !strings.Contains(l, "sign-in refused") {
		t.Errorf("a refused sign-in is not logged:\n%s", l)
	}
	// LogValuers redact.
	var buf bytes.Buffer
	lg := slog.New(slog.NewJSONHandler(&buf, nil))
	lg.Info("x", "t", ct, "l", LoginRequest{Username: "u", Password: "pw-123456"}, "o", OIDCOptions{Issuer: "i", ClientSecret: "cs-987"},
		"c", SensorCredential{File: []byte("SEED-SECRET")}, "p", PasswordChange{CurrentPassword: "cur-pw", NewPassword: "new-pw"})
	for _, s := range []string{ct.Secret, "pw-123456", "cs-987", "SEED-SECRET", "cur-pw", "new-pw"} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("logged %q: %s", s, buf.String())
		}
	}
}

// TestPostgres runs the main paths against the PostgreSQL backend
// (HEIR_TEST_PG, else the local server CI starts).
func TestPostgres(t *testing.T) {
	url := os.Getenv("HEIR_TEST_PG")
	if url == "" {
		url = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("PostgreSQL at HEIR_TEST_PG unreachable: %v", err)
		}
		t.Skipf("PostgreSQL unreachable (set HEIR_TEST_PG to run this test): %v", err)
	}
	schema := "heir_server_test_" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), url)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	c := &clock{t: t0}
	db, err := postgres.Open(ctx, url, postgres.Options{Schema: schema, Now: c.Now, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := newEnvWith(t, db)
	e.clock = c
	fill(t, db, 5)
	var o Overview
	e.get("viewer", "/api/v1/overview", &o)
	if o.Devices != 5 || o.DevicesByBand["critical"] != 1 {
		t.Fatalf("overview %+v", o.DevicesByBand)
	}
	var d AssetDetail
	e.get("viewer", "/api/v1/assets/dev-000", &d)
	if len(d.Alerts.Items) != 5 || d.Score.Current == nil {
		t.Fatalf("device page %+v", d)
	}
	cl, tok := e.login("analyst")
	resp, b := e.doc(cl, "POST", "/api/v1/findings/fnd-001/triage", TriageRequest{State: "accepted", Comment: "ok"}, http.Header{"X-Csrf-Token": {tok}})
	if resp.StatusCode != 200 {
		t.Fatalf("triage: %d %s", resp.StatusCode, b)
	}
	var v AuditVerification
	e.get("auditor", "/api/v1/audit/verify", &v)
	if !v.OK {
		t.Fatalf("audit %+v", v)
	}
	var page List[store.Asset]
	e.get("viewer", "/api/v1/assets?sort=name&limit=2", &page)
	e.get("viewer", "/api/v1/assets?sort=name&limit=2&cursor="+page.Next, &page)
	if len(page.Items) != 2 || page.Items[0].ID != "dev-002" {
		t.Fatalf("second page %+v", ids(page.Items, assetID))
	}
}
