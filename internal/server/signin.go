package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/store"
)

//go:embed assets/login.html assets/login.css
var assets embed.FS

var loginTemplate = template.Must(template.ParseFS(assets, "assets/login.html"))

// loginTokenCookie carries the login form's anti-forgery token (double
// submit): a page of another site cannot read it to post a sign-in of its
// choosing (login CSRF).
const loginTokenCookie = "heir_login"

type loginView struct {
	Error, Username, Next, LoginToken, OIDC, SignedIn, CSRF string
}

// safeNext keeps a post-sign-in redirect on this node: a local absolute
// path, never another host ("//evil", "/\evil", "https://…").
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	if v.SignedIn == "" {
		tok := rand.Text()
		http.SetCookie(w, &http.Cookie{Name: loginTokenCookie, Value: tok, Path: "/auth/", MaxAge: 900,
			HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
		v.LoginToken = tok
	}
	if s.oidc != nil {
		v.OIDC = s.oidc.name
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := loginTemplate.Execute(w, v); err != nil {
		s.log.WarnContext(r.Context(), "render sign-in page", slog.Any("err", err))
	}
}

// loginPage is the sign-in form (or, when signed in, a sign-out button).
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	p, _ := s.authn.authenticate(w, r)
	if p != nil && p.Via == ViaSession {
		s.renderLogin(w, r, http.StatusOK, loginView{SignedIn: p.User.Name, CSRF: p.csrf, Next: next})
		return
	}
	s.renderLogin(w, r, http.StatusOK, loginView{Next: next})
}

func (s *Server) loginCSS(w http.ResponseWriter, r *http.Request) {
	b, _ := assets.ReadFile("assets/login.css") // embedded at build time
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}

// loginForm signs in from the HTML form and redirects to next.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, r, http.StatusBadRequest, loginView{Error: "The form could not be read."})
		return
	}
	next := safeNext(r.PostFormValue("next"))
	name := r.PostFormValue("username")
	c, err := r.Cookie(loginTokenCookie)
	if !s.sameOrigin(r) || err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("login_token"))) != 1 {
		s.metrics.csrfRefused.Inc()
		s.renderLogin(w, r, http.StatusForbidden, loginView{Error: "The sign-in form expired or came from another site; try again.", Next: next, Username: name})
		return
	}
	_, lerr := s.authn.login(w, r, name, r.PostFormValue("password"))
	if lerr != nil {
		if lerr.retryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(retryAfterSeconds(lerr.retryAfter)))
		}
		msg := lerr.detail
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:] + "."
		}
		s.renderLogin(w, r, lerr.status, loginView{Error: msg, Next: next, Username: name})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginTokenCookie, Path: "/auth/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logoutForm ends the session (CSRF-checked like any unsafe request).
func (s *Server) logoutForm(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	if err := s.authn.endSession(w, r, p); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, loginPath, http.StatusSeeOther)
}

// LoginRequest signs in through the API.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LogValue keeps the password out of logs.
func (l LoginRequest) LogValue() slog.Value { return slog.StringValue(l.Username) }

// Me describes the signed-in user and what they may do.
type Me struct {
	User        store.User `json:"user"`
	Permissions []string   `json:"permissions"`
	Via         string     `json:"via"`
	// CSRFToken is the token to send in X-CSRF-Token with unsafe requests
	// of a cookie session.
	CSRFToken string `json:"csrf_token,omitempty"`
}

func meOf(p *Principal) Me {
	m := Me{User: p.User, Via: p.Via, CSRFToken: p.csrf, Permissions: []string{}}
	for _, perm := range []auth.Permission{auth.PermRead, auth.PermTriage, auth.PermSettings, auth.PermUsers, auth.PermSensors, auth.PermAudit, auth.PermPrivacy, auth.PermTokens} {
		if p.Can(perm) {
			m.Permissions = append(m.Permissions, string(perm))
		}
	}
	return m
}

func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.sameOrigin(r) {
		s.metrics.csrfRefused.Inc()
		writeProblem(w, probCSRF.with(r, "the sign-in comes from another origin"))
		return
	}
	p, lerr := s.authn.login(w, r, req.Username, req.Password)
	if lerr != nil {
		kind := map[int]problemKind{http.StatusBadRequest: probBadRequest, http.StatusTooManyRequests: probRateLimited,
			http.StatusInternalServerError: probInternal}[lerr.status]
		if kind.slug == "" {
			kind = probUnauth
		}
		prob := kind.with(r, lerr.detail)
		if lerr.retryAfter > 0 {
			prob.RetryAfter = retryAfterSeconds(lerr.retryAfter)
		}
		writeProblem(w, prob)
		return
	}
	writeJSON(w, http.StatusOK, meOf(p))
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	if err := s.authn.endSession(w, r, p); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	p, _ := PrincipalFrom(r.Context())
	writeJSON(w, http.StatusOK, meOf(p))
}

// PasswordChange is a user changing their own password.
type PasswordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// LogValue keeps both passwords out of logs.
func (PasswordChange) LogValue() slog.Value { return slog.StringValue("password change") }

// changePassword checks the current password (under the per-user sign-in
// limit, so a stolen session cannot guess it quickly), stores the new
// hash, ends every session of the user and, for a browser, starts a new
// one.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	var req PasswordChange
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	p, _ := PrincipalFrom(ctx)
	if p.User.PasswordHash == "" {
		s.fail(w, r, fmt.Errorf("%s signs in through single sign-on and has no local password: %w", p.User.Name, store.ErrConflict))
		return
	}
	if ok, wait := s.authn.byUser.Allow(strings.ToLower(p.User.Name), s.now()); !ok {
		prob := probRateLimited.with(r, "too many attempts; wait and try again")
		prob.RetryAfter = retryAfterSeconds(wait)
		writeProblem(w, prob)
		return
	}
	if ok, err := auth.VerifyPassword(p.User.PasswordHash, req.CurrentPassword); !ok || err != nil {
		s.metrics.authFailures.WithLabelValues("password").Inc()
		s.fail(w, r, badInput("current_password", "wrong password"))
		return
	}
	if err := s.authn.checkPassword(req.NewPassword); err != nil {
		s.fail(w, r, badInput("new_password", "%v", err))
		return
	}
	if req.NewPassword == req.CurrentPassword {
		s.fail(w, r, badInput("new_password", "must differ from the current password"))
		return
	}
	h, err := auth.HashPassword(req.NewPassword, s.authn.params)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.st.UpdateUser(ctx, p.Actor(), p.User.ID, store.UserUpdate{PasswordHash: &h})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.st.DeleteUserSessions(ctx, u.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	np := &Principal{User: u, Roles: roles(u), Via: p.Via, TokenID: p.TokenID}
	if p.Via == ViaSession {
		if np, err = s.authn.startSession(w, r, u); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, meOf(np))
}

// checkPassword is the password rule: long enough to resist guessing,
// short enough to hash cheaply.
func (a *authenticator) checkPassword(pw string) error {
	switch {
	case len(pw) < a.minPass:
		return fmt.Errorf("at least %d characters", a.minPass)
	case len(pw) > 1024:
		return errors.New("at most 1024 bytes")
	case strings.TrimSpace(pw) == "":
		return errors.New("not only spaces")
	}
	return nil
}

// newPassword makes a random password: 26 base32 characters, 128 bits.
func newPassword() (string, error) { return rand.Text(), nil }

// BootstrapOptions configure Bootstrap.
type BootstrapOptions struct {
	// Name is the first administrator's user name (default "admin").
	Name string
	// Password are the argon2id parameters (zero: auth.DefaultParams).
	Password auth.Params
}

// Bootstrap creates the first administrator when the store has no user
// at all, with a random one-time password that it returns (created is
// true) for the caller to print once, on the terminal, never to a log.
// With any user present it does nothing: restarts never reset anything.
func Bootstrap(ctx context.Context, users store.Users, o BootstrapOptions) (password string, created bool, err error) {
	if o.Name == "" {
		o.Name = "admin"
	}
	if o.Password == (auth.Params{}) {
		o.Password = auth.DefaultParams
	}
	list, err := users.ListUsers(ctx)
	if err != nil {
		return "", false, fmt.Errorf("bootstrap: list users: %w", err)
	}
	if len(list) > 0 {
		return "", false, nil
	}
	pw, err := newPassword()
	if err != nil {
		return "", false, err
	}
	h, err := auth.HashPassword(pw, o.Password)
	if err != nil {
		return "", false, fmt.Errorf("bootstrap: %w", err)
	}
	_, err = users.CreateUser(ctx, "heir-bootstrap", store.User{Name: o.Name, DisplayName: "Administrator", Roles: []string{store.RoleAdmin}, PasswordHash: h})
	if errors.Is(err, store.ErrConflict) {
		return "", false, nil // another node process made it first
	}
	if err != nil {
		return "", false, fmt.Errorf("bootstrap: create %s: %w", o.Name, err)
	}
	return pw, true, nil
}

// ResetPassword gives the named user a new random one-time password (and
// enables the account), ending their sessions: the operator's way back in
// when every administrator is locked out (heir serve --reset-password
// NAME). It returns the password to print once; the audit trail records
// the change with actor "heir-cli".
func ResetPassword(ctx context.Context, st interface {
	store.Users
	store.Sessions
}, name string, params auth.Params) (string, error) {
	if params == (auth.Params{}) {
		params = auth.DefaultParams
	}
	u, err := st.UserByName(ctx, name)
	if err != nil {
		return "", fmt.Errorf("reset password of %s: %w", name, err)
	}
	pw, err := newPassword()
	if err != nil {
		return "", err
	}
	h, err := auth.HashPassword(pw, params)
	if err != nil {
		return "", fmt.Errorf("reset password of %s: %w", name, err)
	}
	enabled := false
	if _, err := st.UpdateUser(ctx, "heir-cli", u.ID, store.UserUpdate{PasswordHash: &h, Disabled: &enabled}); err != nil {
		return "", fmt.Errorf("reset password of %s: %w", name, err)
	}
	if _, err := st.DeleteUserSessions(ctx, u.ID); err != nil {
		return "", fmt.Errorf("reset password of %s: end sessions: %w", name, err)
	}
	return pw, nil
}
