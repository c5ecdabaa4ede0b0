package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/heir-emd/heir/internal/store"
)

// OIDCOptions configure single sign-on with an OpenID Connect provider
// (authorization code flow with PKCE and a nonce).
type OIDCOptions struct {
	// Issuer is the provider's issuer URL (discovery is at
	// Issuer/.well-known/openid-configuration).
	Issuer       string
	ClientID     string
	ClientSecret string
	// Name is shown on the sign-in page ("Sign in with …"; default
	// "single sign-on").
	Name string
	// RedirectURL is the callback registered with the provider (default
	// PublicURL + /auth/oidc/callback; PublicURL is then required).
	RedirectURL string
	// Scopes besides openid (default profile, email, groups).
	Scopes []string
	// RoleClaim is the ID-token claim whose value(s) name the user's
	// groups (default "groups"); RoleMap maps each value to heir roles.
	// A user none of whose values maps to a role is refused.
	RoleClaim string
	RoleMap   map[string][]string
	// UserClaim is the claim that identifies the user (default "sub").
	// The local account is named "oidc:" + its value, which no local
	// user name can be, so a provider can never take over a local
	// account.
	UserClaim string
	// HTTPClient reaches the provider (default http.DefaultClient with a
	// 10 s timeout).
	HTTPClient *http.Client
}

// LogValue keeps the client secret out of logs.
func (o OIDCOptions) LogValue() slog.Value {
	return slog.GroupValue(slog.String("issuer", o.Issuer), slog.String("client_id", o.ClientID))
}

type oidcProvider struct {
	s      *Server
	o      OIDCOptions
	name   string
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use, then kept
}

// oidcCookie holds the flow's state, nonce, PKCE verifier and where to go
// after. It is SameSite=Lax: the provider's redirect back is a cross-site
// navigation, which a Strict cookie would not be sent with.
const oidcCookie = "heir_oidc"

func newOIDCProvider(_ context.Context, s *Server, o OIDCOptions) (*oidcProvider, error) {
	if o.Issuer == "" || o.ClientID == "" {
		return nil, errors.New("server: OIDC needs an issuer and a client id")
	}
	if o.RedirectURL == "" {
		if s.publicURL == nil {
			return nil, errors.New("server: OIDC needs a redirect URL or the node's public URL")
		}
		o.RedirectURL = strings.TrimSuffix(s.publicURL.String(), "/") + "/auth/oidc/callback"
	}
	if o.RoleClaim == "" {
		o.RoleClaim = "groups"
	}
	if o.UserClaim == "" {
		o.UserClaim = "sub"
	}
	if o.Scopes == nil {
		o.Scopes = []string{"profile", "email", "groups"}
	}
	if len(o.RoleMap) == 0 {
		return nil, errors.New("server: OIDC needs a role map (claim value → heir roles); without one nobody could sign in")
	}
	for k, rs := range o.RoleMap {
		for _, r := range rs {
			if err := validRole(r); err != nil {
				return nil, fmt.Errorf("server: OIDC role map %q: %w", k, err)
			}
		}
	}
	p := &oidcProvider{s: s, o: o, name: o.Name, client: o.HTTPClient}
	if p.name == "" {
		p.name = "single sign-on"
	}
	if p.client == nil {
		p.client = &http.Client{Timeout: 10 * time.Second}
	}
	return p, nil
}

// discover fetches the provider's configuration once; a provider that is
// down at start only delays single sign-on, never the node.
func (p *oidcProvider) discover(ctx context.Context) (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return p.provider, nil
	}
	pr, err := oidc.NewProvider(oidc.ClientContext(ctx, p.client), p.o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OIDC discovery at %s: %w", p.o.Issuer, err)
	}
	p.provider = pr
	return pr, nil
}

func (p *oidcProvider) config(pr *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: p.o.ClientID, ClientSecret: p.o.ClientSecret, Endpoint: pr.Endpoint(),
		RedirectURL: p.o.RedirectURL, Scopes: append([]string{oidc.ScopeOpenID}, p.o.Scopes...)}
}

func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		writeProblem(w, probNotFound.with(r, "single sign-on is not configured on this node"))
		return
	}
	pr, err := s.oidc.discover(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "single sign-on unavailable", slog.Any("err", err))
		s.renderLogin(w, r, http.StatusBadGateway, loginView{Error: "The single sign-on provider cannot be reached; try again or sign in with a local account."})
		return
	}
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	next := safeNext(r.URL.Query().Get("next"))
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: strings.Join([]string{state, nonce, verifier, next}, "|"),
		Path: "/auth/oidc/", MaxAge: 600, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, s.oidc.config(pr).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// oidcCallback finishes the flow: state, code exchange with the PKCE
// verifier, ID token signature, audience, expiry and nonce; then the role
// claim is mapped to roles, the local account made or updated, and a
// session started.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if s.oidc == nil {
		writeProblem(w, probNotFound.with(r, "single sign-on is not configured on this node"))
		return
	}
	ctx := r.Context()
	refuse := func(status int, msg string, err error) {
		s.metrics.authFailures.WithLabelValues("oidc").Inc()
		s.log.WarnContext(ctx, "single sign-on refused", slog.String("why", msg), slog.Any("err", err))
		s.renderLogin(w, r, status, loginView{Error: msg})
	}
	c, err := r.Cookie(oidcCookie)
	parts := []string{}
	if err == nil {
		parts = strings.Split(c.Value, "|")
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Path: "/auth/oidc/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	q := r.URL.Query()
	if len(parts) != 4 || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(q.Get("state"))) != 1 {
		refuse(http.StatusBadRequest, "The sign-in expired or did not start here; try again.", nil)
		return
	}
	nonce, verifier, next := parts[1], parts[2], safeNext(parts[3])
	if e := q.Get("error"); e != "" {
		refuse(http.StatusUnauthorized, "The single sign-on provider refused the sign-in.", errors.New(e))
		return
	}
	pr, err := s.oidc.discover(ctx)
	if err != nil {
		refuse(http.StatusBadGateway, "The single sign-on provider cannot be reached.", err)
		return
	}
	cctx := oidc.ClientContext(ctx, s.oidc.client)
	tok, err := s.oidc.config(pr).Exchange(cctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		refuse(http.StatusUnauthorized, "The single sign-on provider did not confirm the sign-in.", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		refuse(http.StatusUnauthorized, "The single sign-on provider sent no identity.", nil)
		return
	}
	idt, err := pr.VerifierContext(cctx, &oidc.Config{ClientID: s.oidc.o.ClientID, Now: s.now}).Verify(cctx, raw)
	if err != nil {
		refuse(http.StatusUnauthorized, "The identity from single sign-on did not verify.", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		refuse(http.StatusUnauthorized, "The identity from single sign-on was not for this sign-in.", nil)
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		refuse(http.StatusUnauthorized, "The identity from single sign-on could not be read.", err)
		return
	}
	id, _ := claims[s.oidc.o.UserClaim].(string)
	if id == "" || len(id) > 200 {
		refuse(http.StatusUnauthorized, "The identity from single sign-on has no usable user claim.", nil)
		return
	}
	rs := s.oidc.roles(claims[s.oidc.o.RoleClaim])
	if len(rs) == 0 {
		refuse(http.StatusForbidden, "Your single sign-on account has no heir role; ask an administrator.", nil)
		return
	}
	u, err := s.oidcUser(ctx, "oidc:"+id, displayName(claims), rs)
	if err != nil {
		refuse(http.StatusForbidden, "Your account cannot sign in here; ask an administrator.", err)
		return
	}
	if _, err := s.authn.startSession(w, r, u); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(ctx, "signed in", slog.String("user", u.Name), slog.String("via", "oidc"))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// roles maps a claim value (a string or a list of strings) to heir roles.
func (p *oidcProvider) roles(v any) []string {
	var vals []string
	switch x := v.(type) {
	case string:
		vals = []string{x}
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				vals = append(vals, s)
			}
		}
	}
	var out []string
	for _, v := range vals {
		out = append(out, p.o.RoleMap[v]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func displayName(c map[string]any) string {
	for _, k := range []string{"name", "preferred_username", "email"} {
		if s, ok := c[k].(string); ok && s != "" && len(s) <= 256 {
			return s
		}
	}
	return ""
}

// oidcUser makes or updates the local account of a single-sign-on user:
// the provider's groups decide the roles at every sign-in (and the audit
// trail records a change); a locally disabled account stays refused.
func (s *Server) oidcUser(ctx context.Context, name, display string, roles []string) (store.User, error) {
	u, err := s.st.UserByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		u, err = s.st.CreateUser(ctx, "oidc", store.User{Name: name, DisplayName: display, Roles: roles})
		if errors.Is(err, store.ErrConflict) {
			u, err = s.st.UserByName(ctx, name)
		} else {
			return u, err
		}
	}
	if err != nil {
		return u, err
	}
	if u.Disabled {
		return u, fmt.Errorf("user %s is disabled", name)
	}
	if !slices.Equal(u.Roles, roles) || (display != "" && u.DisplayName != display) {
		up := store.UserUpdate{Roles: roles}
		if display != "" {
			up.DisplayName = &display
		}
		return s.st.UpdateUser(ctx, "oidc", u.ID, up)
	}
	return u, nil
}
