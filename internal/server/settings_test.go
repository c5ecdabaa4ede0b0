package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/rama"
	"github.com/heir-emd/heir/internal/store"
)

func TestRAMASettings(t *testing.T) {
	file := []byte("bands:\n  high: 55\n")
	e := newEnv(t, func(o *Options) { o.RAMA = RAMABase{YAML: file, Source: "file /etc/heir/rama.yaml"} })

	var got RAMASettings
	e.get("viewer", "/api/v1/settings/rama", &got)
	if got.Source != "file /etc/heir/rama.yaml" || got.Version != 0 || got.YAML != string(file) || got.Defaults != string(rama.DefaultYAML()) {
		t.Fatalf("before any change: %+v", got)
	}

	// Analysts and viewers read, only a role with the settings permission
	// changes (the route test checks every role; this is the behaviour).
	put := func(as string, body any) (*http.Response, []byte) {
		return e.do(req{method: "PUT", path: "/api/v1/settings/rama", body: body, as: as})
	}
	if resp, _ := put("analyst", RAMASettingsRequest{YAML: "bands:\n  high: 60\n"}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("analyst changed the weights: %d", resp.StatusCode)
	}

	// A bad document is refused with its key and line; nothing is stored.
	resp, b := put("admin", RAMASettingsRequest{YAML: "bands:\n  high: 60\n  critical: lots\n"})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad document: %d %s", resp.StatusCode, b)
	}
	p := problemOf(t, resp, b)
	if len(p.Errors) != 1 || p.Errors[0].Field != "yaml" || !strings.Contains(p.Errors[0].Detail, "critical") || !strings.Contains(p.Errors[0].Detail, "3") {
		t.Fatalf("bad document's problem does not name the key and line: %+v", p)
	}
	if _, err := e.st.Setting(t.Context(), store.SettingRAMA); err == nil {
		t.Fatal("a refused document was stored")
	}

	resp, b = put("admin", RAMASettingsRequest{Version: 0, YAML: "bands:\n  high: 60\n"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("put: %d %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Source != "stored" || got.Version != 1 || got.UpdatedBy == "" || got.YAML != "bands:\n  high: 60\n" {
		t.Fatalf("after put: %+v", got)
	}

	// A second administrator who read version 0 is told, not obeyed.
	resp, b = put("admin", RAMASettingsRequest{Version: 0, YAML: "bands:\n  high: 70\n"})
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("stale put: %d %s", resp.StatusCode, b)
	}
	if resp, _ := e.do(req{method: "DELETE", path: "/api/v1/settings/rama?version=2", as: "admin"}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("stale reset: %d", resp.StatusCode)
	}
	if resp, _ := e.do(req{method: "DELETE", path: "/api/v1/settings/rama?version=1", as: "admin"}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	e.get("viewer", "/api/v1/settings/rama", &got)
	if got.Source != "file /etc/heir/rama.yaml" || got.Version != 0 {
		t.Fatalf("after reset: %+v", got)
	}

	// The trail holds the change and the reset, by whom.
	var trail List[store.AuditRecord]
	e.get("auditor", "/api/v1/audit?object_type=setting&object_id=rama", &trail)
	var actions []string
	for _, r := range trail.Items {
		actions = append(actions, r.Action+" by "+r.Actor)
	}
	if len(actions) != 2 || !strings.HasPrefix(actions[0], "settings.put by ") || !strings.HasPrefix(actions[1], "settings.reset by ") ||
		!strings.Contains(actions[0], "admin") || !strings.Contains(actions[1], "admin") {
		t.Fatalf("audit trail: %q", actions)
	}
}
