package ui_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
)

// shownPassword reads the once-shown password off a users page.
var shownPassword = regexp.MustCompile(`<code class="secret" data-password>([^<]+)</code>`)

func TestUsersPage(t *testing.T) {
	n := startNode(t)
	if _, ok := n.Users["admin"]; !ok {
		t.Skip("the node under test gives no administrator's credentials (an external node): the users page needs one")
	}
	admin, analyst := signIn(t, n, "admin"), signIn(t, n, "analyst")

	// Only administrators have the page (and its menu entry).
	if strings.Contains(analyst.page("/", http.StatusOK), `href="/users"`) {
		t.Error("the analyst's menu offers the users page")
	}
	analyst.page("/users", http.StatusForbidden)
	res, _ := analyst.form("/users", url.Values{"csrf_token": {analyst.csrf}, "name": {"mallory"}, "role": {"admin"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("analyst's forged new-account form: %d, want 403", res.StatusCode)
	}
	if !strings.Contains(admin.page("/", http.StatusOK), `href="/users"`) {
		t.Error("the administrator's menu lacks the users page")
	}

	// A new account: its password is shown once, on the answer, not stored
	// in a cookie, and it signs in.
	res, body := admin.form("/users", url.Values{"csrf_token": {admin.csrf}, "name": {"nurse-ward4"}, "display_name": {"Ward 4 charge nurse"}, "role": {"viewer", "analyst"}})
	m := shownPassword.FindStringSubmatch(string(body))
	if res.StatusCode != http.StatusOK || m == nil || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("new account: %d, password shown %v, Cache-Control %q\n%s", res.StatusCode, m != nil, res.Header.Get("Cache-Control"), text(string(body)))
	}
	for _, c := range res.Cookies() {
		if strings.Contains(c.Value, m[1]) {
			t.Fatal("the password went into a cookie")
		}
	}
	nurse := &Node{URL: n.URL, Users: map[string]Cred{"nurse": {Name: "nurse-ward4", Password: html.UnescapeString(m[1])}}}
	signIn(t, nurse, "nurse")
	var users server.List[store.User]
	admin.api("/api/v1/users?q=nurse", &users)
	if len(users.Items) != 1 || strings.Join(users.Items[0].Roles, ",") != "analyst,viewer" || users.Items[0].DisplayName != "Ward 4 charge nurse" {
		t.Fatalf("stored account: %+v", users.Items)
	}
	id := users.Items[0].ID

	// A duplicate name is refused with the reason, on the page.
	res, body = admin.form("/users", url.Values{"csrf_token": {admin.csrf}, "name": {"nurse-ward4"}, "role": {"viewer"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(text(string(body)), "Not created") {
		t.Errorf("duplicate account: %d\n%s", res.StatusCode, text(string(body)))
	}

	// Roles change and sign-in is withdrawn: the account cannot sign in.
	res, _ = admin.form("/users/"+id, url.Values{"csrf_token": {admin.csrf}, "role": {"viewer"}, "disabled": {"on"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("update account: %d, want 303", res.StatusCode)
	}
	if p := text(admin.page("/users", http.StatusOK)); !strings.Contains(p, "Saved: nurse-ward4 has the roles viewer and may not sign in.") {
		t.Errorf("after the update the page should confirm:\n%s", p)
	}
	admin.api("/api/v1/users/"+id, &users.Items[0])
	if u := users.Items[0]; !u.Disabled || strings.Join(u.Roles, ",") != "viewer" {
		t.Errorf("after the update: %+v", u)
	}

	// The last administrator cannot take away their own role.
	var me server.Me
	admin.api("/api/v1/auth/me", &me)
	res, body = admin.form("/users/"+me.User.ID, url.Values{"csrf_token": {admin.csrf}, "role": {"viewer"}})
	if res.StatusCode != http.StatusConflict || !strings.Contains(text(string(body)), "last enabled administrator") {
		t.Errorf("demoting the last administrator: %d\n%s", res.StatusCode, text(string(body)))
	}

	// One's own password is not reset from this page: the reset would end
	// the session that shows it.
	res, _ = admin.form("/users/"+me.User.ID+"/password", url.Values{"csrf_token": {admin.csrf}})
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("resetting one's own password: %d, want 400", res.StatusCode)
	}
	admin.page("/users", http.StatusOK) // still signed in

	// A new password is shown once and works (after enabling again).
	admin.form("/users/"+id, url.Values{"csrf_token": {admin.csrf}, "role": {"viewer"}})
	res, body = admin.form("/users/"+id+"/password", url.Values{"csrf_token": {admin.csrf}})
	m = shownPassword.FindStringSubmatch(string(body))
	if res.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("new password: %d\n%s", res.StatusCode, text(string(body)))
	}
	nurse.Users["nurse"] = Cred{Name: "nurse-ward4", Password: html.UnescapeString(m[1])}
	signIn(t, nurse, "nurse")
}
