package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
)

func TestSensorsPage(t *testing.T) {
	n := startNode(t)
	if _, ok := n.Users["admin"]; !ok || !n.Local {
		t.Skip("needs the in-process node's administrator and credential issuer")
	}
	admin, analyst := signIn(t, n, "admin"), signIn(t, n, "analyst")
	if strings.Contains(analyst.page("/", http.StatusOK), `href="/sensors"`) {
		t.Error("the analyst's menu offers the sensors page")
	}
	analyst.page("/sensors", http.StatusForbidden)

	// Registering downloads the credentials file once; it is not shown in
	// the page.
	res, body := admin.form("/sensors", url.Values{"csrf_token": {admin.csrf}, "name": {"ward4"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Disposition"), `attachment; filename=ward4.creds`) ||
		res.Header.Get("Cache-Control") != "no-store" || !strings.Contains(string(body), "HEIR SENSOR CREDENTIALS") {
		t.Fatalf("register: %d %q %q\n%s", res.StatusCode, res.Header.Get("Content-Disposition"), res.Header.Get("Cache-Control"), body)
	}
	page := admin.page("/sensors", http.StatusOK)
	if !strings.Contains(page, `data-sensor="ward4"`) || strings.Contains(page, "HEIR SENSOR CREDENTIALS") {
		t.Errorf("the list should name the sensor and never show its credentials:\n%s", text(page))
	}
	// Names are not reused; bad names are refused on the page.
	for _, name := range []string{"ward4", "Ward 4!"} {
		res, body = admin.form("/sensors", url.Values{"csrf_token": {admin.csrf}, "name": {name}})
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(text(string(body)), "Not registered") {
			t.Errorf("register %q: %d\n%s", name, res.StatusCode, text(string(body)))
		}
	}
	// Revoking marks it revoked, with the flash.
	res, _ = admin.form("/sensors/ward4/revoke", url.Values{"csrf_token": {admin.csrf}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d, want 303", res.StatusCode)
	}
	if p := text(admin.page("/sensors", http.StatusOK)); !strings.Contains(p, "Revoked: sensor ward4") || !strings.Contains(p, "revoked") {
		t.Errorf("after revoking:\n%s", p)
	}
	var l server.List[store.Sensor]
	admin.api("/api/v1/sensors", &l)
	if len(l.Items) != 1 || l.Items[0].Revoked.IsZero() {
		t.Errorf("stored sensors: %+v", l.Items)
	}
}
