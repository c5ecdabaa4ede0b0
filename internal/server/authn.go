package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/store"
)

// How a principal authenticated.
const (
	ViaSession = "session"
	ViaToken   = "token"
)

// Principal is who is making a request.
type Principal struct {
	User  store.User
	Roles []auth.Role
	// Via is ViaSession (a browser's cookie) or ViaToken (a bearer token).
	Via string
	// TokenID is the API token used (ViaToken).
	TokenID string

	sessionID string // the stored hash of the session cookie
	csrf      string
}

// Can says whether one of the principal's roles grants perm.
func (p *Principal) Can(perm auth.Permission) bool {
	if p == nil {
		return false
	}
	for _, r := range p.Roles {
		if auth.Allowed(r, perm) {
			return true
		}
	}
	return false
}

// Actor is the name the audit trail records for the principal's changes.
func (p *Principal) Actor() string { return p.User.Name }

// LogValue names the principal without any credential.
func (p *Principal) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", p.User.Name), slog.String("via", p.Via))
}

type principalKey struct{}

func withPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the signed-in user of a request's context (false
// for public routes and anonymous requests).
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// CSRFToken is the token a page must send back (header X-CSRF-Token, or
// form field csrf_token) with unsafe requests of the request's session;
// "" without a cookie session.
func CSRFToken(r *http.Request) string {
	if p, ok := PrincipalFrom(r.Context()); ok {
		return p.csrf
	}
	return ""
}

// CSRF token transport.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
)

// AuthOptions tune authentication.
type AuthOptions struct {
	// Password are the argon2id parameters for new hashes (zero:
	// auth.DefaultParams).
	Password auth.Params
	// SessionIdle ends a session unused this long (default 1 h);
	// SessionMax ends any session this long after sign-in (default 12 h).
	SessionIdle, SessionMax time.Duration
	// ForceSecureCookies keeps cookies Secure even on a plain loopback
	// listener (a local TLS proxy in front of the demo).
	ForceSecureCookies bool
	// LoginPerAddress and LoginPerUser limit sign-in attempts per client
	// address and per user name (defaults: 10 at once then one per 30 s;
	// 5 at once then one per minute).
	LoginPerAddress, LoginPerUser RateLimit
	// MinPassword is the shortest password accepted (default 12).
	MinPassword int
}

// RateLimit is a token bucket: Burst attempts at once, one more per Every.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// Bounds of the login limiters' tables: past them the idlest key is
// forgotten (auth.Limiter), which can only be lenient, never lock out.
const (
	maxLimiterKeys  = 10_000
	touchEvery      = time.Minute // sessions and tokens record use at most this often
	maxUserName     = 256
	sessionCookie   = "heir_session"
	secureCookie    = "__Host-heir_session" // __Host-: Secure, Path=/, no Domain
	loginPath       = "/auth/login"
	defaultMinPass  = 12
	dummyPassword   = "heir-dummy-password-for-timing"
	csrfDerivation  = "heir-csrf-v1\x00"
	retryAfterLimit = 3600
)

type authenticator struct {
	s         *Server
	params    auth.Params
	idle, max time.Duration
	byAddr    *auth.Limiter
	byUser    *auth.Limiter
	minPass   int
	cookie    string
	dummyHash string
}

func newAuthenticator(s *Server, o AuthOptions) (*authenticator, error) {
	a := &authenticator{s: s, params: o.Password, idle: o.SessionIdle, max: o.SessionMax, minPass: o.MinPassword}
	if a.params == (auth.Params{}) {
		a.params = auth.DefaultParams
	}
	if a.idle <= 0 {
		a.idle = time.Hour
	}
	if a.max <= 0 {
		a.max = 12 * time.Hour
	}
	if a.idle > a.max {
		a.idle = a.max
	}
	if a.minPass <= 0 {
		a.minPass = defaultMinPass
	}
	pa, pu := o.LoginPerAddress, o.LoginPerUser
	if pa.Burst <= 0 {
		pa = RateLimit{Burst: 10, Every: 30 * time.Second}
	}
	if pu.Burst <= 0 {
		pu = RateLimit{Burst: 5, Every: time.Minute}
	}
	a.byAddr = auth.NewLimiter(pa.Burst, pa.Every, maxLimiterKeys)
	a.byUser = auth.NewLimiter(pu.Burst, pu.Every, maxLimiterKeys)
	a.cookie = sessionCookie
	if s.secure {
		a.cookie = secureCookie
	}
	// Unknown users are checked against this hash, so that a wrong name
	// costs what a wrong password does and timing does not tell names.
	h, err := auth.HashPassword(dummyPassword, a.params)
	if err != nil {
		return nil, fmt.Errorf("server: password parameters: %w", err)
	}
	a.dummyHash = h
	return a, nil
}

// authenticate finds the principal of r: a bearer token, else a session
// cookie, else nobody (nil, nil). A presented but bad bearer token is a
// 401 at once; a stale cookie is just no session.
func (a *authenticator) authenticate(w http.ResponseWriter, r *http.Request) (*Principal, *Problem) {
	ctx := r.Context()
	now := a.s.now()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || !auth.WellFormed(tok, auth.TokenPrefix) {
			return nil, probUnauth.with(r, "the Authorization header must be Bearer heir_tok_… (an API token)")
		}
		t, err := a.s.st.TokenByHash(ctx, auth.HashSecret(tok), now)
		if errors.Is(err, store.ErrNotFound) {
			a.s.metrics.authFailures.WithLabelValues("token").Inc()
			return nil, probUnauth.with(r, "the API token is unknown, expired or revoked")
		}
		if err != nil {
			return nil, a.s.internal(r, "read token", err)
		}
		u, err := a.s.st.User(ctx, t.Owner)
		if err != nil || u.Disabled {
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, a.s.internal(r, "read token owner", err)
			}
			return nil, probUnauth.with(r, "the API token's owner is disabled or gone")
		}
		if now.Sub(t.LastUsed) >= touchEvery {
			if err := a.s.st.TouchToken(ctx, t.ID, now); err != nil {
				a.s.log.WarnContext(ctx, "record token use", slog.String("token", t.ID), slog.Any("err", err))
			}
		}
		return &Principal{User: u, Roles: roles(u), Via: ViaToken, TokenID: t.ID}, nil
	}
	c, err := r.Cookie(a.cookie)
	if err != nil || !auth.WellFormed(c.Value, auth.SessionPrefix) {
		return nil, nil
	}
	id := auth.HashSecret(c.Value)
	sess, err := a.s.st.Session(ctx, id, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, a.s.internal(r, "read session", err)
	}
	if now.Sub(sess.Created) >= a.max {
		_ = a.s.st.DeleteSession(ctx, id)
		return nil, nil
	}
	u, err := a.s.st.User(ctx, sess.UserID)
	if err != nil || u.Disabled {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, a.s.internal(r, "read session user", err)
		}
		_ = a.s.st.DeleteSession(ctx, id)
		return nil, nil
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		exp := min(now.Add(a.idle).UnixNano(), sess.Created.Add(a.max).UnixNano())
		if err := a.s.st.TouchSession(ctx, id, now, time.Unix(0, exp)); err != nil && !errors.Is(err, store.ErrNotFound) {
			a.s.log.WarnContext(ctx, "record session use", slog.Any("err", err))
		}
	}
	return &Principal{User: u, Roles: roles(u), Via: ViaSession, sessionID: id, csrf: csrfFor(c.Value)}, nil
}

func roles(u store.User) []auth.Role {
	out := make([]auth.Role, 0, len(u.Roles))
	for _, r := range u.Roles {
		if role, err := auth.ParseRole(r); err == nil {
			out = append(out, role)
		}
	}
	return out
}

// csrfFor derives the session's CSRF token from its cookie: bound to the
// session, different for each, unguessable without the cookie, and not
// revealing it (a one-way hash). No server key is needed, so tokens
// survive restarts as sessions do.
func csrfFor(cookie string) string {
	sum := sha256.Sum256([]byte(csrfDerivation + cookie))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkCSRF guards unsafe requests of cookie sessions: the browser's
// Origin must be the node's, and the synchronizer token must be sent back
// (header X-CSRF-Token, or form field csrf_token for plain HTML forms).
func (s *Server) checkCSRF(r *http.Request, p *Principal) *Problem {
	if !s.sameOrigin(r) {
		return probCSRF.with(r, "the request comes from another origin")
	}
	tok := r.Header.Get(CSRFHeader)
	if tok == "" {
		ct := r.Header.Get("Content-Type")
		if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data") {
			tok = r.PostFormValue(CSRFField)
		}
	}
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(p.csrf)) != 1 {
		return probCSRF.with(r, "missing or wrong CSRF token: send the session's token (GET /api/v1/auth/me) in the X-CSRF-Token header")
	}
	return nil
}

// sameOrigin says whether a browser request comes from the node's own
// pages. Without Origin it falls back to Sec-Fetch-Site; a request with
// neither is not from a modern browser (the CSRF token still applies).
func (s *Server) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "same-origin", "none":
			return true
		}
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // includes "null" (sandboxed frames, file: pages)
	}
	if s.publicURL != nil {
		return strings.EqualFold(u.Scheme, s.publicURL.Scheme) && strings.EqualFold(u.Host, s.publicURL.Host)
	}
	scheme := "http"
	if r.TLS != nil || s.secure {
		scheme = "https"
	}
	return strings.EqualFold(u.Scheme, scheme) && strings.EqualFold(u.Host, r.Host)
}

// internal logs err and returns the problem the client sees.
func (s *Server) internal(r *http.Request, what string, err error) *Problem {
	if errors.Is(err, context.Canceled) {
		return probUnavailable.with(r, "request cancelled")
	}
	s.log.ErrorContext(r.Context(), what, slog.Any("err", err))
	return probInternal.with(r, "the node could not complete the request; its log says why")
}

// loginError is why a sign-in failed.
type loginError struct {
	status     int
	retryAfter time.Duration
	detail     string
}

// login checks a user name and password under the rate limits and, on
// success, starts a session (ending the one the client had, so that a
// session id planted before sign-in is worthless after it).
func (a *authenticator) login(w http.ResponseWriter, r *http.Request, name, password string) (*Principal, *loginError) {
	ctx := r.Context()
	now := a.s.now()
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxUserName || password == "" {
		return nil, &loginError{status: http.StatusBadRequest, detail: "give a user name and a password"}
	}
	addr := a.s.clientAddr(r)
	okA, waitA := a.byAddr.Allow(addr, now)
	okU, waitU := a.byUser.Allow(strings.ToLower(name), now)
	if !okA || !okU {
		a.s.metrics.loginLimited.Inc()
		a.s.log.WarnContext(ctx, "sign-in rate limited", slog.String("user", name), slog.String("client", addr))
		return nil, &loginError{status: http.StatusTooManyRequests, retryAfter: max(waitA, waitU), detail: "too many sign-in attempts; wait and try again"}
	}
	u, err := a.s.st.UserByName(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.s.log.ErrorContext(ctx, "sign-in: read user", slog.Any("err", err))
		return nil, &loginError{status: http.StatusInternalServerError, detail: "the node could not check the sign-in; its log says why"}
	}
	hash := u.PasswordHash
	if err != nil || u.Disabled || hash == "" {
		hash = a.dummyHash
	}
	ok, verr := auth.VerifyPassword(hash, password)
	if !ok || verr != nil || hash == a.dummyHash {
		a.s.metrics.authFailures.WithLabelValues("password").Inc()
		a.s.log.WarnContext(ctx, "sign-in refused", slog.String("user", name), slog.String("client", addr))
		return nil, &loginError{status: http.StatusUnauthorized, detail: "wrong user name or password, or the account is disabled"}
	}
	p, err := a.startSession(w, r, u)
	if err != nil {
		a.s.log.ErrorContext(ctx, "sign-in: start session", slog.Any("err", err))
		return nil, &loginError{status: http.StatusInternalServerError, detail: "the node could not start a session; its log says why"}
	}
	a.s.log.InfoContext(ctx, "signed in", slog.String("user", u.Name), slog.String("client", addr))
	return p, nil
}

// startSession ends the client's current session, if any, and starts a
// new one for u with a fresh cookie.
func (a *authenticator) startSession(w http.ResponseWriter, r *http.Request, u store.User) (*Principal, error) {
	ctx := r.Context()
	if c, err := r.Cookie(a.cookie); err == nil && auth.WellFormed(c.Value, auth.SessionPrefix) {
		if err := a.s.st.DeleteSession(ctx, auth.HashSecret(c.Value)); err != nil {
			return nil, fmt.Errorf("end previous session: %w", err)
		}
	}
	secret, hash, err := auth.NewSecret(auth.SessionPrefix)
	if err != nil {
		return nil, err
	}
	now := a.s.now()
	sess := store.Session{ID: hash, UserID: u.ID, Created: now, LastSeen: now, Expires: now.Add(a.idle)}
	if err := a.s.st.CreateSession(ctx, sess); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	a.setCookie(w, secret)
	return &Principal{User: u, Roles: roles(u), Via: ViaSession, sessionID: hash, csrf: csrfFor(secret)}, nil
}

// setCookie sends the session cookie: HttpOnly, SameSite=Strict, Secure
// unless the node runs the plain-loopback demo, and a browser-session
// cookie (gone when the browser closes; the server ends it sooner).
func (a *authenticator) setCookie(w http.ResponseWriter, value string) {
	c := &http.Cookie{Name: a.cookie, Value: value, Path: "/", HttpOnly: true, Secure: a.s.secure, SameSite: http.SameSiteStrictMode}
	if value == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// endSession ends p's session and clears the cookie.
func (a *authenticator) endSession(w http.ResponseWriter, r *http.Request, p *Principal) error {
	a.setCookie(w, "")
	if p.Via != ViaSession {
		return nil
	}
	return a.s.st.DeleteSession(r.Context(), p.sessionID)
}

// retryAfterSeconds rounds a wait up to whole seconds for Retry-After.
func retryAfterSeconds(d time.Duration) int {
	return int(min(retryAfterLimit, max(1, math.Ceil(d.Seconds()))))
}
