package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/store"
)

// login signs in through the API with a cookie jar; it returns the client
// and the session's CSRF token.
func (e *env) login(name string) (*http.Client, string) {
	e.t.Helper()
	c := noRedirect(newJar(e.t))
	resp, b := e.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: name, Password: testPassword}, client: c})
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", name, resp.StatusCode, b)
	}
	var me Me
	if err := json.Unmarshal(b, &me); err != nil {
		e.t.Fatal(err)
	}
	if me.CSRFToken == "" || me.Via != ViaSession || me.User.Name != name {
		e.t.Fatalf("login answer %+v", me)
	}
	return c, me.CSRFToken
}

func sessionCookieOf(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "heir_session" || c.Name == "__Host-heir_session" {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
	return nil
}

func TestSessionCookieAndCSRF(t *testing.T) {
	e := newEnv(t)
	fill(t, e.st, 2)
	c := noRedirect(newJar(t))
	resp, _ := e.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: "analyst", Password: testPassword}, client: c})
	ck := sessionCookieOf(t, resp)
	// Plain loopback demo: not Secure; everything else always.
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/" || !auth.WellFormed(ck.Value, auth.SessionPrefix) {
		t.Fatalf("cookie %+v", ck)
	}
	if n, _ := e.st.PruneSessions(context.Background(), t0); n != 0 {
		t.Fatal("session already expired")
	}
	var me Me
	if err := json.Unmarshal(e.okc(c, "GET", "/api/v1/auth/me"), &me); err != nil {
		t.Fatal(err)
	}
	triage := TriageRequest{State: "accepted", Comment: "vendor patch scheduled"}
	path := "/api/v1/findings/fnd-000/triage"
	for name, h := range map[string]http.Header{
		"no token":       {},
		"wrong token":    {"X-Csrf-Token": {"x" + me.CSRFToken[1:]}},
		"foreign origin": {"X-Csrf-Token": {me.CSRFToken}, "Origin": {"https://evil.example"}},
		"null origin":    {"X-Csrf-Token": {me.CSRFToken}, "Origin": {"null"}},
		"cross-site":     {"X-Csrf-Token": {me.CSRFToken}, "Sec-Fetch-Site": {"cross-site"}},
	} {
		resp, b := e.doc(c, "POST", path, triage, h)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "/csrf") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	f, _ := e.st.Finding(context.Background(), "fnd-000")
	if f.State != "open" {
		t.Fatalf("a refused request changed the finding: %s", f.State)
	}
	resp, b := e.doc(c, "POST", path, triage, http.Header{"X-Csrf-Token": {me.CSRFToken}, "Origin": {e.ts.URL}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with token: %d %s", resp.StatusCode, b)
	}
	// A form post may carry the token as a field.
	resp, b = e.doc(c, "POST", "/auth/logout", "csrf_token=bad", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout with a bad form token: %d %s", resp.StatusCode, b)
	}
	// A token in the URL is not a session: bearer tokens need no CSRF.
	resp, _ = e.do(req{method: "POST", path: path, body: TriageRequest{State: "open"}, as: "analyst"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bearer triage: %d", resp.StatusCode)
	}

	// Signing in again rotates the session: the old cookie is dead.
	old := cookieOf(t, c, e.ts.URL)
	resp, _ = e.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: "analyst", Password: testPassword}, client: c})
	if resp.StatusCode != 200 || cookieOf(t, c, e.ts.URL) == old {
		t.Fatalf("re-login: %d, cookie rotated %v", resp.StatusCode, cookieOf(t, c, e.ts.URL) != old)
	}
	stale := noRedirect(nil)
	r, _ := http.NewRequest("GET", e.ts.URL+"/api/v1/auth/me", nil)
	r.AddCookie(&http.Cookie{Name: "heir_session", Value: old})
	if resp, err := stale.Do(r); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old session after re-login: %v %v", resp.StatusCode, err)
	}

	// Idle expiry, and the absolute limit even when active.
	e.clock.Add(59 * time.Minute)
	e.okc(c, "GET", "/api/v1/auth/me")
	e.clock.Add(59 * time.Minute)
	e.okc(c, "GET", "/api/v1/auth/me")
	e.clock.Add(61 * time.Minute)
	if resp, _ := e.doc(c, "GET", "/api/v1/auth/me", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("idle session: %d", resp.StatusCode)
	}
	c, tok := e.login("analyst")
	for range 14 {
		e.clock.Add(55 * time.Minute)
		if resp, _ := e.doc(c, "GET", "/api/v1/auth/me", nil, nil); resp.StatusCode != http.StatusOK {
			break
		}
	}
	if resp, _ := e.doc(c, "GET", "/api/v1/auth/me", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("session past 12 h: %d", resp.StatusCode)
	}

	// Logout ends the session on the server.
	c, tok = e.login("viewer")
	cookie := cookieOf(t, c, e.ts.URL)
	if resp, b := e.doc(c, "POST", "/api/v1/auth/logout", nil, http.Header{"X-Csrf-Token": {tok}}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", resp.StatusCode, b)
	}
	r, _ = http.NewRequest("GET", e.ts.URL+"/api/v1/auth/me", nil)
	r.AddCookie(&http.Cookie{Name: "heir_session", Value: cookie})
	if resp, err := stale.Do(r); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("session after logout: %v %v", resp.StatusCode, err)
	}
}

func cookieOf(t *testing.T, c *http.Client, base string) string {
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "heir_session" {
			return ck.Value
		}
	}
	t.Fatal("no session cookie in the jar")
	return ""
}

// doc sends a request with a client (cookies) and extra headers; a string
// body is sent as is.
func (e *env) doc(c *http.Client, method, path string, body any, h http.Header) (*http.Response, []byte) {
	e.t.Helper()
	return e.do(req{method: method, path: path, body: body, client: c, header: h})
}

// okc is a request with a client that must succeed.
func (e *env) okc(c *http.Client, method, path string) []byte {
	e.t.Helper()
	resp, b := e.doc(c, method, path, nil, nil)
	if resp.StatusCode/100 != 2 {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return b
}

func TestSecureCookieRules(t *testing.T) {
	st := openSQLite(t, nil)
	ctx := context.Background()
	if _, err := New(ctx, Options{Store: st, Listen: "0.0.0.0:8443", Auth: AuthOptions{Password: cheap}}); err == nil {
		t.Fatal("plain HTTP on all interfaces accepted")
	}
	for _, c := range []struct {
		o      Options
		secure bool
	}{
		{Options{Listen: "127.0.0.1:8443"}, false},
		{Options{Listen: "[::1]:8443"}, false},
		{Options{Listen: "localhost:8443", Auth: AuthOptions{ForceSecureCookies: true}}, true},
		{Options{Listen: "0.0.0.0:8443", BehindProxy: true}, true},
	} {
		c.o.Store, c.o.Auth.Password = st, cheap
		s, err := New(ctx, c.o)
		if err != nil {
			t.Fatal(err)
		}
		if s.secure != c.secure {
			t.Errorf("%s: secure %v", c.o.Listen, s.secure)
		}
		if c.secure && s.authn.cookie != "__Host-heir_session" {
			t.Errorf("secure cookie named %s", s.authn.cookie)
		}
	}
}

func TestLoginForm(t *testing.T) {
	e := newEnv(t)
	c := noRedirect(newJar(t))
	resp, b := e.doc(c, "GET", "/auth/login?next=/devices%3Fband=high", nil, nil)
	page := string(b)
	if resp.StatusCode != 200 || strings.Contains(page, "<script") || strings.Contains(page, "style=") || strings.Contains(page, " on") && regexp.MustCompile(`\son[a-z]+=`).MatchString(page) {
		t.Fatalf("login page %d:\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	m := regexp.MustCompile(`name="login_token" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no login token in the form")
	}
	form := url.Values{"username": {"viewer"}, "password": {testPassword}, "next": {"/devices?band=high"}}
	ctype := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	// Without the form token (another site's form): refused.
	resp, b = e.doc(c, "POST", "/auth/login", form.Encode(), ctype)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without form token: %d", resp.StatusCode)
	}
	m = regexp.MustCompile(`name="login_token" value="([^"]+)"`).FindStringSubmatch(string(b))
	form.Set("login_token", m[1])
	resp, _ = e.doc(noRedirect(nil), "POST", "/auth/login", form.Encode(), ctype)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login with the token but not the cookie: %d", resp.StatusCode)
	}
	form.Set("password", "wrong password!!")
	resp, b = e.doc(c, "POST", "/auth/login", form.Encode(), ctype)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "Wrong user name or password") {
		t.Fatalf("wrong password: %d %s", resp.StatusCode, b)
	}
	// The page set a new form token.
	m = regexp.MustCompile(`name="login_token" value="([^"]+)"`).FindStringSubmatch(string(b))
	form.Set("login_token", m[1])
	form.Set("password", testPassword)
	resp, b = e.doc(c, "POST", "/auth/login", form.Encode(), ctype)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/devices?band=high" {
		t.Fatalf("login: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), b)
	}
	e.okc(c, "GET", "/api/v1/auth/me")
	// Signed in, the page offers sign-out with the session's CSRF token.
	_, b = e.doc(c, "GET", "/auth/login", nil, nil)
	tok := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(string(b))
	if tok == nil {
		t.Fatalf("no sign-out form:\n%s", b)
	}
	resp, _ = e.doc(c, "POST", "/auth/logout", url.Values{"csrf_token": {tok[1]}}.Encode(), ctype)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/auth/login" {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if resp, _ := e.doc(c, "GET", "/api/v1/auth/me", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", resp.StatusCode)
	}
	for next, want := range map[string]string{"//evil.example/x": "/", "https://evil.example": "/", "/\\evil": "/", "/ok?a=1": "/ok?a=1", "": "/"} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q", next, got)
		}
	}
}

// TestUIMount: the UI gets the principal and the CSRF token; a browser
// that is not signed in is sent to the sign-in page.
func TestUIMount(t *testing.T) {
	var seen, csrf string
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := PrincipalFrom(r.Context())
		seen, csrf = p.User.Name, CSRFToken(r)
		w.WriteHeader(http.StatusOK)
	})
	e := newEnv(t, func(o *Options) { o.UI = ui })
	resp, _ := e.do(req{method: "GET", path: "/devices/dev-1", header: http.Header{"Accept": {"text/html"}}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/auth/login?next=%2Fdevices%2Fdev-1" {
		t.Fatalf("anonymous browser: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	c, tok := e.login("viewer")
	e.okc(c, "GET", "/devices/dev-1")
	if seen != "viewer" || csrf != tok {
		t.Fatalf("UI saw %q with token %q", seen, csrf)
	}
	// Unknown API paths stay problems, not UI pages.
	resp, b := e.doc(c, "GET", "/api/v1/nothing", nil, nil)
	if resp.StatusCode != 404 {
		t.Fatalf("unknown API path: %d", resp.StatusCode)
	}
	problemOf(t, resp, b)
	resp, b = e.doc(c, "DELETE", "/api/v1/assets", nil, http.Header{"X-Csrf-Token": {tok}})
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Fatalf("wrong method: %d %q %s", resp.StatusCode, resp.Header.Get("Allow"), b)
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	var created CreatedToken
	resp, b := e.do(req{method: "POST", path: "/api/v1/tokens", body: CreateTokenRequest{Name: "grafana", ExpiresInDays: 30}, as: "viewer"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	json.Unmarshal(b, &created)
	if !auth.WellFormed(created.Secret, auth.TokenPrefix) || !created.Token.Expires.Equal(t0.AddDate(0, 0, 30)) {
		t.Fatalf("created %+v", created)
	}
	// Stored hashed only; listed without the secret.
	var list List[store.Token]
	e.get("viewer", "/api/v1/tokens", &list)
	_, raw := e.do(req{method: "GET", path: "/api/v1/tokens", as: "viewer"})
	if len(list.Items) != 2 || strings.Contains(string(raw), created.Secret) || strings.Contains(string(raw), auth.HashSecret(created.Secret)) {
		t.Fatalf("list %s", raw)
	}
	ts, _ := e.st.ListTokens(context.Background(), e.users["viewer"].ID)
	for _, tk := range ts {
		if tk.Hash == created.Secret {
			t.Fatal("token stored in clear")
		}
	}
	use := func(secret string) int {
		r, _ := http.NewRequest("GET", e.ts.URL+"/api/v1/auth/me", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if use(created.Secret) != 200 {
		t.Fatal("new token refused")
	}
	tk, _ := e.st.TokenByHash(context.Background(), auth.HashSecret(created.Secret), t0)
	if !tk.LastUsed.Equal(t0) {
		t.Fatalf("last used %v", tk.LastUsed)
	}
	flipped := created.Secret[:len(created.Secret)-1] + "a"
	if flipped == created.Secret {
		flipped = created.Secret[:len(created.Secret)-1] + "b"
	}
	for _, bad := range []string{flipped, "heir_tok_short", "heir_ses_" + created.Secret[9:], ""} {
		if code := use(bad); code != 401 {
			t.Errorf("token %q: %d", bad, code)
		}
	}
	// Another user's token cannot be revoked (nor seen to exist).
	if resp, _ := e.do(req{method: "DELETE", path: "/api/v1/tokens/" + created.Token.ID, as: "analyst"}); resp.StatusCode != 404 {
		t.Fatalf("revoke another's token: %d", resp.StatusCode)
	}
	if resp, _ := e.do(req{method: "GET", path: "/api/v1/tokens?owner=" + e.users["viewer"].ID, as: "analyst"}); resp.StatusCode != 403 {
		t.Fatalf("list another's tokens: %d", resp.StatusCode)
	}
	e.get("admin", "/api/v1/tokens?owner=*&total=true", &list)
	if *list.Total != int64(len(testUsers)+1) {
		t.Fatalf("admin sees %d tokens", *list.Total)
	}
	if resp, b := e.do(req{method: "DELETE", path: "/api/v1/tokens/" + created.Token.ID, as: "viewer"}); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	if use(created.Secret) != 401 {
		t.Fatal("revoked token accepted")
	}
	e.get("viewer", "/api/v1/tokens?revoked=true", &list)
	if len(list.Items) != 1 || list.Items[0].Revoked.IsZero() {
		t.Fatalf("revoked list %+v", list.Items)
	}
	// Expiry.
	resp, b = e.do(req{method: "POST", path: "/api/v1/tokens", body: CreateTokenRequest{Name: "short", ExpiresInDays: 1}, as: "viewer"})
	json.Unmarshal(b, &created)
	e.clock.Add(25 * time.Hour)
	if use(created.Secret) != 401 {
		t.Fatal("expired token accepted")
	}
	// A disabled user's tokens stop working.
	f := true
	if _, err := e.st.UpdateUser(context.Background(), "test", e.users["analyst"].ID, store.UserUpdate{Disabled: &f}); err != nil {
		t.Fatal(err)
	}
	if use(e.tokens["analyst"]) != 401 {
		t.Fatal("token of a disabled user accepted")
	}
	// The audit trail has the token's creation and revocation.
	var audit List[store.AuditRecord]
	e.get("auditor", "/api/v1/audit?object_type=token&actor=viewer", &audit)
	var actions []string
	for _, a := range audit.Items {
		actions = append(actions, a.Action)
	}
	if strings.Join(actions, ",") != "token.create,token.revoke,token.create" {
		t.Fatalf("audit %v", actions)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	try := func(name, pw, from string) *http.Response {
		h := http.Header{}
		if from != "" {
			h.Set("X-Forwarded-For", from)
		}
		resp, _ := e.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: name, Password: pw}, header: h})
		return resp
	}
	// Per user name: 5 at once, then one a minute.
	for i := range 5 {
		if resp := try("viewer", "wrong password", ""); resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	resp := try("viewer", testPassword, "")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("sixth attempt: %d", resp.StatusCode)
	}
	if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	// The name is the key, whatever its case.
	if resp := try("VIEWER", testPassword, ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("other case: %d", resp.StatusCode)
	}
	e.clock.Add(time.Minute)
	if resp := try("viewer", testPassword, ""); resp.StatusCode != 200 {
		t.Fatalf("after a minute: %d", resp.StatusCode)
	}
	// Per address: 10 at once across names (the test client's address).
	e.clock.Add(time.Hour)
	n := 0
	for i := range 20 {
		resp := try("nobody-"+strconv.Itoa(i), "x", "")
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		n++
	}
	if n != 10 {
		t.Fatalf("%d attempts from one address before the limit, want 10", n)
	}
	// An untrusted X-Forwarded-For does not give a fresh address.
	if resp := try("admin", testPassword, "192.0.2.9"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("spoofed forwarded-for: %d", resp.StatusCode)
	}

	// Behind a trusted proxy, the forwarded address is the key.
	e2 := newEnv(t, func(o *Options) { o.TrustedProxies = []string{"127.0.0.1"} })
	for i := range 10 {
		e2.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: "u" + strconv.Itoa(i), Password: "x"}, header: http.Header{"X-Forwarded-For": {"192.0.2.1"}}})
	}
	r2, _ := e2.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: "admin", Password: testPassword}, header: http.Header{"X-Forwarded-For": {"192.0.2.1"}}})
	r3, _ := e2.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: "admin", Password: testPassword}, header: http.Header{"X-Forwarded-For": {"192.0.2.2"}}})
	if r2.StatusCode != http.StatusTooManyRequests || r3.StatusCode != 200 {
		t.Fatalf("trusted proxy: %d %d", r2.StatusCode, r3.StatusCode)
	}
}

func TestBootstrap(t *testing.T) {
	st := openSQLite(t, nil)
	ctx := context.Background()
	pw, created, err := Bootstrap(ctx, st, BootstrapOptions{Password: cheap})
	if err != nil || !created || len(pw) < 20 {
		t.Fatalf("bootstrap: %q %v %v", pw, created, err)
	}
	u, err := st.UserByName(ctx, "admin")
	if err != nil || len(u.Roles) != 1 || u.Roles[0] != "admin" || strings.Contains(u.PasswordHash, pw) {
		t.Fatalf("admin %+v %v", u, err)
	}
	if ok, _ := auth.VerifyPassword(u.PasswordHash, pw); !ok {
		t.Fatal("the printed password does not sign in")
	}
	pw2, created, err := Bootstrap(ctx, st, BootstrapOptions{Password: cheap})
	if err != nil || created || pw2 != "" {
		t.Fatalf("second start: %q %v %v", pw2, created, err)
	}
}

func TestResetPassword(t *testing.T) {
	e := newEnv(t)
	c, _ := e.login("admin")
	f := true
	e.st.UpdateUser(context.Background(), "test", e.users["admin"].ID, store.UserUpdate{Disabled: &f})
	pw, err := ResetPassword(context.Background(), e.st, "admin", cheap)
	if err != nil || len(pw) < 20 {
		t.Fatalf("reset: %q %v", pw, err)
	}
	if resp, _ := e.doc(c, "GET", "/api/v1/auth/me", nil, nil); resp.StatusCode != 401 {
		t.Fatalf("old session after a reset: %d", resp.StatusCode)
	}
	for p, want := range map[string]int{testPassword: 401, pw: 200} {
		if resp, _ := e.do(req{method: "POST", path: "/api/v1/auth/login", body: LoginRequest{Username: "admin", Password: p}}); resp.StatusCode != want {
			t.Errorf("password %q: %d, want %d", p[:4], resp.StatusCode, want)
		}
	}
	if _, err := ResetPassword(context.Background(), e.st, "ghost", cheap); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}
