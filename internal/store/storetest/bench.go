package storetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
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
	// Vulns says how many vulnerability matches the devices have, tier
	// by tier (none when empty).
	Vulns []VulnTier
	// TopPeers gives each device the peers it exchanged most bytes with,
	// as the inventory reports them (up to 20 in its document).
	TopPeers bool
}

// VulnTier is a share of the devices and how many vulnerability matches
// each of them has.
type VulnTier struct {
	// Share is the fraction of the devices in the tier (a draw per
	// device decides its tier; the shares should add up to 1).
	Share float64
	// Min and Max bound each device's matches (uniform between them).
	Min, Max int
	// Kind is what the matches are of: VulnMedical (the device's model
	// in medical advisories), VulnEmbedded (mostly its embedded Linux
	// components by CPE, some advisories) or VulnWindows (a Windows
	// workstation's OS by CPE: the tier's devices become Windows
	// workstations).
	Kind string
}

// Kinds of vulnerability tier.
const (
	VulnMedical  = "medical"
	VulnEmbedded = "embedded"
	VulnWindows  = "windows"
)

// HospitalScale is the load the node must serve within 100 ms at the
// 95th percentile for the overview, the device list and the device page.
// Its vulnerability matches are skewed as a real hospital's are: most
// devices have a few (their model's advisories), a quarter tens (an
// embedded Linux with old components), about 2% a few hundred (Windows
// workstations behind on updates); about 10 per device, a million in all.
var HospitalScale = Scale{Assets: 100_000, FindingsPerAsset: 2, Alerts: 1_000_000, AlertDays: 30, ScoreDays: 7, TopPeers: true,
	Vulns: []VulnTier{
		{Share: 0.73, Min: 0, Max: 4, Kind: VulnMedical},
		{Share: 0.25, Min: 10, Max: 30, Kind: VulnEmbedded},
		{Share: 0.02, Min: 100, Max: 250, Kind: VulnWindows},
	}}

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
	Vulnerabilities(ctx context.Context, sets []store.VulnSet) error
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
	vg := newVulnGen(sc)
	findingN := 0
	for lo := 0; lo < sc.Assets; lo += chunk {
		hi := min(lo+chunk, sc.Assets)
		var as []event.Asset
		var fs []event.Finding
		var ss []store.Score
		var vs []store.VulnSet
		for i := lo; i < hi; i++ {
			a := benchAsset(r, i)
			// What follows draws from streams of the device's own, so
			// that the main stream (and with it every device, finding,
			// score and alert) is what it was before devices had peers
			// and vulnerabilities (a Scale without them generates that
			// hospital exactly), and the vulnerability counts can be
			// known without generating the hospital (Filled).
			if sc.TopPeers {
				benchTopPeers(&a, i, sc.Assets)
			}
			if set := vg.set(&a, i); len(set.Items) > 0 {
				vs = append(vs, set)
			}
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
		for _, err := range []error{bulk.Assets(ctx, as), bulk.Findings(ctx, fs), bulk.Scores(ctx, ss), bulk.Vulnerabilities(ctx, vs)} {
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
// a benchmark run can reuse the database the previous one filled): its
// devices, alerts and vulnerability matches are all there (a database
// filled before devices had matches is not).
func Filled(ctx context.Context, s store.Store, sc Scale) bool {
	a, err := s.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Limit: 1, WithTotal: true}})
	if err != nil || a.Total != int64(sc.Assets) {
		return false
	}
	al, err := s.ListAlerts(ctx, store.AlertQuery{ListOptions: store.ListOptions{Limit: 1, WithTotal: true}})
	if err != nil || al.Total != int64(sc.Alerts) {
		return false
	}
	v, err := s.ListVulnerabilities(ctx, store.VulnQuery{ListOptions: store.ListOptions{Limit: 1, WithTotal: true}})
	return err == nil && v.Total == VulnTotal(sc)
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

	// devicePage makes the queries of the node's device page (server's
	// getAsset, which makes them concurrently): the device, its findings,
	// its vulnerabilities most severe first, the alerts of its address
	// and its score trend.
	devicePage := func(i int) error {
		id := fmt.Sprintf("dev-%06d", i)
		if _, err := s.Asset(ctx, id); err != nil {
			return err
		}
		if _, err := s.ListFindings(ctx, store.FindingQuery{Asset: id, ListOptions: store.ListOptions{Limit: 100, WithTotal: true}}); err != nil {
			return err
		}
		if _, err := s.ListVulnerabilities(ctx, deviceVulnQuery(id)); err != nil {
			return err
		}
		if _, err := s.ListAlerts(ctx, store.AlertQuery{IP: benchIP(i), ListOptions: store.ListOptions{Limit: 20, WithTotal: true}}); err != nil {
			return err
		}
		_, err := s.ScoreTrend(ctx, store.ScoreDevice, id, BenchEnd.AddDate(0, 0, -29), BenchEnd)
		return err
	}
	run("DevicePage/Random", func() error { return devicePage(r.IntN(sc.Assets)) })
	// The device with most matches (a Windows workstation at hospital
	// scale): the page's worst case.
	most, _, _ := MostVulnerable(sc)
	run("DevicePage/MostVulnerable", func() error { return devicePage(most) })
	run("DevicePage/VulnerabilitiesOnly", func() error {
		_, err := s.ListVulnerabilities(ctx, deviceVulnQuery(fmt.Sprintf("dev-%06d", r.IntN(sc.Assets))))
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

// deviceVulnQuery is the device page's vulnerability query (the server's
// getAsset: the device's first 100 matches, most severe first, with their
// total).
func deviceVulnQuery(id string) store.VulnQuery {
	return store.VulnQuery{Assets: []string{id}, ListOptions: store.ListOptions{Limit: 100, WithTotal: true}}
}

// benchTopPeers gives a device the peers it exchanged most bytes with,
// as the inventory lists them (at most 20 of its Peers), from a stream of
// the device's own.
func benchTopPeers(a *event.Asset, i, assets int) {
	r := rand.New(rand.NewPCG(0x70656572, uint64(i)))
	protos := [][]string{{"dicom"}, {"hl7"}, {"mqtt"}, {"http", "tls"}, {"tls"}, {"dns"}, {"smb"}, {"tcp/8443"}, {"ntp"}}
	for k := range min(a.Peers, 20) {
		j := r.IntN(assets)
		p := event.Peer{IP: benchIP(j), Asset: fmt.Sprintf("dev-%06d", j), Protocols: protos[r.IntN(len(protos))],
			Flows: uint64(1 + r.IntN(5000)), Bytes: uint64(1+r.IntN(1<<20)) << uint(20-k), LastSeen: a.LastSeen.Add(-time.Duration(r.Int64N(int64(72 * time.Hour))))}
		if r.IntN(5) == 0 {
			p.IP, p.Asset = netip.AddrFrom4([4]byte{198, 51, 100, byte(r.IntN(256))}), ""
		}
		a.TopPeers = append(a.TopPeers, p)
	}
}

// benchCVE is one CVE of the generated knowledge: what a match of it
// carries whichever device it is on.
type benchCVE struct {
	id, vector, remediation string
	cvss                    float64
	epss, percentile        float64 // < 0: no EPSS score
	kev, ransomware         bool
	// component is what it is in (embedded and Windows CVEs): its
	// product key, CPE, the version rule and the device's value.
	product, cpe, rule, value string
}

// benchVectors are common CVSS 3.1 vectors with their base scores (the
// test checks them against vuln.ScoreVector), weighted as NVD's are
// roughly spread.
var benchVectors = []struct {
	vector string
	score  float64
	weight int
}{
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, 12},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, 8},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, 10},
	{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, 14},
	{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8, 8},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8, 8},
	{"CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.8, 4},
	{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1, 4},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, 8},
	{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9, 5},
	{"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5, 10},
	{"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", 5.3, 6},
	{"CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8, 3},
	{"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N", 4.3, 4},
	{"CVSS:3.0/AV:P/AC:H/PR:N/UI:N/S:C/C:H/I:N/A:N", 4.9, 2},
}

// benchEPSSPercentile is the rough shape of EPSS's distribution: the
// share of scored CVEs at or below each score.
var benchEPSSPercentile = [][2]float64{{0, 0}, {0.0001, 0.02}, {0.0004, 0.12}, {0.001, 0.42}, {0.003, 0.66}, {0.01, 0.83}, {0.05, 0.93}, {0.2, 0.965}, {0.5, 0.985}, {1, 1}}

func epssPercentile(score float64) float64 {
	t := benchEPSSPercentile
	for k := 1; k < len(t); k++ {
		if score <= t[k][0] {
			f := (score - t[k-1][0]) / (t[k][0] - t[k-1][0])
			return t[k-1][1] + f*(t[k][1]-t[k-1][1])
		}
	}
	return 1
}

func round5(f float64) float64 { return float64(int64(f*1e5+0.5)) / 1e5 }

// benchComponents are the embedded Linux components the embedded tier's
// CVEs are in: product key, CPE, a vulnerable version as a device reports
// it, and the version the fix came in.
var benchComponents = []struct{ product, cpe, value, fixed string }{
	{"linux_kernel", "cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*", "Linux 4.14.180", "4.14.336"},
	{"busybox", "cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:*", "BusyBox v1.31.1", "1.36.1"},
	{"openssl", "cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*", "OpenSSL 1.1.1k", "1.1.1w"},
	{"dropbear_ssh", "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:*:*:*:*:*:*:*:*", "dropbear_2019.78", "2022.83"},
	{"lighttpd", "cpe:2.3:a:lighttpd:lighttpd:*:*:*:*:*:*:*:*", "lighttpd/1.4.55", "1.4.67"},
	{"glibc", "cpe:2.3:a:gnu:glibc:*:*:*:*:*:*:*:*", "glibc 2.28", "2.39"},
	{"curl", "cpe:2.3:a:haxx:curl:*:*:*:*:*:*:*:*", "curl 7.68.0", "8.4.0"},
	{"libexpat", "cpe:2.3:a:libexpat_project:libexpat:*:*:*:*:*:*:*:*", "expat 2.2.6", "2.6.0"},
	{"sqlite", "cpe:2.3:a:sqlite:sqlite:*:*:*:*:*:*:*:*", "SQLite 3.31.1", "3.43.2"},
	{"openssh", "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*", "OpenSSH_7.4", "9.8p1"},
}

var (
	benchWindows = []struct{ product, cpe, value, fixed string }{
		{"windows_10_21h2", "cpe:2.3:o:microsoft:windows_10_21h2:-:*:*:*:*:*:x64:*", "Windows 10 Enterprise 21H2 10.0.19044.3930", "10.0.19044.4529"},
		{"windows_10_1809", "cpe:2.3:o:microsoft:windows_10_1809:-:*:*:*:*:*:x64:*", "Windows 10 Enterprise LTSC 2019 10.0.17763.5329", "10.0.17763.5936"},
		{"windows_server_2016", "cpe:2.3:o:microsoft:windows_server_2016:-:*:*:*:*:*:*:*", "Windows Server 2016 Standard 10.0.14393.6614", "10.0.14393.7070"},
	}
	benchWorkstations = []struct{ vendor, model string }{{"Dell", "OptiPlex 7080"}, {"HP", "EliteDesk 800 G6"}, {"Lenovo", "ThinkCentre M920q"}, {"Siemens", "syngo.via workstation"}, {"Philips", "IntelliSpace Portal"}}
	benchDecisions    = []struct{ state, comment string }{
		{"accepted", "Device is on the isolated clinical VLAN (no route to the internet, ACL allows the PACS only); the vendor's fix needs a service visit, planned for the next maintenance window."},
		{"accepted", "Risk accepted by the medical device committee until the vendor validates the patch for clinical use; compensating control: port 23 blocked at the distribution switch."},
		{"accepted", "Vendor bulletin says the fix ships with the next firmware; the device stays in use, monitored by the SOC."},
		{"false_positive", "Firmware checked on the device's service screen: the version is not in the advisory's range (inventory read the boot banner of the previous release)."},
		{"false_positive", "The vulnerable component is not installed on this build (checked with the vendor's SBOM)."},
	}
	benchAuthors = []string{"ana.ferreira", "j.novak", "m.rossi", "secops", "biomed.team"}
)

// vulnGen generates the vulnerability matches of Fill: a knowledge of
// CVEs in three pools (medical advisories, embedded components, Windows),
// and for each device, from a stream of its own, its tier, how many
// matches it has and which CVEs.
type vulnGen struct {
	tiers []VulnTier
	pools map[string][]benchCVE
	at    time.Time
}

func newVulnGen(sc Scale) *vulnGen {
	g := &vulnGen{tiers: sc.Vulns, pools: map[string][]benchCVE{}, at: BenchEnd.Add(-3 * time.Hour)}
	r := rand.New(rand.NewPCG(0x6376, 0x65))
	seen := map[string]bool{}
	totalW := 0
	for _, v := range benchVectors {
		totalW += v.weight
	}
	cve := func(kev float64) benchCVE {
		var c benchCVE
		for {
			c.id = fmt.Sprintf("CVE-%d-%d", 2015+r.IntN(11), 1000+r.IntN(49000))
			if !seen[c.id] {
				seen[c.id] = true
				break
			}
		}
		w := r.IntN(totalW)
		for _, v := range benchVectors {
			if w < v.weight {
				c.vector, c.cvss = v.vector, v.score
				break
			}
			w -= v.weight
		}
		c.kev = r.Float64() < kev
		c.ransomware = c.kev && r.IntN(3) == 0
		switch {
		case r.IntN(20) == 0:
			c.epss, c.percentile = -1, -1 // too new for EPSS
		case c.kev:
			c.epss = round5(0.2 + 0.77*r.Float64())
		default:
			c.epss = round5(max(0.00004, math.Pow(10, -4+3.8*math.Pow(r.Float64(), 2.5))))
		}
		if c.epss >= 0 {
			c.percentile = round5(epssPercentile(c.epss))
		}
		return c
	}
	for range 600 {
		c := cve(0.005)
		c.remediation = []string{
			"%s has released firmware %s, which fixes this vulnerability; contact %s customer support to schedule the update. Until then, restrict network access to the device to the clinical VLAN and block the affected port at the firewall.",
			"%s recommends users apply the security patch listed in its product security bulletin (firmware %s or later) and follow the %s hardening guide; where the update cannot be applied, disable the affected service.",
			"%s has released a security bulletin for the affected products: upgrade to version %s or later. %s notes that exploitation requires access to the device's network.",
		}[r.IntN(3)]
		g.pools[VulnMedical] = append(g.pools[VulnMedical], c)
	}
	for range 900 {
		c := cve(0.015)
		comp := benchComponents[r.IntN(len(benchComponents))]
		c.product, c.cpe, c.value = "cpe:"+comp.product, comp.cpe, comp.value
		c.rule = "< " + comp.fixed
		c.remediation = fmt.Sprintf("Upgrade %s to %s or later; ask the device's manufacturer for a firmware that ships the fixed component. Where no update is available, limit access to the affected service.", comp.product, comp.fixed)
		g.pools[VulnEmbedded] = append(g.pools[VulnEmbedded], c)
	}
	for range 1600 {
		c := cve(0.02)
		w := benchWindows[r.IntN(len(benchWindows))]
		c.product, c.cpe, c.value = "cpe:microsoft/"+w.product, w.cpe, w.value
		c.rule = "< " + w.fixed
		c.remediation = fmt.Sprintf("Install the %s cumulative security update (KB50%05d) from Windows Update or the Microsoft Update Catalog.",
			BenchEnd.AddDate(0, -r.IntN(30), 0).Format("January 2006"), r.IntN(100000))
		g.pools[VulnWindows] = append(g.pools[VulnWindows], c)
	}
	return g
}

// plan draws device i's tier and CVEs (pool and index of each, distinct)
// and returns the stream, for the rest of the device's draws.
func (g *vulnGen) plan(i int) (*rand.Rand, VulnTier, []benchPick) {
	r := rand.New(rand.NewPCG(0x76756c6e, uint64(i)))
	if len(g.tiers) == 0 {
		return r, VulnTier{}, nil
	}
	t := g.tiers[len(g.tiers)-1]
	x := r.Float64()
	for _, c := range g.tiers {
		if x < c.Share {
			t = c
			break
		}
		x -= c.Share
	}
	n := t.Min + r.IntN(t.Max-t.Min+1)
	picks := make([]benchPick, 0, n)
	seen := make(map[benchPick]bool, n)
	for len(picks) < n {
		pool := t.Kind
		switch {
		case t.Kind == VulnEmbedded && r.IntN(5) == 0:
			pool = VulnMedical
		case t.Kind != VulnEmbedded && t.Kind != VulnWindows:
			pool = VulnMedical
		}
		p := benchPick{pool, r.IntN(len(g.pools[pool]))}
		if !seen[p] {
			seen[p] = true
			picks = append(picks, p)
		}
	}
	return r, t, picks
}

type benchPick struct {
	pool string
	i    int
}

// set is device i's match set, as the node's scoring run stores it; a
// device of the Windows tier becomes a Windows workstation.
func (g *vulnGen) set(a *event.Asset, i int) store.VulnSet {
	r, t, picks := g.plan(i)
	if t.Kind == VulnWindows {
		ws := benchWorkstations[r.IntN(len(benchWorkstations))]
		a.Role, a.Vendor, a.Model, a.Hostname = "workstation", ws.vendor, ws.model, fmt.Sprintf("workstation-%d", i)
		a.OS = g.pools[VulnWindows][picks[0].i].value
	}
	if t.Kind == VulnEmbedded {
		a.OS = benchComponents[0].value
	}
	vendorKey := strings.ToLower(strings.ReplaceAll(a.Vendor, " ", "_"))
	modelKey := strings.ToLower(strings.ReplaceAll(a.Model, " ", "_"))
	set := store.VulnSet{Asset: a.ID, At: g.at, Items: make([]store.Vulnerability, 0, len(picks))}
	for _, p := range picks {
		c := &g.pools[p.pool][p.i]
		v := store.Vulnerability{CVE: c.id, CVSS: c.cvss, Vector: c.vector, KEV: c.kev, Ransomware: c.ransomware, Status: store.VulnOpen}
		if c.epss >= 0 {
			v.EPSS, v.EPSSPercentile = &c.epss, &c.percentile
		}
		if p.pool == VulnMedical {
			// The advisory covers the device's firmware and earlier;
			// the fix is the next major release.
			adv := fmt.Sprintf("csaf:ICSMA-%s-%03d-%02d", c.id[6:8], 1+p.i%300, 1+p.i%3)
			major, _, _ := strings.Cut(a.Firmware, ".")
			m, _ := strconv.Atoi(major)
			rule := "<= " + a.Firmware
			v.Product, v.Component = "csaf:"+vendorKey+"/"+modelKey, a.Model
			v.Confidence = 0.85
			v.Remediation = fmt.Sprintf(c.remediation, a.Vendor, fmt.Sprintf("%d.0.%d", m+1, p.i%5), a.Vendor)
			v.Evidence = []store.VulnEvidence{{Source: adv, ProductName: a.Model, Rule: rule, Target: "model", DeviceValue: a.Model,
				How: fmt.Sprintf("vendor %s and product %s equal; version %s in %q", vendorKey, modelKey, a.Firmware, rule), Verdict: "in", Confidence: 0.85}}
			if r.IntN(4) == 0 {
				v.Confidence = 0.6
				v.Evidence = append(v.Evidence, store.VulnEvidence{Source: adv, ProductName: a.Model + " series", Rule: rule, Target: "model",
					DeviceValue: a.Model, How: fmt.Sprintf("vendor %s; device model within advisory product %q (%s)", vendorKey, strings.ToLower(a.Model)+" series", modelKey),
					Verdict: "in", Confidence: 0.6})
			}
		} else {
			target := "os"
			if p.pool == VulnEmbedded && !strings.HasPrefix(c.value, "Linux") {
				target = fmt.Sprintf("software[%d]", r.IntN(3))
			}
			ver := c.value[strings.LastIndexAny(c.value, " /_v")+1:]
			v.Product, v.Component, v.Confidence, v.Remediation = c.product, c.value, 0.9, c.remediation
			v.Evidence = []store.VulnEvidence{{Source: "nvd:nvdcve-2.0-" + c.id[4:8], CPE: c.cpe, Rule: c.rule, Target: target, DeviceValue: c.value,
				How: fmt.Sprintf("vendor and product %s equal; version %s in %q", strings.TrimPrefix(c.product, "cpe:"), ver, c.rule), Verdict: "in", Confidence: 0.9}}
		}
		switch x := r.IntN(1000); {
		case x < 40: // an analyst's decision: accepted or a false positive
			d := benchDecisions[r.IntN(len(benchDecisions))]
			subject := a.ID
			if r.IntN(2) == 0 {
				subject = "model:" + vendorKey + "/" + modelKey
			}
			v.Decision = &store.VulnDecision{Subject: subject, State: d.state, Comment: d.comment, Author: benchAuthors[r.IntN(len(benchAuthors))],
				Time: g.at.Add(-time.Duration(r.Int64N(int64(90 * 24 * time.Hour)))).Truncate(time.Second)}
			v.Status = store.VulnAccepted
			if d.state == "false_positive" {
				v.Status = store.VulnFalsePositive
			}
		case x < 55:
			v.Status = store.VulnNotAffected
			v.Suppressed = &store.VulnSuppression{Source: fmt.Sprintf("vex:urn:uuid:%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Int64N(1<<48)),
				Justification: "vulnerable_code_not_in_execute_path", Detail: "The affected service is disabled in this product's configuration and cannot be enabled by the user."}
		}
		set.Items = append(set.Items, v)
	}
	return set
}

// DeviceVulns says how many vulnerability matches Fill gives device i
// (dev-%06d) at this scale, and how many of them are in CISA's KEV.
func DeviceVulns(sc Scale, i int) (n, kev int) {
	return newVulnGen(sc).count(i)
}

func (g *vulnGen) count(i int) (n, kev int) {
	_, _, picks := g.plan(i)
	for _, p := range picks {
		if g.pools[p.pool][p.i].kev {
			kev++
		}
	}
	return len(picks), kev
}

// DeviceVulnCounts says how many vulnerability matches Fill gives each
// device (index i is dev-%06d).
func DeviceVulnCounts(sc Scale) []int {
	g := newVulnGen(sc)
	out := make([]int, sc.Assets)
	for i := range out {
		out[i], _ = g.count(i)
	}
	return out
}

// VulnTotal is how many vulnerability matches Fill stores at this scale.
func VulnTotal(sc Scale) int64 {
	g := newVulnGen(sc)
	var total int64
	for i := range sc.Assets {
		n, _ := g.count(i)
		total += int64(n)
	}
	return total
}

// MostVulnerable is the device Fill gives most vulnerability matches (of
// those, one with most in KEV), with its counts.
func MostVulnerable(sc Scale) (i, n, kev int) {
	g := newVulnGen(sc)
	for j := range sc.Assets {
		if m, k := g.count(j); m > n || m == n && k > kev {
			i, n, kev = j, m, k
		}
	}
	return i, n, kev
}
