package ui

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
)

// usersView is the administrators' page of accounts.
type usersView struct {
	Users []store.User
	Roles []string
	// Shown is a password to hand over, shown once on the page that made
	// it (never in a cookie or a URL): a new account's or a reset one's.
	Shown, ShownFor string
	Problem         string
}

func (u *UI) users(w http.ResponseWriter, r *http.Request) {
	u.renderUsers(w, r, usersView{}, http.StatusOK)
}

func (u *UI) renderUsers(w http.ResponseWriter, r *http.Request, v usersView, status int) {
	var l server.List[store.User]
	if err := u.api.get(r, "/api/v1/users", url.Values{"limit": {"1000"}, "sort": {"name"}}, &l); err != nil {
		u.failAPI(w, r, err)
		return
	}
	v.Users, v.Roles = l.Items, store.Roles
	pg := u.newPage(r, "users", "Users")
	pg.Data = v
	if v.Shown != "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	u.render(w, r, status, "users", pg)
}

// formRoles are the roles ticked in a form, in the store's order.
func formRoles(r *http.Request) ([]string, error) {
	// A body that does not parse must not read as "no role ticked".
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	got := r.PostForm["role"]
	return slices.DeleteFunc(slices.Clone(store.Roles), func(role string) bool { return !slices.Contains(got, role) }), nil
}

func (u *UI) createUser(w http.ResponseWriter, r *http.Request) {
	roles, err := formRoles(r)
	if err != nil {
		u.errorPage(w, r, http.StatusBadRequest, "The form did not arrive whole; send it again.")
		return
	}
	req := server.CreateUserRequest{Name: strings.TrimSpace(r.PostFormValue("name")),
		DisplayName: strings.TrimSpace(r.PostFormValue("display_name")), Roles: roles}
	var out server.CreatedUser
	if err := u.api.do(r, http.MethodPost, "/api/v1/users", nil, req, &out); err != nil {
		if isStatus(err, http.StatusBadRequest) || isStatus(err, http.StatusConflict) {
			u.renderUsers(w, r, usersView{Problem: "Not created: " + problemText(err)}, http.StatusBadRequest)
			return
		}
		u.failAPI(w, r, err)
		return
	}
	u.renderUsers(w, r, usersView{Shown: out.InitialPassword, ShownFor: out.User.Name}, http.StatusOK)
}

// updateUser changes an account's roles and whether it may sign in.
func (u *UI) updateUser(w http.ResponseWriter, r *http.Request) {
	roles, err := formRoles(r)
	if err != nil {
		u.errorPage(w, r, http.StatusBadRequest, "The form did not arrive whole; send it again.")
		return
	}
	disabled := r.PostFormValue("disabled") == "on"
	req := server.UpdateUserRequest{Roles: &roles, Disabled: &disabled}
	var out store.User
	if err := u.api.do(r, http.MethodPatch, "/api/v1/users/"+pathID(r.PathValue("id")), nil, req, &out); err != nil {
		if isStatus(err, http.StatusBadRequest) || isStatus(err, http.StatusConflict) {
			u.renderUsers(w, r, usersView{Problem: "Not changed: " + problemText(err)}, http.StatusConflict)
			return
		}
		u.failAPI(w, r, err)
		return
	}
	state := "may sign in"
	if out.Disabled {
		state = "may not sign in"
	}
	u.flashTo(w, r, "/users", "Saved: "+out.Name+" has the roles "+orNone(out.Roles)+" and "+state+".")
}

// resetPassword gives an account a new random password, shown once.
func (u *UI) resetPassword(w http.ResponseWriter, r *http.Request) {
	// A reset ends every session of the account: one's own would end the
	// session this page needs to show the new password, which would then
	// be lost. One's own password is changed knowing the current one.
	if p, ok := server.PrincipalFrom(r.Context()); ok && p.User.ID == r.PathValue("id") {
		u.errorPage(w, r, http.StatusBadRequest, "Change your own password on your account page (it asks for the current one); another administrator can reset it.")
		return
	}
	pw := rand.Text()
	var out store.User
	if err := u.api.do(r, http.MethodPatch, "/api/v1/users/"+pathID(r.PathValue("id")), nil, server.UpdateUserRequest{Password: &pw}, &out); err != nil {
		u.failAPI(w, r, err)
		return
	}
	u.renderUsers(w, r, usersView{Shown: pw, ShownFor: out.Name}, http.StatusOK)
}

func orNone(roles []string) string {
	if len(roles) == 0 {
		return "none"
	}
	return strings.Join(roles, ", ")
}
