package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/heir-emd/heir/internal/server"
)

// settingsView is the settings page: the RAMA weights in force, where they
// come from, and, for administrators, the form that changes them.
type settingsView struct {
	server.RAMASettings
	// Draft is the document in the form: the one in force, or the one an
	// administrator sent that the node refused (with Problem saying why),
	// so that a typo costs no retyping.
	Draft   string
	Problem string
	CanEdit bool
}

func (u *UI) settings(w http.ResponseWriter, r *http.Request) {
	u.renderSettings(w, r, "", "", http.StatusOK)
}

func (u *UI) renderSettings(w http.ResponseWriter, r *http.Request, draft, problem string, status int) {
	var v settingsView
	if err := u.api.get(r, "/api/v1/settings/rama", nil, &v.RAMASettings); err != nil {
		u.failAPI(w, r, err)
		return
	}
	v.Draft, v.Problem = v.YAML, problem
	if problem != "" {
		v.Draft = draft
	}
	pg := u.newPage(r, "settings", "Settings")
	v.CanEdit = pg.CanSettings
	pg.Data = v
	u.render(w, r, status, "settings", pg)
}

// saveSettings sends the form's document to the API. A document the node
// refuses comes back in the form with the reason (its key and line).
func (u *UI) saveSettings(w http.ResponseWriter, r *http.Request) {
	version, err := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if err != nil {
		u.errorPage(w, r, http.StatusBadRequest, "The form lost the version it was read at; open Settings again.")
		return
	}
	draft := r.PostFormValue("yaml")
	var out server.RAMASettings
	switch err := u.api.do(r, http.MethodPut, "/api/v1/settings/rama", nil, server.RAMASettingsRequest{Version: version, YAML: draft}, &out); {
	case err == nil:
		u.flashTo(w, r, "/settings", "Saved: version "+strconv.FormatInt(out.Version, 10)+" of the RAMA weights; the next scoring run uses it.")
	case isStatus(err, http.StatusBadRequest):
		u.renderSettings(w, r, draft, problemText(err), http.StatusBadRequest)
	case isStatus(err, http.StatusConflict):
		u.renderSettings(w, r, draft, "Someone changed the weights since this page was opened: the form now shows theirs in force above; your text is kept below. Merge and save again.", http.StatusConflict)
	default:
		u.failAPI(w, r, err)
	}
}

// resetSettings removes the stored document: the node's file or the
// shipped defaults apply again.
func (u *UI) resetSettings(w http.ResponseWriter, r *http.Request) {
	version := r.PostFormValue("version")
	if err := u.api.do(r, http.MethodDelete, "/api/v1/settings/rama", url.Values{"version": {version}}, nil, nil); err != nil {
		u.failAPI(w, r, err)
		return
	}
	u.flashTo(w, r, "/settings", "Reset: the node's own RAMA weights apply again from the next scoring run.")
}

func isStatus(err error, status int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == status
}
