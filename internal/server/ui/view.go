package ui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
)

// page is what the layout reads; Data is the page's own view.
type page struct {
	Title       string
	Nav         string // the main-menu entry to mark current
	Site        string
	User        store.User
	Roles       string
	CSRF        string
	CanTriage   bool
	CanAudit    bool
	CanSettings bool
	CanUsers    bool
	CanSensors  bool
	Large       bool
	Refresh     int // seconds; 0: no automatic reload
	// Here is the page's own path and query, where forms come back to.
	Here  string
	Flash string
	Data  any
}

// displayCookie keeps the large-type (wall screen) preference.
const displayCookie = "heir_ui_display"

func (u *UI) newPage(r *http.Request, nav, title string) *page {
	pg := &page{Title: title, Nav: nav, Site: u.opts.Site, Here: r.URL.RequestURI(), CSRF: server.CSRFToken(r)}
	if p, ok := server.PrincipalFrom(r.Context()); ok {
		pg.User = p.User
		pg.Roles = strings.Join(p.User.Roles, ", ")
		pg.CanTriage = p.Can(auth.PermTriage)
		pg.CanAudit = p.Can(auth.PermAudit)
		pg.CanSettings = p.Can(auth.PermSettings)
		pg.CanUsers = p.Can(auth.PermUsers)
		pg.CanSensors = p.Can(auth.PermSensors)
	}
	if c, err := r.Cookie(displayCookie); err == nil && c.Value == "large" {
		pg.Large = true
	}
	return pg
}

// display sets or clears large type, then goes back where the form was.
func (u *UI) display(w http.ResponseWriter, r *http.Request) {
	v := "normal"
	if r.PostFormValue("large") == "on" {
		v = "large"
	}
	http.SetCookie(w, &http.Cookie{Name: displayCookie, Value: v, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

// localPath keeps a redirect on this node: a path, never another host.
func localPath(p string) string {
	if p == "" || len(p) > 2048 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	if u, err := url.Parse(p); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return p
}

func (u *UI) funcs() template.FuncMap {
	return template.FuncMap{
		"when":      u.when,
		"ago":       u.ago,
		"iso":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"day":       func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
		"num":       num,
		"pct":       func(x float64) string { return num(100*x, 0) + " %" },
		"conf":      func(x float64) string { return num(100*x, 0) + " %" },
		"epss":      func(x float64) string { return num(100*x, 2) + " %" },
		"toJSON":    toJSON,
		"bandLabel": bandLabel,
		"bandOf":    func(r *store.Risk) string { return riskBand(r) },
		"sevRank":   store.SeverityRank,
		"device":    deviceName,
		"endpoint":  endpoint,
		"join":      strings.Join,
		"taxName":   u.taxName,
		"tagLink":   func(t event.Tag) string { return "/threats/" + url.PathEscape(t.Taxonomy) + "/" + url.PathEscape(t.ID) },
		"stateName": stateName,
		"add":       func(a, b int) int { return a + b },
		"deref":     func(p *int64) int64 { return derefTotal(p) },
		"pathEsc":   url.PathEscape,
		"dict":      dict,
		"listTags":  listTags,
		"lower":     strings.ToLower,
		"hasPrefix": strings.HasPrefix,
		"has":       func(list []string, v string) bool { return slices.Contains(list, v) },
		"size":      size,
	}
}

func derefTotal(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

// when is a time in the node's zone, to the second.
func (u *UI) when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(u.loc).Format("2006-01-02 15:04:05 MST")
}

// ago says roughly how long before now t was.
func (u *UI) ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := u.now().Sub(t)
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// num formats x with up to d decimals, without trailing zeros.
func num(x float64, d int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "—"
	}
	s := fmt.Sprintf("%.*f", d, x)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// toJSON is a value for a data- attribute (html/template escapes it).
func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// bands in the order the pages list them: the worst first.
var bandOrder = []string{store.BandCritical, store.BandHigh, store.BandMedium, store.BandLow, "none"}

func bandLabel(b string) string {
	switch b {
	case store.BandCritical:
		return "Critical (90–100)"
	case store.BandHigh:
		return "High (70–89)"
	case store.BandMedium:
		return "Medium (40–69)"
	case store.BandLow:
		return "Low (0–39)"
	}
	return "Not scored"
}

func bandShort(b string) string {
	if b == "none" || b == "" {
		return "Not scored"
	}
	return strings.ToUpper(b[:1]) + b[1:]
}

// listTags are the tags a table row shows: ENISA and OWASP 2021, the
// lists the overview counts by; the finding's and alert's own pages show
// every tag.
func listTags(tags []event.Tag) []event.Tag {
	var out []event.Tag
	for _, t := range tags {
		if t.Taxonomy == event.TaxENISA || t.Taxonomy == event.TaxOWASP {
			out = append(out, t)
		}
	}
	return out
}

func riskBand(r *store.Risk) string {
	if r == nil || r.Band == "" {
		return "none"
	}
	return r.Band
}

// deviceName is what a person calls a device: its host name, else its
// first address, else its MAC, else its id.
func deviceName(a event.Asset) string {
	switch {
	case a.Hostname != "":
		return a.Hostname
	case len(a.IPs) > 0:
		return a.IPs[0].String()
	case a.MAC != "":
		return a.MAC
	}
	return a.ID
}

func endpoint(e event.Endpoint) string {
	if !e.IP.IsValid() {
		return "—"
	}
	if e.Port == 0 {
		return e.IP.String()
	}
	if e.IP.Is6() {
		return fmt.Sprintf("[%s]:%d", e.IP, e.Port)
	}
	return fmt.Sprintf("%s:%d", e.IP, e.Port)
}

func stateName(s string) string {
	switch s {
	case event.StateOpen:
		return "Open"
	case event.StateAccepted:
		return "Accepted risk"
	case event.StateFalsePositive:
		return "False positive"
	case event.StateFixed:
		return "Fixed"
	case store.VulnNotAffected:
		return "Not affected"
	}
	return s
}

// taxName is a taxonomy entry's published name ("" when unknown).
func (u *UI) taxName(tax, id string) string {
	if e, ok := u.tax.Lookup(tax, id); ok {
		return e.Name
	}
	return ""
}

// taxTitle is a taxonomy's short title for headings.
func taxTitle(tax string) string {
	switch tax {
	case event.TaxENISA:
		return "ENISA threat"
	case event.TaxOWASP:
		return "OWASP Top 10 (2021)"
	case event.TaxOWASP2025:
		return "OWASP Top 10 (2025)"
	case event.TaxOWASPIoT:
		return "OWASP IoT Top 10 (2018)"
	case event.TaxATTACK:
		return "MITRE ATT&CK"
	}
	return tax
}

// with returns q with key set to v (removed when v is empty), encoded,
// and without the page cursor: a changed filter or order starts again
// from the first page.
func with(q url.Values, kv ...string) string {
	c := url.Values{}
	for k, vs := range q {
		if k != "cursor" {
			c[k] = append([]string(nil), vs...)
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			c.Del(kv[i])
		} else {
			c.Set(kv[i], kv[i+1])
		}
	}
	if len(c) == 0 {
		return ""
	}
	return "?" + c.Encode()
}

// dict builds a map for a sub-template from key, value pairs.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// size writes a byte count for people: 980 B, 12.4 kB, 1.2 MB.
func size(n uint64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return num(float64(n)/1000, 1) + " kB"
	case n < 1000*1000*1000:
		return num(float64(n)/1e6, 1) + " MB"
	}
	return num(float64(n)/1e9, 1) + " GB"
}
