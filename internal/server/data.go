package server

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

// Overview is the dashboard: the hospital's Local RAMA now and its trend,
// devices per risk band, open findings per ENISA and OWASP category,
// alerts over time, and the riskiest devices.
type Overview struct {
	Generated     time.Time                  `json:"generated"`
	LocalRAMA     RAMATrend                  `json:"local_rama"`
	DevicesByBand map[string]int64           `json:"devices_by_band"`
	Devices       int64                      `json:"devices"`
	OpenFindings  map[string][]CategoryCount `json:"open_findings"`
	Alerts        AlertHistogram             `json:"alerts"`
	Riskiest      []store.Asset              `json:"riskiest"`
	Taxonomies    map[string]string          `json:"taxonomies"`
}

// RAMATrend is a subject's latest score and its daily history.
type RAMATrend struct {
	// Current is the latest score in the range (absent before the first).
	Current *store.Score  `json:"current,omitempty"`
	Trend   []store.Score `json:"trend"`
}

// CategoryCount is the number of open findings in one taxonomy category.
type CategoryCount struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// AlertHistogram is alert counts per time bucket and category.
type AlertHistogram struct {
	From    time.Time           `json:"from"`
	To      time.Time           `json:"to"`
	Bucket  string              `json:"bucket"`
	Buckets []store.AlertBucket `json:"buckets"`
}

// overviewTaxonomies are the catalogues the overview counts findings by.
var overviewTaxonomies = []string{event.TaxENISA, event.TaxOWASP}

// windows the alert histogram offers, with their bucket widths.
var windows = map[string]time.Duration{"24h": time.Hour, "7d": time.Hour, "30d": 24 * time.Hour}

func windowLength(w string) time.Duration {
	switch w {
	case "24h":
		return 24 * time.Hour
	case "7d":
		return 7 * 24 * time.Hour
	}
	return 30 * 24 * time.Hour
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	days := p.integer("days", 30, 1, 366)
	window := p.str("window")
	if window == "" {
		window = "7d"
	}
	if _, ok := windows[window]; !ok {
		p.bad("window", "want 24h, 7d or 30d")
		window = "7d"
	}
	top := p.integer("riskiest", 10, 0, 100)
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now().UTC()
	bucket := windows[window]
	to := now.Truncate(bucket).Add(bucket)
	o := Overview{Generated: now, OpenFindings: map[string][]CategoryCount{}, Taxonomies: map[string]string{},
		Alerts: AlertHistogram{From: to.Add(-windowLength(window)), To: to, Bucket: bucketName(bucket)}}
	counts := make([][]store.TagCount, len(overviewTaxonomies))
	// The parts are independent queries; running them at once keeps the
	// page's latency near the slowest one's rather than their sum.
	g, ctx := errgroup.WithContext(r.Context())
	g.Go(func() error {
		t, err := s.trend(ctx, store.ScoreHospital, s.opts.Site, now, days)
		o.LocalRAMA = t
		return err
	})
	g.Go(func() error {
		m, err := s.st.CountAssetsByBand(ctx)
		o.DevicesByBand = map[string]int64{"none": 0}
		for _, b := range store.Bands {
			o.DevicesByBand[b] = 0
		}
		for k, v := range m {
			if k == store.BandNone {
				k = "none"
			}
			o.DevicesByBand[k] += v
			o.Devices += v
		}
		return err
	})
	for i, tax := range overviewTaxonomies {
		g.Go(func() error {
			c, err := s.st.CountFindingsByTag(ctx, store.TagCountQuery{Taxonomy: tax})
			counts[i] = c
			return err
		})
	}
	g.Go(func() error {
		b, err := s.st.AlertHistogram(ctx, store.HistogramQuery{From: o.Alerts.From, To: o.Alerts.To, Bucket: bucket})
		o.Alerts.Buckets = b
		return err
	})
	if top > 0 {
		g.Go(func() error {
			// The default order is by risk, highest first; unscored
			// devices come last and are left out.
			pg, err := s.st.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Limit: top}, Brief: true})
			for _, a := range pg.Items {
				if a.Risk != nil {
					o.Riskiest = append(o.Riskiest, a)
				}
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		s.fail(w, r, err)
		return
	}
	for i, tax := range overviewTaxonomies {
		o.OpenFindings[tax] = s.categories(tax, counts[i])
		if t, ok := s.tax.Taxonomy(tax); ok {
			o.Taxonomies[tax] = t.Name
		}
	}
	if o.Riskiest == nil {
		o.Riskiest = []store.Asset{}
	}
	if o.Alerts.Buckets == nil {
		o.Alerts.Buckets = []store.AlertBucket{}
	}
	writeJSON(w, http.StatusOK, o)
}

func bucketName(d time.Duration) string {
	if d == 24*time.Hour {
		return "1d"
	}
	return "1h"
}

// categories lists every category of a taxonomy in its published order
// with its count (zero included, so charts have stable axes), then any
// tag the catalogue does not know.
func (s *Server) categories(tax string, counts []store.TagCount) []CategoryCount {
	by := map[string]int64{}
	for _, c := range counts {
		by[c.ID] += c.Count
	}
	var out []CategoryCount
	for _, e := range s.tax.Entries(tax) {
		out = append(out, CategoryCount{ID: e.ID, Name: e.Name, Count: by[e.ID]})
		delete(by, e.ID)
	}
	var rest []CategoryCount
	for id, n := range by {
		rest = append(rest, CategoryCount{ID: id, Name: id, Count: n})
	}
	slices.SortFunc(rest, func(a, b CategoryCount) int { return strings.Compare(a.ID, b.ID) })
	return append(out, rest...)
}

// trend reads a subject's scores over the last days up to now.
func (s *Server) trend(ctx context.Context, kind store.ScoreKind, subject string, now time.Time, days int) (RAMATrend, error) {
	to := store.Day(now)
	ss, err := s.st.ScoreTrend(ctx, kind, subject, to.AddDate(0, 0, -(days-1)), to)
	t := RAMATrend{Trend: ss}
	if t.Trend == nil {
		t.Trend = []store.Score{}
	}
	if len(ss) > 0 {
		c := ss[len(ss)-1]
		t.Current = &c
	}
	return t, err
}

func (s *Server) listAssets(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.AssetQuery{
		ListOptions: p.listOptions(store.AssetSortKeys),
		Roles:       p.list("role", nil),
		Vendors:     p.list("vendor", nil),
		Models:      p.list("model", nil),
		Bands:       p.list("band", validBand),
		Network:     p.prefix("network"),
		SeenAfter:   p.time("seen_after"),
		SeenBefore:  p.time("seen_before"),
		Text:        p.str("q"),
		// Evidence and top peers are for the device page; a list stays
		// light, and the store does not even decode them.
		Brief: true,
	}
	for i, b := range q.Bands {
		if b == "none" {
			q.Bands[i] = store.BandNone
		}
	}
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	pg, err := s.st.ListAssets(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, r, listOf(pg))
}

// AssetDetail is the device page: the device with its evidence, services
// and peers, its findings, its vulnerabilities (most severe first), the
// alerts it took part in, and its score with the breakdown.
type AssetDetail struct {
	Asset           store.Asset               `json:"asset"`
	Findings        List[store.Finding]       `json:"findings"`
	Vulnerabilities List[store.Vulnerability] `json:"vulnerabilities"`
	Alerts          List[event.Alert]         `json:"alerts"`
	Score           RAMATrend                 `json:"score"`
}

// Bounds of the device page's lists (the full lists are a filter away).
const (
	assetFindings = 100
	assetVulns    = 100
	assetAlerts   = 20
	assetMaxIPs   = 8
	assetDays     = 30
)

func (s *Server) getAsset(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx := r.Context()
	a, err := s.st.Asset(ctx, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := AssetDetail{Asset: a}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		pg, err := s.st.ListFindings(gctx, store.FindingQuery{Asset: a.ID, ListOptions: store.ListOptions{Limit: assetFindings, WithTotal: true}})
		d.Findings = listOf(pg)
		return err
	})
	g.Go(func() error {
		pg, err := s.st.ListVulnerabilities(gctx, store.VulnQuery{Assets: []string{a.ID}, ListOptions: store.ListOptions{Limit: assetVulns, WithTotal: true}})
		d.Vulnerabilities = listOf(pg)
		return err
	})
	ips := a.IPs[:min(len(a.IPs), assetMaxIPs)]
	pages := make([]store.Page[event.Alert], len(ips))
	for i, ip := range ips {
		g.Go(func() error {
			var err error
			pages[i], err = s.st.ListAlerts(gctx, store.AlertQuery{IP: ip, ListOptions: store.ListOptions{Limit: assetAlerts, WithTotal: true}})
			return err
		})
	}
	g.Go(func() error {
		// Anchor the trend on the device's latest score, not on today: a
		// device gone quiet still shows the history that explains it.
		anchor := s.now()
		if a.Risk != nil {
			anchor = a.Risk.Day
		}
		t, err := s.trend(gctx, store.ScoreDevice, a.ID, anchor, assetDays)
		d.Score = t
		return err
	})
	if err := g.Wait(); err != nil {
		s.fail(w, r, err)
		return
	}
	d.Alerts = mergeAlerts(pages, assetAlerts)
	writeJSON(w, http.StatusOK, d)
}

// mergeAlerts joins the first pages of a device's addresses, newest
// first, without duplicates. The total is the sum of the addresses'
// totals (an alert between two addresses of one device counts twice).
func mergeAlerts(pages []store.Page[event.Alert], limit int) List[event.Alert] {
	seen := map[string]bool{}
	var items []event.Alert
	var total int64
	for _, pg := range pages {
		total += max(pg.Total, 0)
		for _, a := range pg.Items {
			if !seen[a.ID] {
				seen[a.ID] = true
				items = append(items, a)
			}
		}
	}
	slices.SortFunc(items, func(a, b event.Alert) int {
		return cmp.Or(b.Start.Compare(a.Start), strings.Compare(b.ID, a.ID))
	})
	if len(items) > limit {
		items = items[:limit]
	}
	if items == nil {
		items = []event.Alert{}
	}
	return List[event.Alert]{Items: items, Total: &total}
}

func (s *Server) listFindings(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.FindingQuery{
		ListOptions: p.listOptions(store.FindingSortKeys),
		States:      p.list("state", validState),
		Severities:  p.list("severity", validSeverity),
		Kinds:       p.list("kind", nil),
		Asset:       p.str("asset"),
		Tags:        p.tags("tag"),
		SeenAfter:   p.time("seen_after"),
		SeenBefore:  p.time("seen_before"),
	}
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	pg, err := s.st.ListFindings(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, r, listOf(pg))
}

func (s *Server) getFinding(w http.ResponseWriter, r *http.Request) {
	if err := newParams(r).done(); err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := s.st.Finding(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

// TriageRequest is an analyst's decision on a finding.
type TriageRequest struct {
	// State is open (reopen), accepted, false-positive or fixed.
	State   string `json:"state"`
	Comment string `json:"comment"`
	// Reason is recorded in the audit trail only.
	Reason string `json:"reason,omitempty"`
}

const maxComment = 4096

func (s *Server) triageFinding(w http.ResponseWriter, r *http.Request) {
	var req TriageRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	switch {
	case validState(req.State) != nil:
		s.fail(w, r, badInput("state", "want one of %s", strings.Join(store.FindingStates, ", ")))
		return
	case len(req.Comment) > maxComment:
		s.fail(w, r, badInput("comment", "at most %d bytes", maxComment))
		return
	case len(req.Reason) > maxComment:
		s.fail(w, r, badInput("reason", "at most %d bytes", maxComment))
		return
	}
	p, _ := PrincipalFrom(r.Context())
	f, err := s.st.TriageFinding(r.Context(), store.Triage{ID: r.PathValue("id"), State: req.State, Comment: req.Comment, Actor: p.Actor(), Reason: req.Reason})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) listVulnerabilities(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.VulnQuery{
		ListOptions: p.listOptions(store.VulnSortKeys),
		Assets:      p.list("asset", nil),
		CVEs:        p.list("cve", nil),
		Statuses:    p.list("status", validVulnStat),
		KEV:         p.boolean("kev"),
		MinCVSS:     p.number("min_cvss", 0, 10),
		MinEPSS:     p.number("min_epss", 0, 1),
	}
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	pg, err := s.st.ListVulnerabilities(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, r, listOf(pg))
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.AlertQuery{
		ListOptions: p.listOptions(store.AlertSortKeys),
		Categories:  p.list("category", nil),
		Severities:  p.list("severity", validSeverity),
		Rules:       p.list("rule", nil),
		IP:          p.addr("ip"),
		Tags:        p.tags("tag"),
		Since:       p.time("since"),
		Until:       p.time("until"),
	}
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	pg, err := s.st.ListAlerts(r.Context(), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeList(w, r, listOf(pg))
}

func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) {
	if err := newParams(r).done(); err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.st.Alert(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// ScoreHistory is a subject's daily scores in a range, oldest first.
type ScoreHistory struct {
	Kind    store.ScoreKind `json:"kind"`
	Subject string          `json:"subject"`
	From    time.Time       `json:"from"`
	To      time.Time       `json:"to"`
	Items   []store.Score   `json:"items"`
}

// maxScoreDays bounds a score history: a year and a bit, 400 rows.
const maxScoreDays = 400

func (s *Server) scoreHistory(w http.ResponseWriter, r *http.Request, kind store.ScoreKind, subject string) {
	p := newParams(r)
	to, from := p.time("to"), p.time("from")
	if err := p.done(); err != nil {
		s.fail(w, r, err)
		return
	}
	if to.IsZero() {
		to = s.now()
	}
	to = store.Day(to)
	if from.IsZero() {
		from = to.AddDate(0, 0, -29)
	}
	from = store.Day(from)
	switch {
	case from.After(to):
		s.fail(w, r, badInput("from", "must not be after to"))
		return
	case to.Sub(from) > maxScoreDays*24*time.Hour:
		s.fail(w, r, badInput("from", "the range may span at most %d days", maxScoreDays))
		return
	}
	ss, err := s.st.ScoreTrend(r.Context(), kind, subject, from, to)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ss == nil {
		ss = []store.Score{}
	}
	writeJSON(w, http.StatusOK, ScoreHistory{Kind: kind, Subject: subject, From: from, To: to, Items: ss})
}

func (s *Server) hospitalScores(w http.ResponseWriter, r *http.Request) {
	s.scoreHistory(w, r, store.ScoreHospital, s.opts.Site)
}

func (s *Server) assetScores(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.st.Asset(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.scoreHistory(w, r, store.ScoreDevice, id)
}
