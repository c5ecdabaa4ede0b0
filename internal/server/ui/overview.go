package ui

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/rama"
	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
)

type overviewView struct {
	O       server.Overview
	Window  string
	Windows []string
	// Hospital is the Local RAMA's breakdown, when the stored score has
	// one in rama.Hospital's shape.
	Hospital *rama.Hospital
	Trend    chart
	Bands    []bandRow
	BandsC   chart
	Taxa     []taxView
	Alerts   alertsOverTime
}

type bandRow struct {
	Band, Label, Link string
	Count             int64
}

type taxView struct {
	ID, Name string
	Rows     []catRow
	Chart    chart
	Total    int64
}

type catRow struct {
	ID, Name, Link string
	Count          int64
}

type alertsOverTime struct {
	Chart  chart
	Rows   []store.AlertBucket // non-empty buckets, newest first
	Total  int64
	Bucket string
}

var alertWindows = []string{"24h", "7d", "30d"}

func (u *UI) overview(w http.ResponseWriter, r *http.Request) {
	win := r.URL.Query().Get("window")
	if !slices.Contains(alertWindows, win) {
		win = "7d"
	}
	var o server.Overview
	if err := u.api.get(r, "/api/v1/overview", url.Values{"window": {win}, "days": {"30"}, "riskiest": {"10"}}, &o); err != nil {
		u.failAPI(w, r, err)
		return
	}
	v := overviewView{O: o, Window: win, Windows: alertWindows}
	if o.LocalRAMA.Current != nil && len(o.LocalRAMA.Current.Breakdown) > 0 {
		var h rama.Hospital
		if json.Unmarshal(o.LocalRAMA.Current.Breakdown, &h) == nil && h.Devices > 0 {
			v.Hospital = &h
		}
	}
	v.Trend = chart{Kind: "line", Label: "Local RAMA, daily, last 30 days", Unit: "RAMA score", Max: 100, Marks: ramaMarks}
	s := chartSeries{Name: "Local RAMA"}
	for _, sc := range o.LocalRAMA.Trend {
		v.Trend.Categories = append(v.Trend.Categories, sc.Day.UTC().Format(time.DateOnly))
		s.Data = append(s.Data, float64(sc.Score))
	}
	v.Trend.Series = []chartSeries{s}

	v.BandsC = chart{Kind: "bar", Label: "Devices per risk band", Unit: "devices"}
	bs := chartSeries{Name: "Devices"}
	for _, b := range bandOrder {
		row := bandRow{Band: b, Label: bandLabel(b), Count: o.DevicesByBand[b], Link: "/devices?band=" + b}
		v.Bands = append(v.Bands, row)
		// The chart's axis has room for the band's name only; the data
		// table gives its range.
		v.BandsC.Categories = append(v.BandsC.Categories, bandShort(b))
		v.BandsC.Links = append(v.BandsC.Links, row.Link)
		bs.Data = append(bs.Data, float64(row.Count))
		bs.Tones = append(bs.Tones, b)
	}
	v.BandsC.Series = []chartSeries{bs}

	for _, tax := range []string{event.TaxENISA, event.TaxOWASP} {
		tv := taxView{ID: tax, Name: o.Taxonomies[tax]}
		if tv.Name == "" {
			tv.Name = taxTitle(tax)
		}
		tv.Chart = chart{Kind: "hbar", Label: "Open findings per " + taxTitle(tax) + " category", Unit: "open findings"}
		cs := chartSeries{Name: "Open findings"}
		for _, c := range o.OpenFindings[tax] {
			link := "/threats/" + url.PathEscape(tax) + "/" + url.PathEscape(c.ID)
			tv.Rows = append(tv.Rows, catRow{ID: c.ID, Name: c.Name, Count: c.Count, Link: link})
			tv.Chart.Categories = append(tv.Chart.Categories, c.ID+" "+c.Name)
			tv.Chart.Links = append(tv.Chart.Links, link)
			cs.Data = append(cs.Data, float64(c.Count))
			tv.Total += c.Count
		}
		tv.Chart.Series = []chartSeries{cs}
		v.Taxa = append(v.Taxa, tv)
	}
	v.Alerts = alertChart(o.Alerts, u.loc)
	pg := u.newPage(r, "overview", "Overview")
	if pg.Large && u.opts.WallRefresh > 0 {
		pg.Refresh = int(u.opts.WallRefresh / time.Second)
	}
	pg.Data = v
	u.render(w, r, http.StatusOK, "overview", pg)
}

// alertChart lays the histogram's buckets on a full time axis (empty
// buckets included, so that quiet hours show as quiet) with one stacked
// series per category, the busiest first.
func alertChart(h server.AlertHistogram, loc *time.Location) alertsOverTime {
	step := time.Hour
	if h.Bucket == "1d" {
		step = 24 * time.Hour
	}
	out := alertsOverTime{Bucket: h.Bucket}
	c := chart{Kind: "stack", Label: "Alerts over time, per category, one bar per " + map[bool]string{true: "day", false: "hour"}[step == 24*time.Hour], Unit: "alerts"}
	index := map[time.Time]int{}
	layout := "01-02 15:04"
	if step == 24*time.Hour {
		layout = "2006-01-02"
	}
	for t, i := h.From, 0; t.Before(h.To) && i < 2000; t, i = t.Add(step), i+1 {
		index[t.UTC()] = i
		c.Categories = append(c.Categories, t.In(loc).Format(layout))
	}
	totals := map[string]int64{}
	for _, b := range h.Buckets {
		totals[b.Category] += b.Count
		out.Total += b.Count
	}
	cats := make([]string, 0, len(totals))
	for k := range totals {
		cats = append(cats, k)
	}
	slices.SortFunc(cats, func(a, b string) int { return cmp.Or(cmp.Compare(totals[b], totals[a]), cmp.Compare(a, b)) })
	series := map[string]*chartSeries{}
	for _, k := range cats {
		series[k] = &chartSeries{Name: k, Data: make([]float64, len(c.Categories))}
	}
	for _, b := range h.Buckets {
		if i, ok := index[b.Start.UTC()]; ok {
			series[b.Category].Data[i] += float64(b.Count)
		}
	}
	for _, k := range cats {
		c.Series = append(c.Series, *series[k])
	}
	out.Rows = slices.Clone(h.Buckets)
	slices.SortFunc(out.Rows, func(a, b store.AlertBucket) int {
		return cmp.Or(b.Start.Compare(a.Start), cmp.Compare(b.Count, a.Count), cmp.Compare(a.Category, b.Category))
	})
	out.Chart = c
	return out
}
