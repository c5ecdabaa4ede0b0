package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
)

// tokensView is the signed-in user's account page: their password and
// their API tokens (for scripts and for the monitoring that reads
// /metrics).
type tokensView struct {
	// LocalPassword: the account signs in with a password (not single
	// sign-on), so it can change it here.
	LocalPassword bool
	Tokens        []store.Token
	// Secret is a new token's, shown once on the page that made it.
	Secret, SecretFor string
	Problem           string
}

func (u *UI) tokens(w http.ResponseWriter, r *http.Request) {
	u.renderTokens(w, r, tokensView{}, http.StatusOK)
}

func (u *UI) renderTokens(w http.ResponseWriter, r *http.Request, v tokensView, status int) {
	var l server.List[store.Token]
	if err := u.api.get(r, "/api/v1/tokens", url.Values{"limit": {"1000"}}, &l); err != nil {
		u.failAPI(w, r, err)
		return
	}
	v.Tokens = l.Items
	var me server.Me
	if err := u.api.get(r, "/api/v1/auth/me", nil, &me); err == nil {
		v.LocalPassword = !strings.Contains(me.User.Name, ":") // single-sign-on accounts are issuer:subject
	}
	pg := u.newPage(r, "tokens", "Your account")
	pg.Data = v
	if v.Secret != "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	u.render(w, r, status, "tokens", pg)
}

func (u *UI) createToken(w http.ResponseWriter, r *http.Request) {
	days, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("expires_in_days")))
	if err != nil {
		days = -1 // the API says what it takes
	}
	var out server.CreatedToken
	req := server.CreateTokenRequest{Name: strings.TrimSpace(r.PostFormValue("name")), ExpiresInDays: days}
	if err := u.api.do(r, http.MethodPost, "/api/v1/tokens", nil, req, &out); err != nil {
		if isStatus(err, http.StatusBadRequest) || isStatus(err, http.StatusConflict) {
			u.renderTokens(w, r, tokensView{Problem: "Not created: " + problemText(err)}, http.StatusBadRequest)
			return
		}
		u.failAPI(w, r, err)
		return
	}
	u.renderTokens(w, r, tokensView{Secret: out.Secret, SecretFor: out.Token.Name}, http.StatusOK)
}

func (u *UI) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := u.api.do(r, http.MethodDelete, "/api/v1/tokens/"+pathID(r.PathValue("id")), nil, nil, nil); err != nil {
		u.failAPI(w, r, err)
		return
	}
	u.flashTo(w, r, "/tokens", "Revoked: the token no longer opens the API.")
}

// changePassword changes the signed-in user's own password. The API ends
// every session of the account and starts a new one for this browser,
// whose cookie the answer carries on.
func (u *UI) changePassword(w http.ResponseWriter, r *http.Request) {
	cur, next := r.PostFormValue("current_password"), r.PostFormValue("new_password")
	if next != r.PostFormValue("confirm_password") {
		u.renderTokens(w, r, tokensView{Problem: "Not changed: the new password and its repetition differ."}, http.StatusBadRequest)
		return
	}
	err := u.api.doSession(w, r, http.MethodPost, "/api/v1/auth/password", server.PasswordChange{CurrentPassword: cur, NewPassword: next}, nil)
	switch {
	case err == nil:
		u.flashTo(w, r, "/tokens", "Your password is changed; your other sessions are signed out.")
	case isStatus(err, http.StatusBadRequest) || isStatus(err, http.StatusConflict) || isStatus(err, http.StatusTooManyRequests):
		u.renderTokens(w, r, tokensView{Problem: "Not changed: " + problemText(err)}, http.StatusBadRequest)
	default:
		u.failAPI(w, r, err)
	}
}
