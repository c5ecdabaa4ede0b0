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

var shownToken = regexp.MustCompile(`<code class="secret" data-token>([^<]+)</code>`)

// TestTokensPage: any user makes their own token on the page, sees its
// secret once, uses it, and revokes it.
func TestTokensPage(t *testing.T) {
	n := startNode(t)
	viewer := signIn(t, n, "viewer")
	res, body := viewer.form("/tokens", url.Values{"csrf_token": {viewer.csrf}, "name": {"wall-screen"}, "expires_in_days": {"30"}})
	m := shownToken.FindStringSubmatch(string(body))
	if res.StatusCode != http.StatusOK || m == nil || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("new token: %d, shown %v, Cache-Control %q\n%s", res.StatusCode, m != nil, res.Header.Get("Cache-Control"), text(string(body)))
	}
	secret := html.UnescapeString(m[1])
	call := func() int {
		req, _ := http.NewRequest("GET", n.URL+"/api/v1/overview", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := call(); code != http.StatusOK {
		t.Fatalf("the new token opens the API with %d, want 200", code)
	}
	page := viewer.page("/tokens", http.StatusOK)
	if !strings.Contains(page, `data-token-row="wall-screen"`) || strings.Contains(page, secret) {
		t.Errorf("the list should name the token and never show its secret again:\n%s", text(page))
	}
	var l server.List[store.Token]
	viewer.api("/api/v1/tokens", &l)
	var id string
	for _, tk := range l.Items {
		if tk.Name == "wall-screen" {
			id = tk.ID
		}
	}
	if id == "" {
		t.Fatalf("token not listed: %+v", l.Items)
	}
	res, _ = viewer.form("/tokens/"+id+"/revoke", url.Values{"csrf_token": {viewer.csrf}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d, want 303", res.StatusCode)
	}
	if code := call(); code != http.StatusUnauthorized {
		t.Errorf("a revoked token opens the API with %d, want 401", code)
	}
	// A bad expiry is refused with the reason.
	res, body = viewer.form("/tokens", url.Values{"csrf_token": {viewer.csrf}, "name": {"x"}, "expires_in_days": {"soon"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(text(string(body)), "Not created") {
		t.Errorf("bad expiry: %d\n%s", res.StatusCode, text(string(body)))
	}
}

// TestChangeOwnPassword: a user changes their password on their account
// page and stays signed in; the old password stops working.
func TestChangeOwnPassword(t *testing.T) {
	n := startNode(t)
	if !n.Local {
		t.Skip("changes a password: only on the in-process node")
	}
	viewer := signIn(t, n, "viewer")
	old := n.Users["viewer"].Password
	if p := viewer.page("/tokens", http.StatusOK); !strings.Contains(p, `action="/account/password"`) {
		t.Fatalf("no password form on the account page:\n%s", text(p))
	}
	for _, c := range []struct{ cur, next, again, why string }{
		{old, "a new passphrase 1", "a new passphrase 2", "repetition differs"},
		{"not the password", "a new passphrase 1", "a new passphrase 1", "wrong current password"},
		{old, "short", "short", "too short"},
	} {
		res, body := viewer.form("/account/password", url.Values{"csrf_token": {viewer.csrf}, "current_password": {c.cur}, "new_password": {c.next}, "confirm_password": {c.again}})
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(text(string(body)), "Not changed") {
			t.Errorf("%s: %d\n%s", c.why, res.StatusCode, text(string(body)))
		}
	}
	next := "a fresh passphrase for ward 4"
	res, body := viewer.form("/account/password", url.Values{"csrf_token": {viewer.csrf}, "current_password": {old}, "new_password": {next}, "confirm_password": {next}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("password change: %d, want 303\n%s", res.StatusCode, text(string(body)))
	}
	// The browser got the new session's cookie: it is still signed in.
	if p := text(viewer.page("/tokens", http.StatusOK)); !strings.Contains(p, "Your password is changed") {
		t.Errorf("after the change the account page should confirm:\n%s", p)
	}
	name := n.Users["viewer"].Name
	res, _ = viewer.send("POST", "/api/v1/auth/login", "application/json", mustJSON(t, server.LoginRequest{Username: name, Password: old}), nil)
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old password signs in with %d, want 401", res.StatusCode)
	}
	signIn(t, &Node{URL: n.URL, Users: map[string]Cred{"viewer": {Name: name, Password: next}}}, "viewer")
}
