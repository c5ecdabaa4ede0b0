package ui_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/server"
)

func TestSettingsPage(t *testing.T) {
	n := startNode(t)
	if _, ok := n.Users["admin"]; !ok {
		t.Skip("the node under test gives no administrator's credentials (an external node): the settings form needs one")
	}
	admin, viewer := signIn(t, n, "admin"), signIn(t, n, "viewer")
	var before server.RAMASettings
	viewer.api("/api/v1/settings/rama", &before)
	if before.Version != 0 {
		t.Fatalf("the node starts with stored weights (version %d)", before.Version)
	}

	// A viewer reads the weights in force but gets no form, and a forged
	// post is refused.
	vp := viewer.page("/settings", http.StatusOK)
	if strings.Contains(vp, `action="/settings/rama"`) || !strings.Contains(vp, "Only administrators") {
		t.Errorf("the viewer's settings page offers the form or does not say why not:\n%s", text(vp))
	}
	if !strings.Contains(html.UnescapeString(vp), "kev_floor") {
		t.Error("the viewer's settings page does not show the document in force")
	}
	res, _ := viewer.form("/settings/rama", url.Values{"csrf_token": {viewer.csrf}, "version": {"0"}, "yaml": {"bands:\n  high: 50\n"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer's forged settings form: %d, want 403", res.StatusCode)
	}

	// A document the node refuses comes back with the reason, the text kept.
	ap := admin.page("/settings", http.StatusOK)
	if !strings.Contains(ap, `action="/settings/rama"`) {
		t.Fatalf("the administrator's settings page has no form:\n%s", text(ap))
	}
	bad := "bands:\n  high: sixty\n"
	res, body := admin.form("/settings/rama", url.Values{"csrf_token": {admin.csrf}, "version": {"0"}, "yaml": {bad}})
	page := html.UnescapeString(string(body))
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "line 2") || !strings.Contains(page, "bands.high") || !strings.Contains(page, bad) {
		t.Errorf("refused document: %d, want 400 naming the line and key with the text kept\n%s", res.StatusCode, text(string(body)))
	}

	// A good one is stored, confirmed, and in force.
	res, body = admin.form("/settings/rama", url.Values{"csrf_token": {admin.csrf}, "version": {"0"}, "yaml": {"bands:\n  high: 50\n"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings" {
		t.Fatalf("settings form: %d to %q, want 303 to /settings\n%s", res.StatusCode, res.Header.Get("Location"), text(string(body)))
	}
	after := text(admin.page("/settings", http.StatusOK))
	if !strings.Contains(after, "Saved: version 1") || !strings.Contains(after, "set on this node") {
		t.Errorf("after saving the page should confirm and say the weights are the node's:\n%s", after)
	}
	var got server.RAMASettings
	viewer.api("/api/v1/settings/rama", &got)
	if got.Source != "stored" || got.Version != 1 || got.YAML != "bands:\n  high: 50\n" || got.UpdatedBy != n.Users["admin"].Name {
		t.Errorf("stored settings: %+v", got)
	}
	// A form read at version 0 is now stale: the change is not lost
	// silently, the page says so and keeps the text.
	res, body = admin.form("/settings/rama", url.Values{"csrf_token": {admin.csrf}, "version": {"0"}, "yaml": {"bands:\n  high: 55\n"}})
	if res.StatusCode != http.StatusConflict || !strings.Contains(string(body), "Someone changed the weights") {
		t.Errorf("stale settings form: %d, want 409 with an explanation\n%s", res.StatusCode, text(string(body)))
	}

	// Reset returns to the node's own weights.
	res, _ = admin.form("/settings/rama/reset", url.Values{"csrf_token": {admin.csrf}, "version": {"1"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset form: %d, want 303", res.StatusCode)
	}
	viewer.api("/api/v1/settings/rama", &got)
	if got.Source != before.Source || got.Version != 0 {
		t.Errorf("after the reset: source %q version %d, want %q and 0", got.Source, got.Version, before.Source)
	}
}
