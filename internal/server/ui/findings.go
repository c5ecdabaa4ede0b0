package ui

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
)

type findingsView struct {
	Items      []store.Finding
	Total      int64
	Next       string
	Error      string
	Here       string
	Filter     findingFilter
	States     []option
	Severities []option
	Sorts      []option
}

type findingFilter struct {
	State, Kind, Tag, Asset, Sort string
}

var findingSorts = []option{{Value: "", Label: "Severity, worst first"}, {Value: "-last_seen", Label: "Last seen, newest first"},
	{Value: "-count", Label: "Times seen, most first"}, {Value: "kind", Label: "Kind"}, {Value: "state", Label: "State"}}

func (u *UI) findings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := findingFilter{State: q.Get("state"), Kind: strings.TrimSpace(q.Get("kind")), Tag: strings.TrimSpace(q.Get("tag")), Asset: strings.TrimSpace(q.Get("asset")), Sort: q.Get("sort")}
	// No state asked: the open ones, which are what needs triage; an
	// empty state asks for every state.
	if _, ok := q["state"]; !ok {
		f.State = "open"
	}
	if f.State != "" && !slices.Contains(store.FindingStates, f.State) {
		f.State = "open"
	}
	if !slices.ContainsFunc(findingSorts, func(o option) bool { return o.Value == f.Sort }) {
		f.Sort = ""
	}
	v := findingsView{Filter: f, Here: r.URL.RequestURI()}
	aq := url.Values{"limit": {strconv.Itoa(pageSize)}, "total": {"true"}}
	for k, val := range map[string]string{"state": f.State, "kind": f.Kind, "tag": f.Tag, "asset": f.Asset, "sort": f.Sort, "cursor": q.Get("cursor")} {
		if val != "" {
			aq.Set(k, val)
		}
	}
	var sevs []string
	for _, s := range q["severity"] {
		if slices.Contains(store.Severities, s) && !slices.Contains(sevs, s) {
			sevs = append(sevs, s)
		}
	}
	if len(sevs) > 0 {
		aq["severity"] = sevs
	}
	for _, s := range slices.Backward(store.Severities) {
		v.Severities = append(v.Severities, option{Value: s, Label: s, Checked: slices.Contains(sevs, s)})
	}
	for _, s := range store.FindingStates {
		v.States = append(v.States, option{Value: s, Label: stateName(s), Checked: f.State == s})
	}
	v.States = append(v.States, option{Value: "", Label: "Any state", Checked: f.State == ""})
	for _, s := range findingSorts {
		s.Checked = s.Value == f.Sort
		v.Sorts = append(v.Sorts, s)
	}
	l, err := getList[store.Finding](&u.api, r, "/api/v1/findings", aq, q)
	if err != nil {
		u.failAPI(w, r, err)
		return
	}
	v.Items, v.Total, v.Next, v.Error = l.Items, derefTotal(l.Total), l.Next, l.Problem
	pg := u.newPage(r, "findings", "Findings")
	pg.Data = v
	u.render(w, r, listStatus(v.Error), "findings", pg)
}

type findingView struct {
	F     store.Finding
	Next  string
	Trail []auditRow
	// TrailError says why the trail could not be read (the user lacks
	// the audit permission, or the call failed).
	TrailError string
}

type auditRow struct {
	store.AuditRecord
	State, Comment string
}

func (u *UI) finding(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var f store.Finding
	if err := u.api.get(r, "/api/v1/findings/"+pathID(id), nil, &f); err != nil {
		u.failAPI(w, r, err)
		return
	}
	v := findingView{F: f, Next: r.URL.RequestURI()}
	pg := u.newPage(r, "findings", f.Title)
	if pg.CanAudit {
		var l server.List[store.AuditRecord]
		err := u.api.get(r, "/api/v1/audit", url.Values{"object_type": {"finding"}, "object_id": {f.ID}, "sort": {"-seq"}, "limit": {"100"}}, &l)
		if err != nil {
			v.TrailError = problemText(err)
		}
		for _, rec := range l.Items {
			row := auditRow{AuditRecord: rec}
			var after map[string]string
			if json.Unmarshal(rec.After, &after) == nil {
				row.State, row.Comment = after["state"], after["comment"]
			}
			v.Trail = append(v.Trail, row)
		}
	}
	pg.Data = v
	u.render(w, r, http.StatusOK, "finding", pg)
}

// flashCookie carries a one-time message across the redirect that
// follows a form post.
const flashCookie = "heir_ui_flash"

// triage takes the plain-HTML triage form (the script posts to the API
// itself) and passes the decision to the API as the user: the API checks
// the triage permission and writes the audit trail.
func (u *UI) triage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	state, comment := r.PostFormValue("state"), strings.TrimSpace(r.PostFormValue("comment"))
	if comment == "" {
		u.errorPage(w, r, http.StatusBadRequest, "Say why in the comment: the decision is kept in the audit trail with it.")
		return
	}
	var f store.Finding
	err := u.api.do(r, http.MethodPost, "/api/v1/findings/"+pathID(id)+"/triage", nil, server.TriageRequest{State: state, Comment: comment}, &f)
	if err != nil {
		u.failAPI(w, r, err)
		return
	}
	msg := "Saved: “" + f.Title + "” on " + endpoint(f.Endpoint) + " is now " + stateName(f.State) + "."
	u.flashTo(w, r, localPath(r.PostFormValue("next"))+"#finding-"+url.PathEscape(f.ID), msg)
}

// flashTo redirects after a form to a page that shows msg once.
func (u *UI) flashTo(w http.ResponseWriter, r *http.Request, to, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(msg)), Path: "/", MaxAge: 60,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// takeFlash reads and clears the one-time message.
func takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) > 1024 {
		return ""
	}
	return string(b)
}
