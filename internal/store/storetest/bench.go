package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

// Scale is the size of a generated hospital.
type Scale struct {
	Assets int
	// FindingsPerAsset is the mean number of findings per device.
	FindingsPerAsset int
	Alerts           int
	// Days of alerts and of daily device scores.
	AlertDays, ScoreDays int
}

// HospitalScale is the load the node must serve within 100 ms at the
// 95th percentile for the overview, the device list and the device page.
var HospitalScale = Scale{Assets: 100_000, FindingsPerAsset: 2, Alerts: 1_000_000, AlertDays: 30, ScoreDays: 7}

// ScaleFromEnv is HospitalScale times $HEIR_BENCH_SCALE (a fraction, for
// a quick run: HEIR_BENCH_SCALE=0.01).
func ScaleFromEnv() Scale {
	s := HospitalScale
	if v := os.Getenv("HEIR_BENCH_SCALE"); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 && f <= 1 {
			s.Assets = max(100, int(float64(s.Assets)*f))
			s.Alerts = max(1000, int(float64(s.Alerts)*f))
		}
	}
	return s
}

// Bulk is the fast loader a backend offers (sqlstore.Bulk).
type Bulk interface {
	Assets(ctx context.Context, as []event.Asset) error
	Findings(ctx context.Context, fs []event.Finding) error
	Alerts(ctx context.Context, as []event.Alert) error
	Scores(ctx context.Context, ss []store.Score) error
	Finish(ctx context.Context) error
}

// BenchEnd is the "now" of generated data: alerts and scores lead up to it.
var BenchEnd = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

var (
	benchRoles   = []string{"infusion-pump", "infusion-pump", "infusion-pump", "patient-monitor", "patient-monitor", "workstation", "workstation", "workstation", "modality", "pacs", "hl7-engine", "lab-analyser", "printer", "ip-phone"}
	benchVendors = []string{"BBraun", "Baxter", "Philips", "GE Healthcare", "Siemens", "Mindray", "Draeger", "Fresenius", "Medtronic", "Agfa", "Dell", "HP", "Lenovo", "Cisco", "Zebra", "Roche", "Abbott", "Nihon Kohden", "Canon", "Fujifilm"}
	benchKinds   = []struct {
		kind, severity string
		tags           []event.Tag
	}{
		{"cleartext-phi", event.SeverityHigh, []event.Tag{tagInfoLeak, {Taxonomy: event.TaxENISA, ID: "8", Name: "Data breaches"}, tagCrypto}},
		{"default-credentials", event.SeverityCritical, []event.Tag{tagIDTheft, tagAuth}},
		{"cleartext-login", event.SeverityMedium, []event.Tag{tagInfoLeak, tagCrypto, tagAuth}},
		{"obsolete-tls", event.SeverityMedium, []event.Tag{tagInfoLeak, tagCrypto}},
		{"weak-certificate", event.SeverityLow, []event.Tag{tagInfoLeak, tagCrypto}},
		{"smbv1", event.SeverityHigh, []event.Tag{tagMalware, {Taxonomy: event.TaxENISA, ID: "14", Name: "Ransomware"}, tagOutdated}},
		{"vulnerable-component", event.SeverityCritical, []event.Tag{tagMalware, tagOutdated}},
	}
	benchAlerts = []struct {
		rule, category, severity string
		tags                     []event.Tag
	}{
		{"port-scan", "reconnaissance", event.SeverityMedium, []event.Tag{tagDiscovery}},
		{"ping-sweep", "reconnaissance", event.SeverityLow, []event.Tag{tagDiscovery}},
		{"brute-force", "credential-access", event.SeverityHigh, []event.Tag{tagIDTheft, tagBrute}},
		{"syn-flood", "denial-of-service", event.SeverityHigh, []event.Tag{tagDoS}},
		{"mqtt-flood", "denial-of-service", event.SeverityMedium, []event.Tag{tagDoS}},
		{"sql-injection", "web-attack", event.SeverityHigh, []event.Tag{tagWeb}},
		{"dicom-bulk-query", "exfiltration", event.SeverityHigh, []event.Tag{{Taxonomy: event.TaxENISA, ID: "8", Name: "Data breaches"}}},
		{"malware-host", "malware", event.SeverityCritical, []event.Tag{tagMalware}},
		{"baseline-anomaly", "anomaly", event.SeverityLow, nil},
	}
)

func benchIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

func benchAsset(r *rand.Rand, i int) event.Asset {
	role := benchRoles[r.IntN(len(benchRoles))]
	vendor := benchVendors[r.IntN(len(benchVendors))]
	last := BenchEnd.Add(-time.Duration(r.Int64N(int64(30 * 24 * time.Hour))))
	ip := benchIP(i)
	return event.Asset{
		V: 1, Type: event.TypeAsset, ID: fmt.Sprintf("dev-%06d", i),
		MAC:      fmt.Sprintf("02:4d:%02x:%02x:%02x:%02x", byte(i>>24), byte(i>>16), byte(i>>8), byte(i)),
		IPs:      []netip.Addr{ip},
		Vendor:   vendor,
		Model:    fmt.Sprintf("%s M%d", vendor, r.IntN(4)+1),
		Hostname: fmt.Sprintf("%s-%d", role, i),
		Role:     role, Firmware: fmt.Sprintf("%d.%d.%d", r.IntN(5), r.IntN(10), r.IntN(20)),
		Services:  []event.Service{{Transport: "tcp", Port: uint16(80 + r.IntN(3)*363), Proto: "http"}},
		Protocols: []string{"http", "tls"}, Peers: r.IntN(40),
		FirstSeen: last.Add(-time.Duration(r.Int64N(int64(200 * 24 * time.Hour)))), LastSeen: last,
		Evidence: []event.Evidence{
			{Attr: event.AttrRole, Value: role, Confidence: 0.9, Source: "rules", Flow: fmt.Sprintf("%016x", r.Uint64()), Time: last},
			{Attr: event.AttrVendor, Value: vendor, Confidence: 0.8, Source: "oui", Time: last},
		},
	}
}

func benchBand(score int) string {
	switch {
	case score >= 90:
		return store.BandCritical
	case score >= 70:
		return store.BandHigh
	case score >= 40:
		return store.BandMedium
	}
	return store.BandLow
}

// Fill generates a hospital of the given scale, deterministically, and
// loads it in chunks through the backend's bulk loader.
func Fill(ctx context.Context, bulk Bulk, sc Scale) error {
	const chunk = 10_000
	r := rand.New(rand.NewPCG(1, 2))
	findingN := 0
	for lo := 0; lo < sc.Assets; lo += chunk {
		hi := min(lo+chunk, sc.Assets)
		var as []event.Asset
		var fs []event.Finding
		var ss []store.Score
		for i := lo; i < hi; i++ {
			a := benchAsset(r, i)
			as = append(as, a)
			for range r.IntN(2*sc.FindingsPerAsset + 1) {
				k := benchKinds[r.IntN(len(benchKinds))]
				state := event.StateOpen
				switch p := r.IntN(100); {
				case p < 10:
					state = event.StateAccepted
				case p < 13:
					state = event.StateFalsePositive
				case p < 18:
					state = event.StateFixed
				}
				fs = append(fs, event.Finding{V: 1, Type: event.TypeFinding, ID: fmt.Sprintf("fnd-%07d", findingN), Rule: k.kind, Kind: k.kind,
					Title: k.kind + " on " + a.Hostname, Severity: k.severity, Asset: a.ID, Endpoint: event.Endpoint{IP: a.IPs[0], Port: 80},
					Proto: "http", Detail: "generated", FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, Count: uint64(1 + r.IntN(100)),
					Evidence: []event.Reference{{Flow: fmt.Sprintf("%016x", r.Uint64()), Time: a.LastSeen, What: "http/login"}},
					Tags:     k.tags, State: state})
				findingN++
			}
			base := r.IntN(100)
			for d := range sc.ScoreDays {
				score := min(100, max(0, base+r.IntN(11)-5))
				ss = append(ss, store.Score{Kind: store.ScoreDevice, Subject: a.ID, Day: BenchEnd.AddDate(0, 0, -d), Score: score, Band: benchBand(score),
					Breakdown: []byte(fmt.Sprintf(`{"likelihood":%.2f,"impact":%.2f}`, r.Float64(), r.Float64()))})
			}
		}
		for _, err := range []error{bulk.Assets(ctx, as), bulk.Findings(ctx, fs), bulk.Scores(ctx, ss)} {
			if err != nil {
				return err
			}
		}
	}
	span := int64(time.Duration(sc.AlertDays) * 24 * time.Hour)
	for lo := 0; lo < sc.Alerts; lo += chunk {
		hi := min(lo+chunk, sc.Alerts)
		as := make([]event.Alert, 0, hi-lo)
		for i := lo; i < hi; i++ {
			k := benchAlerts[r.IntN(len(benchAlerts))]
			start := BenchEnd.Add(-time.Duration(r.Int64N(span)))
			src := benchIP(r.IntN(sc.Assets))
			if r.IntN(4) == 0 {
				src = netip.AddrFrom4([4]byte{198, 51, 100, byte(r.IntN(256))})
			}
			var targets []event.Endpoint
			for range 1 + r.IntN(3) {
				targets = append(targets, event.Endpoint{IP: benchIP(r.IntN(sc.Assets)), Port: 443})
			}
			as = append(as, event.Alert{V: 1, Type: event.TypeAlert, ID: fmt.Sprintf("alr-%07d", i), Rule: k.rule, Category: k.category,
				Title: k.rule, Description: k.rule + " from " + src.String(), Severity: k.severity, Source: event.Endpoint{IP: src},
				Targets: targets, TargetCount: len(targets), Start: start, End: start.Add(time.Duration(r.IntN(600)) * time.Second),
				Count: uint64(1 + r.IntN(1000)), Counts: map[string]uint64{"packets": uint64(r.IntN(10000))},
				Evidence: []event.Reference{{Flow: fmt.Sprintf("%016x", r.Uint64()), Time: start}}, Tags: k.tags, Final: true})
		}
		if err := bulk.Alerts(ctx, as); err != nil {
			return err
		}
	}
	return bulk.Finish(ctx)
}

// Filled says whether s already holds a hospital of this scale (so that
// a benchmark run can reuse the database the previous one filled).
func Filled(ctx context.Context, s store.Store, sc Scale) bool {
	a, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Limit: 1, WithTotal: true}})
	if err != nil || a.Total != int64(sc.Assets) {
		return false
	}
	al, err := s.ListAlerts(ctx, store.AlertQuery{ListOptions: store.ListOptions{Limit: 1, WithTotal: true}})
	return err == nil && al.Total == int64(sc.Alerts)
}

// Bench measures the queries behind the node's overview, device list
// and device page on a filled store, reporting the 95th percentile
// latency of each (p95-ms) beside the mean.
func Bench(b *testing.B, s store.Store, sc Scale) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	run := func(name string, fn func() error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			durs := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t := time.Now()
				if err := fn(); err != nil {
					b.Fatal(err)
				}
				durs = append(durs, time.Since(t))
			}
			slices.Sort(durs)
			if len(durs) > 0 {
				b.ReportMetric(float64(durs[(len(durs)*95)/100].Microseconds())/1000, "p95-ms")
			}
		})
	}

	byBand := func() error { _, err := s.CountAssetsByBand(ctx); return err }
	byENISA := func() error {
		_, err := s.CountFindingsByTag(ctx, store.TagCountQuery{Taxonomy: event.TaxENISA})
		return err
	}
	byOWASP := func() error {
		_, err := s.CountFindingsByTag(ctx, store.TagCountQuery{Taxonomy: event.TaxOWASP})
		return err
	}
	hist := func(d time.Duration, bucket time.Duration) func() error {
		return func() error {
			_, err := s.AlertHistogram(ctx, store.HistogramQuery{From: BenchEnd.Add(-d), To: BenchEnd, Bucket: bucket})
			return err
		}
	}
	riskiest := func() error {
		_, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Limit: 10}})
		return err
	}
	run("Overview/AssetsByBand", byBand)
	run("Overview/OpenFindingsByENISA", byENISA)
	run("Overview/OpenFindingsByOWASP", byOWASP)
	run("Overview/AlertsPerHour24h", hist(24*time.Hour, time.Hour))
	run("Overview/AlertsPerHour7d", hist(7*24*time.Hour, time.Hour))
	run("Overview/AlertsPerDay30d", hist(30*24*time.Hour, 24*time.Hour))
	run("Overview/RiskiestDevices", riskiest)
	run("Overview/Page", func() error {
		for _, fn := range []func() error{byBand, byENISA, byOWASP, hist(7*24*time.Hour, time.Hour), riskiest} {
			if err := fn(); err != nil {
				return err
			}
		}
		return nil
	})

	list := func(q store.AssetQuery) func() error {
		return func() error {
			q.WithTotal = true
			_, err := s.ListAssets(ctx, q)
			return err
		}
	}
	run("DeviceList/Default", list(store.AssetQuery{}))
	run("DeviceList/RoleByVendor", list(store.AssetQuery{Roles: []string{"infusion-pump"}, ListOptions: store.ListOptions{Sort: store.Sort{Key: "vendor"}}}))
	run("DeviceList/BandsLastSeen", list(store.AssetQuery{Bands: []string{store.BandHigh, store.BandCritical}, ListOptions: store.ListOptions{Sort: store.Sort{Key: "last_seen", Desc: true}}}))
	run("DeviceList/Network", list(store.AssetQuery{Network: netip.MustParsePrefix("10.0.128.0/17")}))
	run("DeviceList/Text", list(store.AssetQuery{Text: "pump-12"}))
	run("DeviceList/SeenLastDay", list(store.AssetQuery{SeenAfter: BenchEnd.Add(-24 * time.Hour)}))
	deep := ""
	{
		cur := ""
		for range 20 {
			p, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Cursor: cur}})
			if err != nil {
				b.Fatal(err)
			}
			cur = p.Next
		}
		deep = cur
	}
	run("DeviceList/Page21", list(store.AssetQuery{ListOptions: store.ListOptions{Cursor: deep}}))

	run("DevicePage", func() error {
		i := r.IntN(sc.Assets)
		id := fmt.Sprintf("dev-%06d", i)
		if _, err := s.Asset(ctx, id); err != nil {
			return err
		}
		if _, err := s.ListFindings(ctx, store.FindingQuery{Asset: id, ListOptions: store.ListOptions{WithTotal: true}}); err != nil {
			return err
		}
		if _, err := s.ListAlerts(ctx, store.AlertQuery{IP: benchIP(i), ListOptions: store.ListOptions{Limit: 20, WithTotal: true}}); err != nil {
			return err
		}
		_, err := s.ScoreTrend(ctx, store.ScoreDevice, id, BenchEnd.AddDate(0, 0, -29), BenchEnd)
		return err
	})
	run("AlertList/Default", func() error {
		_, err := s.ListAlerts(ctx, store.AlertQuery{})
		return err
	})
	run("AlertList/CategoryLastDay", func() error {
		_, err := s.ListAlerts(ctx, store.AlertQuery{Categories: []string{"credential-access"}, Since: BenchEnd.Add(-24 * time.Hour), ListOptions: store.ListOptions{WithTotal: true}})
		return err
	})
}
