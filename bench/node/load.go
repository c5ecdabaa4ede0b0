package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/storetest"
)

// The three pages the node must serve within budget.
const (
	epOverview = "overview"
	epList     = "device list"
	epDevice   = "device page"
)

// request is one API call of the mix.
type request struct {
	endpoint string // epOverview, epList, epDevice
	variant  string // the list's filter, the device's kind, "" for the overview
	path     string
	// check looks at a 200 answer's body cheaply (no decoding: the
	// client shares the machine's two cores with the server).
	check func(body []byte) error
}

// listVariant is one device list the mix asks for.
type listVariant struct {
	name   string
	query  url.Values
	weight int
}

// listVariants are the device lists of the mix: the default page (what
// the dashboard opens, half of the list requests) and the filtered and
// sorted lists an analyst uses, each with its total as the dashboard asks.
func listVariants(cursor string, assets int) []listVariant {
	seen := storetest.BenchEnd.Add(-24 * time.Hour).Format(time.RFC3339)
	// A network holding about a third of the devices (10.0.128.0/17 at
	// full scale, as in the store's benchmark): the generator numbers
	// device i 10.0.0.0 + i.
	block := 1
	for block*2 <= assets/2 {
		block *= 2
	}
	network := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(block >> 16), byte(block >> 8), byte(block)}), 32-bits.Len(uint(block))+1)
	v := []listVariant{
		{"default", url.Values{}, 8},
		{"role=infusion-pump, sort=vendor", url.Values{"role": {"infusion-pump"}, "sort": {"vendor"}}, 1},
		{"band=high,critical, sort=-last_seen", url.Values{"band": {"high,critical"}, "sort": {"-last_seen"}}, 1},
		{"network=" + network.String(), url.Values{"network": {network.String()}}, 1},
		{"q=pump-12 (text)", url.Values{"q": {"pump-12"}}, 1},
		{"seen_after=1 day ago", url.Values{"seen_after": {seen}}, 1},
		{"sort=name", url.Values{"sort": {"name"}}, 1},
		{"vendor=Philips, sort=-first_seen", url.Values{"vendor": {"Philips"}, "sort": {"-first_seen"}}, 1},
	}
	if cursor != "" {
		v = append(v, listVariant{"page 21 (cursor)", url.Values{"cursor": {cursor}}, 1})
	}
	for i := range v {
		v[i].query.Set("limit", "50")
		v[i].query.Set("total", "true")
	}
	return v
}

var (
	itemsStart = []byte(`"items":[{`)
	totalKey   = []byte(`"total":`)
)

func checkList(body []byte) error {
	if !bytes.Contains(body, itemsStart) {
		return errors.New("empty device list")
	}
	if !bytes.Contains(body, totalKey) {
		return errors.New("device list without its total")
	}
	return nil
}

func checkOverview(body []byte) error {
	i := bytes.Index(body, []byte(`"devices":`))
	if i < 0 || len(body) < i+11 || body[i+10] < '1' || body[i+10] > '9' {
		return errors.New("overview without devices")
	}
	return nil
}

// mix picks requests with the given weights of overview, list and device
// page; device pages are of random devices.
type mix struct {
	weights  [3]int
	variants []listVariant
	listW    int
	assets   int
	// vulns is how many vulnerability matches each device has, to
	// report device pages by how many they list.
	vulns []int
}

// Device pages by how many vulnerability matches the device has.
var deviceVariants = []string{"device with 0–9 vulnerabilities", "device with 10–99 vulnerabilities", "device with ≥100 (Windows workstation)"}

func deviceVariant(n int) string {
	switch {
	case n >= 100:
		return deviceVariants[2]
	case n >= 10:
		return deviceVariants[1]
	}
	return deviceVariants[0]
}

func newMix(weights [3]int, variants []listVariant, sc storetest.Scale) *mix {
	m := &mix{weights: weights, variants: variants, assets: sc.Assets, vulns: storetest.DeviceVulnCounts(sc)}
	for _, v := range variants {
		m.listW += v.weight
	}
	return m
}

func (m *mix) pick(r *rand.Rand) request {
	x := r.IntN(m.weights[0] + m.weights[1] + m.weights[2])
	switch {
	case x < m.weights[0]:
		return request{endpoint: epOverview, path: "/api/v1/overview", check: checkOverview}
	case x < m.weights[0]+m.weights[1]:
		y := r.IntN(m.listW)
		for _, v := range m.variants {
			if y < v.weight {
				return request{endpoint: epList, variant: v.name, path: "/api/v1/assets?" + v.query.Encode(), check: checkList}
			}
			y -= v.weight
		}
		panic("unreachable")
	default:
		i := r.IntN(m.assets)
		id := fmt.Sprintf("dev-%06d", i)
		want := []byte(`"id":"` + id + `"`)
		return request{endpoint: epDevice, variant: deviceVariant(m.vulns[i]), path: "/api/v1/assets/" + id, check: func(body []byte) error {
			if !bytes.HasPrefix(body, []byte(`{"asset":{`)) || !bytes.Contains(body[:min(len(body), 200)], want) {
				return fmt.Errorf("device page is not %s's", id)
			}
			return nil
		}}
	}
}

// client is an API client with the load generator's token.
type client struct {
	base  string
	token string
	http  *http.Client
}

func (c *client) get(ctx context.Context, path string, buf *bytes.Buffer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, err
}

// getJSON fetches and decodes one answer (the sanity checks before the
// load, where decoding costs nothing that is measured).
func (c *client) getJSON(ctx context.Context, path string, v any) error {
	var buf bytes.Buffer
	code, err := c.get(ctx, path, &buf)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("GET %s: %d %.300s", path, code, buf.Bytes())
	}
	if err := json.Unmarshal(buf.Bytes(), v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// sanity checks each kind of answer in full once, against what the
// generator put in the store, and returns the cursor of page 21 of the
// default list for the mix.
func sanity(ctx context.Context, c *client, sc storetest.Scale) (string, error) {
	var o server.Overview
	if err := c.getJSON(ctx, "/api/v1/overview", &o); err != nil {
		return "", err
	}
	if o.Devices != int64(sc.Assets) || len(o.Riskiest) == 0 || len(o.Alerts.Buckets) == 0 {
		return "", fmt.Errorf("overview counts %d devices (want %d), %d riskiest, %d alert buckets", o.Devices, sc.Assets, len(o.Riskiest), len(o.Alerts.Buckets))
	}
	var l server.List[store.Asset]
	if err := c.getJSON(ctx, "/api/v1/assets?total=true", &l); err != nil {
		return "", err
	}
	if l.Total == nil || *l.Total != int64(sc.Assets) || len(l.Items) != store.DefaultLimit || l.Next == "" {
		return "", fmt.Errorf("device list: %d items, total %v (want %d), next %q", len(l.Items), l.Total, sc.Assets, l.Next)
	}
	cursor := l.Next
	for range 19 {
		var p server.List[store.Asset]
		if err := c.getJSON(ctx, "/api/v1/assets?cursor="+url.QueryEscape(cursor), &p); err != nil {
			return "", err
		}
		if p.Next == "" {
			return "", nil // a small hospital: no page 21
		}
		cursor = p.Next
	}
	var d server.AssetDetail
	id := fmt.Sprintf("dev-%06d", sc.Assets/2)
	if err := c.getJSON(ctx, "/api/v1/assets/"+id, &d); err != nil {
		return "", err
	}
	if d.Asset.ID != id || d.Asset.Risk == nil || len(d.Score.Trend) != sc.ScoreDays {
		return "", fmt.Errorf("device page of %s: asset %q, risk %v, %d days of score (want %d)", id, d.Asset.ID, d.Asset.Risk, len(d.Score.Trend), sc.ScoreDays)
	}
	if err := checkVulns(d, sc.Assets/2, sc); err != nil {
		return "", err
	}
	// The device with most matches (a Windows workstation): its page
	// lists the first hundred, known-exploited first.
	if len(sc.Vulns) == 0 {
		return cursor, nil
	}
	most, n, kev := storetest.MostVulnerable(sc)
	var dm server.AssetDetail
	if err := c.getJSON(ctx, fmt.Sprintf("/api/v1/assets/dev-%06d", most), &dm); err != nil {
		return "", err
	}
	if n == 0 || kev == 0 || len(dm.Vulnerabilities.Items) == 0 || !dm.Vulnerabilities.Items[0].KEV {
		return "", fmt.Errorf("device page of dev-%06d (%d matches, %d in KEV): %d listed, the first not in KEV", most, n, kev, len(dm.Vulnerabilities.Items))
	}
	if err := checkVulns(dm, most, sc); err != nil {
		return "", err
	}
	return cursor, nil
}

// checkVulns checks a device page's vulnerabilities against what the
// generator gave device i: the total, the page (at most the server's 100),
// and the order, most severe first (known exploitation first).
func checkVulns(d server.AssetDetail, i int, sc storetest.Scale) error {
	n, kev := storetest.DeviceVulns(sc, i)
	v := d.Vulnerabilities
	if v.Total == nil || *v.Total != int64(n) || len(v.Items) != min(n, 100) {
		return fmt.Errorf("device page of dev-%06d: %d vulnerabilities of %v listed, want %d of %d", i, len(v.Items), v.Total, min(n, 100), n)
	}
	listedKEV := 0
	for j, m := range v.Items {
		if m.KEV {
			listedKEV++
		}
		if j > 0 && (m.KEV && !v.Items[j-1].KEV || store.VulnRisk(m) > store.VulnRisk(v.Items[j-1])) {
			return fmt.Errorf("device page of dev-%06d: vulnerability %d (%s, KEV %v) is more severe than the one before (%s, KEV %v)",
				i, j, m.CVE, m.KEV, v.Items[j-1].CVE, v.Items[j-1].KEV)
		}
	}
	// Known-exploited matches sort first, so the page holds all of them
	// that fit.
	if listedKEV != min(kev, len(v.Items)) {
		return fmt.Errorf("device page of dev-%06d: %d vulnerabilities in KEV listed, want %d", i, listedKEV, min(kev, len(v.Items)))
	}
	return nil
}

// loadConfig is one load run.
type loadConfig struct {
	clients  int
	warmup   time.Duration
	duration time.Duration
	requests int64 // > 0: stop after this many measured requests
	timeout  time.Duration
}

// stats are one client's (then the run's) measurements.
type stats struct {
	byEndpoint map[string]*hist
	byVariant  map[string]*hist
	errors     map[string]int
	warmErrors int
	firstErrs  []string
}

func newStats() *stats {
	return &stats{byEndpoint: map[string]*hist{}, byVariant: map[string]*hist{}, errors: map[string]int{}}
}

func histOf(m map[string]*hist, k string) *hist {
	h := m[k]
	if h == nil {
		h = new(hist)
		m[k] = h
	}
	return h
}

func (s *stats) merge(o *stats) {
	for k, h := range o.byEndpoint {
		histOf(s.byEndpoint, k).merge(h)
	}
	for k, h := range o.byVariant {
		histOf(s.byVariant, k).merge(h)
	}
	for k, n := range o.errors {
		s.errors[k] += n
	}
	s.warmErrors += o.warmErrors
	for _, e := range o.firstErrs {
		if len(s.firstErrs) < 5 {
			s.firstErrs = append(s.firstErrs, e)
		}
	}
}

// loadResult is a load run's outcome.
type loadResult struct {
	stats   *stats
	elapsed time.Duration // the measured window
	warmed  int64         // requests made during warm-up (not measured)
}

// runLoad drives the API with closed-loop clients: each sends its next
// request when the last one is answered. Requests started during the
// warm-up are not measured; the measured window ends after the duration
// or the request count.
func runLoad(ctx context.Context, c *client, m *mix, cfg loadConfig) loadResult {
	const (
		phaseWarm = iota
		phaseMeasure
		phaseStop
	)
	var phase atomic.Int32
	var measured, warmed atomic.Int64
	enough := make(chan struct{})
	var once sync.Once
	results := make([]*stats, cfg.clients)
	var wg sync.WaitGroup
	for ci := range cfg.clients {
		st := newStats()
		results[ci] = st
		r := rand.New(rand.NewPCG(uint64(ci)+1, 0x6865697262656e63))
		wg.Go(func() {
			var buf bytes.Buffer
			for ctx.Err() == nil {
				p := phase.Load()
				if p == phaseStop {
					return
				}
				if p == phaseMeasure && cfg.requests > 0 && measured.Add(1) > cfg.requests {
					once.Do(func() { close(enough) })
					return
				}
				req := m.pick(r)
				t := time.Now()
				code, err := c.get(ctx, req.path, &buf)
				d := time.Since(t)
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("status %d: %.200s", code, buf.Bytes())
				}
				if err == nil {
					err = req.check(buf.Bytes())
				}
				if err != nil && ctx.Err() != nil {
					return
				}
				if p == phaseWarm {
					warmed.Add(1)
					if err != nil {
						st.warmErrors++
						if len(st.firstErrs) < 5 {
							st.firstErrs = append(st.firstErrs, fmt.Sprintf("warm-up: GET %s after %s: %v", req.path, d.Round(time.Millisecond), err))
						}
					}
					continue
				}
				if err != nil {
					st.errors[req.endpoint]++
					if len(st.firstErrs) < 5 {
						st.firstErrs = append(st.firstErrs, fmt.Sprintf("GET %s after %s: %v", req.path, d.Round(time.Millisecond), err))
					}
					continue
				}
				histOf(st.byEndpoint, req.endpoint).add(d)
				if req.variant != "" {
					histOf(st.byVariant, req.variant).add(d)
				}
			}
		})
	}
	wait := func(d time.Duration, ch <-chan struct{}) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ch:
		case <-ctx.Done():
		}
	}
	wait(cfg.warmup, nil)
	start := time.Now()
	phase.Store(phaseMeasure)
	if cfg.requests > 0 {
		wait(24*time.Hour, enough)
	} else {
		wait(cfg.duration, nil)
	}
	phase.Store(phaseStop)
	wg.Wait()
	res := loadResult{stats: newStats(), elapsed: time.Since(start), warmed: warmed.Load()}
	if cfg.requests == 0 {
		// The window is the duration: requests in flight at its end
		// were started within it and are counted, their tails are not
		// time the clients were sending.
		res.elapsed = min(res.elapsed, cfg.duration)
	}
	for _, st := range results {
		res.stats.merge(st)
	}
	return res
}
