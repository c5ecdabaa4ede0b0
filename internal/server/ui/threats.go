package ui

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
)

// threatLists are the catalogues with a page per category. The overview
// counts open findings for the first two.
var threatLists = []string{event.TaxENISA, event.TaxOWASP, event.TaxOWASP2025, event.TaxOWASPIoT}

type threatsView struct {
	Lists []threatList
}

type threatList struct {
	ID, Title, Name string
	Counted         bool
	Rows            []catRow
}

func (u *UI) threats(w http.ResponseWriter, r *http.Request) {
	var o server.Overview
	if err := u.api.get(r, "/api/v1/overview", url.Values{"riskiest": {"0"}, "window": {"24h"}, "days": {"1"}}, &o); err != nil {
		u.failAPI(w, r, err)
		return
	}
	var v threatsView
	for _, tax := range threatLists {
		t, _ := u.tax.Taxonomy(tax)
		counts, counted := o.OpenFindings[tax]
		by := map[string]int64{}
		for _, c := range counts {
			by[c.ID] = c.Count
		}
		l := threatList{ID: tax, Title: taxTitle(tax), Name: t.Name, Counted: counted}
		for _, e := range u.tax.Entries(tax) {
			l.Rows = append(l.Rows, catRow{ID: e.ID, Name: e.Name, Count: by[e.ID], Link: "/threats/" + url.PathEscape(tax) + "/" + url.PathEscape(e.ID)})
		}
		v.Lists = append(v.Lists, l)
	}
	pg := u.newPage(r, "threats", "Threats")
	pg.Data = v
	u.render(w, r, http.StatusOK, "threats", pg)
}

type threatView struct {
	Tax, ID, Name, Title, TaxName string
	Findings                      []store.Finding
	FindingsTotal                 int64
	Alerts                        []event.Alert
	AlertsTotal                   int64
	State                         string
	States                        []option
	Reasons                       []reasonRow
	Devices                       []deviceRef
	Chart                         chart
	Here                          string
}

type reasonRow struct {
	Reason string
	Count  int
}

type deviceRef struct {
	ID, Label string
	Findings  int
}

// threatItems bounds each list on a threat page; the lists link to the
// full, filtered ones.
const threatItems = 100

func (u *UI) threat(w http.ResponseWriter, r *http.Request) {
	tax, id := r.PathValue("tax"), r.PathValue("id")
	e, ok := u.tax.Lookup(tax, id)
	if !ok {
		u.errorPage(w, r, http.StatusNotFound, "heir knows no threat category "+tax+" "+id+".")
		return
	}
	t, _ := u.tax.Taxonomy(tax)
	tag := tax + ":" + e.ID
	state := r.URL.Query().Get("state")
	if _, set := r.URL.Query()["state"]; !set {
		state = event.StateOpen
	}
	if state != "" && !slices.Contains(store.FindingStates, state) {
		state = event.StateOpen
	}
	v := threatView{Tax: tax, ID: e.ID, Name: e.Name, Title: taxTitle(tax), TaxName: t.Name, State: state, Here: r.URL.RequestURI()}
	for _, s := range store.FindingStates {
		v.States = append(v.States, option{Value: s, Label: stateName(s), Checked: s == state})
	}
	v.States = append(v.States, option{Value: "", Label: "Any state", Checked: state == ""})
	fq := url.Values{"tag": {tag}, "limit": {strconv.Itoa(threatItems)}, "total": {"true"}}
	if state != "" {
		fq.Set("state", state)
	}
	var fl server.List[store.Finding]
	if err := u.api.get(r, "/api/v1/findings", fq, &fl); err != nil {
		u.failAPI(w, r, err)
		return
	}
	var al server.List[event.Alert]
	if err := u.api.get(r, "/api/v1/alerts", url.Values{"tag": {tag}, "limit": {strconv.Itoa(threatItems)}, "total": {"true"}}, &al); err != nil {
		u.failAPI(w, r, err)
		return
	}
	v.Findings, v.FindingsTotal = fl.Items, derefTotal(fl.Total)
	v.Alerts, v.AlertsTotal = al.Items, derefTotal(al.Total)

	// Why these were tagged: the reasons the tags carry, most common
	// first; and the devices the findings are on.
	reasons := map[string]int{}
	devs := map[string]*deviceRef{}
	note := func(tags []event.Tag) {
		for _, tg := range tags {
			if tg.Taxonomy == tax && tg.ID == e.ID && tg.Reason != "" {
				reasons[tg.Reason]++
			}
		}
	}
	for _, f := range v.Findings {
		note(f.Tags)
		if f.Asset != "" {
			d := devs[f.Asset]
			if d == nil {
				d = &deviceRef{ID: f.Asset, Label: endpoint(event.Endpoint{IP: f.Endpoint.IP})}
				devs[f.Asset] = d
			}
			d.Findings++
		}
	}
	for _, a := range v.Alerts {
		note(a.Tags)
	}
	for k, n := range reasons {
		v.Reasons = append(v.Reasons, reasonRow{k, n})
	}
	slices.SortFunc(v.Reasons, func(a, b reasonRow) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	for _, d := range devs {
		v.Devices = append(v.Devices, *d)
	}
	slices.SortFunc(v.Devices, func(a, b deviceRef) int {
		return cmp.Or(cmp.Compare(b.Findings, a.Findings), cmp.Compare(a.Label, b.Label))
	})

	// What heir saw, by severity: findings and alerts side by side.
	v.Chart = chart{Kind: "bar", Label: "Findings and alerts tagged " + tax + " " + e.ID + ", by severity (as listed on this page)", Unit: "items"}
	fs, as := chartSeries{Name: "Findings"}, chartSeries{Name: "Alerts"}
	for _, s := range slices.Backward(store.Severities) {
		v.Chart.Categories = append(v.Chart.Categories, s)
		var nf, na float64
		for _, f := range v.Findings {
			if f.Severity == s {
				nf++
			}
		}
		for _, a := range v.Alerts {
			if a.Severity == s {
				na++
			}
		}
		fs.Data, as.Data = append(fs.Data, nf), append(as.Data, na)
	}
	v.Chart.Series = []chartSeries{fs, as}
	pg := u.newPage(r, "threats", taxTitle(tax)+" "+e.ID+" · "+e.Name)
	pg.Data = v
	u.render(w, r, http.StatusOK, "threat", pg)
}
