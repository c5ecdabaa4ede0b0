package ui

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

// alertPage is how many alerts the alerts page reads and groups.
const alertPage = 200

type alertsView struct {
	Items  []event.Alert
	Total  int64
	Next   string
	Error  string
	Filter alertFilter
	Group  string
	Groups []alertGroup
	// GroupBy are the grouping choices, Severities the severity boxes.
	GroupBy    []option
	Severities []option
	Seen       []seenOption
	Live       liveFilter
	// Stream is the live stream's URL with the filters it applies
	// itself; Live holds those the page applies to each alert.
	Stream string
}

type alertFilter struct {
	Category, Rule, IP, Tag, Seen string
}

type option struct {
	Value, Label string
	Checked      bool
}

// alertGroup is the alerts of one rule, category or source.
type alertGroup struct {
	Key, Label, Link string
	Alerts           int
	Events           uint64
	Severity         string
	Latest           time.Time
}

// liveFilter is what live.js checks on each streamed alert (the stream
// filters only severity and category).
type liveFilter struct {
	Group string `json:"group"`
	Rule  string `json:"rule,omitempty"`
	IP    string `json:"ip,omitempty"`
	Tag   string `json:"tag,omitempty"`
}

var groupChoices = []option{{Value: "category", Label: "Category"}, {Value: "rule", Label: "Rule"}, {Value: "source", Label: "Source"}, {Value: "none", Label: "No grouping"}}

func (u *UI) alerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := alertFilter{Category: strings.TrimSpace(q.Get("category")), Rule: strings.TrimSpace(q.Get("rule")), IP: strings.TrimSpace(q.Get("ip")), Tag: strings.TrimSpace(q.Get("tag")), Seen: q.Get("seen")}
	group := q.Get("group")
	if !slices.ContainsFunc(groupChoices, func(o option) bool { return o.Value == group }) {
		group = "category"
	}
	v := alertsView{Filter: f, Group: group, Live: liveFilter{Group: group, Rule: f.Rule, IP: f.IP, Tag: f.Tag}}
	aq := url.Values{"limit": {strconv.Itoa(alertPage)}, "total": {"true"}}
	sq := url.Values{}
	for k, val := range map[string]string{"category": f.Category, "rule": f.Rule, "ip": f.IP, "tag": f.Tag, "cursor": q.Get("cursor")} {
		if val != "" {
			aq.Set(k, val)
		}
	}
	if f.Category != "" {
		sq.Set("category", f.Category)
	}
	var sevs []string
	for _, s := range q["severity"] {
		if slices.Contains(store.Severities, s) && !slices.Contains(sevs, s) {
			sevs = append(sevs, s)
		}
	}
	if len(sevs) > 0 {
		aq["severity"], sq["severity"] = sevs, sevs
	}
	for _, s := range slices.Backward(store.Severities) {
		v.Severities = append(v.Severities, option{Value: s, Label: s, Checked: slices.Contains(sevs, s)})
	}
	for _, g := range groupChoices {
		g.Checked = g.Value == group
		v.GroupBy = append(v.GroupBy, g)
	}
	for _, s := range seenWindows {
		if f.Seen == s.v {
			aq.Set("since", u.now().Add(-s.d).UTC().Format(time.RFC3339))
		}
		v.Seen = append(v.Seen, seenOption{Value: s.v, Label: s.l, Selected: f.Seen == s.v})
	}
	v.Stream = "/api/v1/alerts/stream"
	if len(sq) > 0 {
		v.Stream += "?" + sq.Encode()
	}
	l, err := getList[event.Alert](&u.api, r, "/api/v1/alerts", aq, q)
	if err != nil {
		u.failAPI(w, r, err)
		return
	}
	v.Items, v.Total, v.Next, v.Error = l.Items, derefTotal(l.Total), l.Next, l.Problem
	if group != "none" {
		v.Groups = groupAlerts(v.Items, group, q)
	}
	pg := u.newPage(r, "alerts", "Alerts")
	pg.Data = v
	u.render(w, r, listStatus(v.Error), "alerts", pg)
}

// groupKey is an alert's group under by.
func groupKey(a *event.Alert, by string) string {
	switch by {
	case "rule":
		return a.Rule
	case "source":
		if a.Source.IP.IsValid() {
			return a.Source.IP.String()
		}
		return "unknown"
	}
	return a.Category
}

// groupAlerts gathers alerts by rule, category or source, the group with
// the most severe and then most recent alert first. Each group links to
// the list filtered to it.
func groupAlerts(items []event.Alert, by string, q url.Values) []alertGroup {
	idx := map[string]int{}
	var out []alertGroup
	param := map[string]string{"rule": "rule", "category": "category", "source": "ip"}[by]
	for i := range items {
		a := &items[i]
		k := groupKey(a, by)
		j, ok := idx[k]
		if !ok {
			j = len(out)
			idx[k] = j
			out = append(out, alertGroup{Key: k, Label: k, Link: "/alerts" + with(q, param, k, "group", "none")})
		}
		g := &out[j]
		g.Alerts++
		g.Events += a.Count
		if store.SeverityRank(a.Severity) > store.SeverityRank(g.Severity) {
			g.Severity = a.Severity
		}
		if a.Start.After(g.Latest) {
			g.Latest = a.Start
		}
	}
	slices.SortFunc(out, func(a, b alertGroup) int {
		return cmp.Or(cmp.Compare(store.SeverityRank(b.Severity), store.SeverityRank(a.Severity)), b.Latest.Compare(a.Latest), cmp.Compare(a.Key, b.Key))
	})
	return out
}

type alertView struct {
	A event.Alert
}

func (u *UI) alert(w http.ResponseWriter, r *http.Request) {
	var a event.Alert
	if err := u.api.get(r, "/api/v1/alerts/"+pathID(r.PathValue("id")), nil, &a); err != nil {
		u.failAPI(w, r, err)
		return
	}
	pg := u.newPage(r, "alerts", a.Title)
	pg.Data = alertView{A: a}
	u.render(w, r, http.StatusOK, "alert", pg)
}
