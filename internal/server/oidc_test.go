package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	"github.com/heir-emd/heir/internal/store"
)

// TestOIDC signs in through a local OpenID Connect provider: the
// authorization code flow with PKCE, the ID token verified, the groups
// claim mapped to roles, a local account made and a session started.
func TestOIDC(t *testing.T) {
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	cfg := m.Config()
	e := newEnv(t, func(o *Options) {
		o.PublicURL = "test"
		o.OIDC = &OIDCOptions{Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Name: "Hospital SSO",
			RoleMap: map[string][]string{"icu-analysts": {"analyst"}, "it": {"viewer"}}}
	})
	e.clock.Set(time.Now()) // the provider's tokens carry the real time

	// signIn runs the browser's side of the flow for user.
	signIn := func(user *mockoidc.MockUser, tamper func(*url.URL)) (*http.Client, *http.Response, string) {
		t.Helper()
		c := noRedirect(newJar(t))
		m.QueueUser(user)
		resp, _ := e.doc(c, "GET", "/auth/oidc/login?next=/devices", nil, nil)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		auth, _ := url.Parse(resp.Header.Get("Location"))
		q := auth.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || !strings.Contains(q.Get("scope"), "openid") {
			t.Fatalf("authorization request %s", auth)
		}
		r2, err := c.Get(auth.String())
		if err != nil {
			t.Fatal(err)
		}
		r2.Body.Close()
		back, _ := url.Parse(r2.Header.Get("Location"))
		if !strings.HasSuffix(back.Path, "/auth/oidc/callback") {
			t.Fatalf("provider answered %d %s", r2.StatusCode, back)
		}
		if tamper != nil {
			tamper(back)
		}
		resp, b := e.doc(c, "GET", back.RequestURI(), nil, nil)
		return c, resp, string(b)
	}

	c, resp, b := signIn(&mockoidc.MockUser{Subject: "u-1001", PreferredUsername: "jane", Email: "jane@hospital.example", Groups: []string{"icu-analysts", "it"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/devices" {
		t.Fatalf("callback: %d %s", resp.StatusCode, b)
	}
	var me Me
	if err := jsonOK(e, c, "/api/v1/auth/me", &me); err != nil {
		t.Fatal(err)
	}
	if me.User.Name != "oidc:u-1001" || me.User.DisplayName != "jane" || !slices.Equal(me.User.Roles, []string{"analyst", "viewer"}) || me.Via != ViaSession {
		t.Fatalf("signed in as %+v", me)
	}
	// The account has no local password.
	u, _ := e.st.UserByName(t.Context(), "oidc:u-1001")
	if u.PasswordHash != "" {
		t.Fatal("an SSO account got a password")
	}
	// Groups decide the roles at each sign-in; the change is audited.
	c, resp, _ = signIn(&mockoidc.MockUser{Subject: "u-1001", PreferredUsername: "jane", Groups: []string{"it"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("second sign-in: %d", resp.StatusCode)
	}
	jsonOK(e, c, "/api/v1/auth/me", &me)
	if !slices.Equal(me.User.Roles, []string{"viewer"}) {
		t.Fatalf("roles after the group change: %v", me.User.Roles)
	}
	var audit List[store.AuditRecord]
	e.get("admin", "/api/v1/audit?actor=oidc", &audit)
	if len(audit.Items) != 2 || audit.Items[0].Action != "user.create" || audit.Items[1].Action != "user.update" {
		t.Fatalf("audit %+v", audit.Items)
	}
	// No mapped group: refused, no account.
	_, resp, _ = signIn(&mockoidc.MockUser{Subject: "u-2002", Groups: []string{"cafeteria"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unmapped groups: %d", resp.StatusCode)
	}
	if _, err := e.st.UserByName(t.Context(), "oidc:u-2002"); err == nil {
		t.Fatal("an account was made for a user without a role")
	}
	// A forged state is refused.
	_, resp, _ = signIn(&mockoidc.MockUser{Subject: "u-1001", Groups: []string{"it"}}, func(u *url.URL) {
		q := u.Query()
		q.Set("state", "forged")
		u.RawQuery = q.Encode()
	})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("forged state: %d", resp.StatusCode)
	}
	// A code replayed or made up is refused by the provider.
	_, resp, _ = signIn(&mockoidc.MockUser{Subject: "u-1001", Groups: []string{"it"}}, func(u *url.URL) {
		q := u.Query()
		q.Set("code", "made-up")
		u.RawQuery = q.Encode()
	})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("made-up code: %d", resp.StatusCode)
	}
	// Locally disabled accounts stay out.
	f := true
	e.st.UpdateUser(t.Context(), "test", u.ID, store.UserUpdate{Disabled: &f})
	_, resp, _ = signIn(&mockoidc.MockUser{Subject: "u-1001", Groups: []string{"it"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("disabled SSO user: %d", resp.StatusCode)
	}
	// The sign-in page offers single sign-on.
	_, page := e.doc(nil, "GET", "/auth/login", nil, nil)
	if !strings.Contains(string(page), "Sign in with Hospital SSO") {
		t.Fatal("no SSO link on the sign-in page")
	}
}

func jsonOK(e *env, c *http.Client, path string, v any) error {
	resp, b := e.doc(c, "GET", path, nil, nil)
	if resp.StatusCode != 200 {
		e.t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}
