package ui

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/rama"
	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
)

// pageSize is how many rows a list page shows.
const pageSize = 50

type devicesView struct {
	Items   []store.Asset
	Total   int64
	Next    string
	Error   string
	Filter  deviceFilter
	Columns []column
	Roles   []string
	Bands   []bandOption
	Seen    []seenOption
}

type deviceFilter struct {
	Q, Role, Vendor, Model, Network, Seen string
}

type bandOption struct {
	Band, Label string
	Checked     bool
}

type seenOption struct {
	Value, Label string
	Selected     bool
}

// column is a sortable table header: its link and aria-sort state.
type column struct {
	Key, Label, Link, Sort string
	Numeric                bool
}

// seenWindows offer "last seen within".
var seenWindows = []struct {
	v string
	d time.Duration
	l string
}{{"1h", time.Hour, "the last hour"}, {"24h", 24 * time.Hour, "the last 24 hours"}, {"7d", 7 * 24 * time.Hour, "the last 7 days"}, {"30d", 30 * 24 * time.Hour, "the last 30 days"}}

// sortColumns builds headers for the keys: a click sorts by the column,
// a second click reverses it. Numbers and times start with the highest.
func sortColumns(q url.Values, current, def string, cols []column) []column {
	if current == "" {
		current = def
	}
	key, desc := strings.TrimPrefix(current, "-"), strings.HasPrefix(current, "-")
	for i := range cols {
		c := &cols[i]
		next := c.Key
		if c.Numeric {
			next = "-" + c.Key
		}
		if c.Key == key {
			c.Sort = "ascending"
			if desc {
				c.Sort = "descending"
				next = c.Key
			} else {
				next = "-" + c.Key
			}
		}
		c.Link = with(q, "sort", next)
		if c.Link == "" {
			c.Link = "?"
		}
	}
	return cols
}

func (u *UI) devices(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := deviceFilter{Q: q.Get("q"), Role: q.Get("role"), Vendor: q.Get("vendor"), Model: q.Get("model"), Network: q.Get("network"), Seen: q.Get("seen")}
	aq := url.Values{"limit": {strconv.Itoa(pageSize)}, "total": {"true"}}
	for k, v := range map[string]string{"q": f.Q, "role": f.Role, "vendor": f.Vendor, "model": f.Model, "network": f.Network, "cursor": q.Get("cursor"), "sort": q.Get("sort")} {
		if v = strings.TrimSpace(v); v != "" {
			aq.Set(k, v)
		}
	}
	var bands []string
	for _, b := range q["band"] {
		if slices.Contains(bandOrder, b) && !slices.Contains(bands, b) {
			bands = append(bands, b)
		}
	}
	if len(bands) > 0 {
		aq["band"] = bands
	}
	v := devicesView{Filter: f, Roles: u.roles}
	for _, s := range seenWindows {
		if f.Seen == s.v {
			aq.Set("seen_after", u.now().Add(-s.d).UTC().Format(time.RFC3339))
		}
		v.Seen = append(v.Seen, seenOption{Value: s.v, Label: s.l, Selected: f.Seen == s.v})
	}
	for _, b := range bandOrder {
		v.Bands = append(v.Bands, bandOption{Band: b, Label: bandLabel(b), Checked: slices.Contains(bands, b)})
	}
	v.Columns = sortColumns(q, q.Get("sort"), "-risk", []column{
		{Key: "name", Label: "Device"}, {Key: "role", Label: "Role"}, {Key: "vendor", Label: "Vendor"},
		{Key: "model", Label: "Model"}, {Key: "risk", Label: "RAMA", Numeric: true}, {Key: "last_seen", Label: "Last seen", Numeric: true},
	})
	l, err := getList[store.Asset](&u.api, r, "/api/v1/assets", aq, q)
	if err != nil {
		u.failAPI(w, r, err)
		return
	}
	v.Items, v.Total, v.Next, v.Error = l.Items, derefTotal(l.Total), l.Next, l.Problem
	pg := u.newPage(r, "devices", "Devices")
	pg.Data = v
	u.render(w, r, listStatus(v.Error), "devices", pg)
}

// deviceView is the device page.
type deviceView struct {
	D         server.AssetDetail
	Name      string
	Evidence  []event.Evidence
	Breakdown *rama.Breakdown
	// RawBreakdown is shown when the stored breakdown is not RAMA's
	// (another scorer's), so nothing is hidden.
	RawBreakdown string
	ItemsTotal   [2]float64 // inherent, residual points of the items
	Trend        chart
	Vulns        []vulnRow
	Next         string
}

// vulnRow is a matched vulnerability with the points RAMA gives it (from
// the device's breakdown; none when it does not count).
type vulnRow struct {
	store.Vulnerability
	Points  float64
	Counted bool
}

func (u *UI) device(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var d server.AssetDetail
	if err := u.api.get(r, "/api/v1/assets/"+pathID(id), nil, &d); err != nil {
		u.failAPI(w, r, err)
		return
	}
	v := deviceView{D: d, Name: deviceName(d.Asset.Asset), Evidence: slices.Clone(d.Asset.Evidence), Next: r.URL.RequestURI()}
	slices.SortStableFunc(v.Evidence, func(a, b event.Evidence) int {
		return cmp.Or(cmp.Compare(a.Attr, b.Attr), cmp.Compare(b.Confidence, a.Confidence))
	})
	if cur := d.Score.Current; cur != nil && len(cur.Breakdown) > 0 {
		var b rama.Breakdown
		if err := json.Unmarshal(cur.Breakdown, &b); err == nil && b.Type == rama.TypeBreakdown {
			v.Breakdown = &b
			for _, it := range b.Items {
				v.ItemsTotal[0] += it.Points
				v.ItemsTotal[1] += it.ResidualPoints
			}
		} else {
			v.RawBreakdown = string(cur.Breakdown)
		}
	}
	points := map[string]float64{}
	if v.Breakdown != nil {
		for _, it := range v.Breakdown.Items {
			if it.Kind == rama.KindVulnerability {
				points[it.Ref] += it.ResidualPoints
			}
		}
	}
	for _, x := range d.Vulnerabilities.Items {
		p, ok := points[x.CVE]
		v.Vulns = append(v.Vulns, vulnRow{Vulnerability: x, Points: p, Counted: ok})
	}
	v.Trend = chart{Kind: "line", Label: "RAMA score of " + v.Name + ", daily", Unit: "RAMA score", Max: 100, Marks: ramaMarks}
	s := chartSeries{Name: "RAMA"}
	for _, sc := range d.Score.Trend {
		v.Trend.Categories = append(v.Trend.Categories, sc.Day.UTC().Format(time.DateOnly))
		s.Data = append(s.Data, float64(sc.Score))
	}
	v.Trend.Series = []chartSeries{s}
	pg := u.newPage(r, "devices", v.Name)
	pg.Data = v
	u.render(w, r, http.StatusOK, "device", pg)
}
