package ui_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/asset"
	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/credential"
	"github.com/heir-emd/heir/internal/demo"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/inventory"
	"github.com/heir-emd/heir/internal/node"
	"github.com/heir-emd/heir/internal/oui"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/rama"
	"github.com/heir-emd/heir/internal/report"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/server/ui"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/sqlite"
	"github.com/heir-emd/heir/internal/taxonomy"
	"github.com/heir-emd/heir/internal/testenv"
	"github.com/heir-emd/heir/internal/vuln"
	"github.com/heir-emd/heir/internal/vuln/importer"
)

// Node is a running heir node with data, as the UI tests see it: a base
// URL and a user per role. Everything else the tests need (a device with
// a RAMA breakdown, an open finding, the audit trail) they find through
// the node's API, so the same tests can run against `heir demo`.
type Node struct {
	URL string
	// Users holds credentials for the roles "analyst", "viewer" and
	// "auditor" (admin too in-process).
	Users map[string]Cred
	// Publish sends a live alert to the node's stream; nil when the node
	// runs elsewhere (the live test then skips).
	Publish func(event.Alert)
	// Local says the node runs in this process on seeded data, whose
	// exact contents the tests may rely on.
	Local bool
}

// Cred is a user name and password.
type Cred struct{ Name, Password string }

// nodeNow is the seeded node's clock: a quarter of an hour after the lab
// capture ended, so its alerts are recent.
var nodeNow = time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC)

const nodePassword = "correct horse battery staple"

// cheapHash keeps sign-ins fast in tests; the algorithm is the real one.
var cheapHash = auth.Params{Time: 1, Memory: 64, Threads: 1, KeyLen: 32, SaltLen: 16}

// startNode returns the node the UI tests drive.
//
// With HEIR_UI_URL set (e.g. http://127.0.0.1:8443 from `heir demo`) it
// is that node, with users from HEIR_UI_USERS
// ("analyst=name:password,viewer=name:password,auditor=name:password").
//
// Otherwise it starts one in this process on 127.0.0.1:0: a SQLite store
// seeded with the lab capture (testdata/lab/medlab-dev.pcap) run through
// the real sensor and inventory; findings from the weaknesses the sensor
// reported; alerts from the capture's labelled attack windows
// (testdata/lab-attacks.jsonl, standing in for internal/detect) plus a
// week of synthetic alert history, marked as such; and RAMA scores
// computed by internal/rama from those inputs, for the capture day and
// (synthetic) the 13 days before.
func startNode(t *testing.T) *Node {
	t.Helper()
	if u := os.Getenv("HEIR_UI_URL"); u != "" {
		n := &Node{URL: strings.TrimRight(u, "/"), Users: map[string]Cred{}}
		for _, kv := range strings.Split(os.Getenv("HEIR_UI_USERS"), ",") {
			role, cred, ok := strings.Cut(strings.TrimSpace(kv), "=")
			name, pw, ok2 := strings.Cut(cred, ":")
			if ok && ok2 {
				n.Users[role] = Cred{name, pw}
			}
		}
		for _, r := range []string{"analyst", "viewer", "auditor"} {
			if _, ok := n.Users[r]; !ok {
				t.Fatalf("HEIR_UI_URL is set but HEIR_UI_USERS names no %s (want analyst=name:password,viewer=…,auditor=…)", r)
			}
		}
		return n
	}

	ctx, cancel := context.WithCancel(context.Background())
	now := func() time.Time { return nodeNow }
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Now: now})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	seedNode(t, ctx, db)
	n := &Node{Users: map[string]Cred{}, Local: true}
	for _, role := range []string{store.RoleAdmin, store.RoleAnalyst, store.RoleViewer, store.RoleAuditor} {
		h, err := auth.HashPassword(nodePassword, cheapHash)
		if err != nil {
			t.Fatal(err)
		}
		name := "ui-" + role
		if _, err := db.CreateUser(ctx, "test", store.User{Name: name, DisplayName: strings.ToUpper(role[:1]) + role[1:] + " (test)", Roles: []string{role}, PasswordHash: h}); err != nil {
			t.Fatal(err)
		}
		n.Users[role] = Cred{name, nodePassword}
	}
	u, err := ui.New(ui.Options{Now: now, Location: time.UTC, Site: "Medlab (test)", Roles: asset.DefaultRoles()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(ctx, server.Options{
		Store: db, Now: now, UI: u, Routes: u.Routes(), Sensors: &testIssuer{},
		Auth: server.AuthOptions{Password: cheapHash, LoginPerAddress: server.RateLimit{Burst: 1000, Every: time.Millisecond},
			LoginPerUser: server.RateLimit{Burst: 1000, Every: time.Millisecond}},
	})
	if err != nil {
		t.Fatal(err)
	}
	u.SetAPI(srv.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node: %v", err)
		}
		db.Close()
	})
	n.URL = "http://" + ln.Addr().String()
	n.Publish = srv.Broadcaster().Publish
	return n
}

// seedNode fills st as the node's ingest and scoring would.
func seedNode(t *testing.T, ctx context.Context, st store.Store) {
	t.Helper()
	root, err := testenv.Root()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := oui.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	inv, err := asset.New(asset.Config{Vendors: reg})
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFiles([]string{filepath.Join(root, "testdata", "lab", "medlab-dev.pcap")})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	col := report.NewCollector()
	flows := &flowLog{}
	s := sensor.New(sensor.Config{}, registry.All(registry.Options{Defaults: credential.Defaults()}), sensor.Tee(inv, col, flows))
	if err := s.Run(ctx, src); err != nil {
		t.Fatal(err)
	}
	assets := inv.Assets()
	rep := col.Report(s.Stats(), src.Stats(), assets)
	if len(assets) < 10 || len(rep.Weaknesses) < 10 {
		t.Fatalf("the lab capture gave %d devices and %d weaknesses; the seed expects the lab's 12 and 23", len(assets), len(rep.Weaknesses))
	}
	byIP := map[netip.Addr]string{}
	for i := range assets {
		if err := st.UpsertAsset(ctx, assets[i]); err != nil {
			t.Fatal(err)
		}
		for _, ip := range assets[i].IPs {
			byIP[ip] = assets[i].ID
		}
	}

	tax := taxonomy.New()
	findings := findingsFrom(t, rep.Weaknesses, byIP, tax)
	for _, f := range findings {
		if err := st.UpsertFinding(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	alerts := append(labAlerts(t, root, flows.flows, tax), syntheticHistory(t, tax)...)
	for _, a := range alerts {
		if err := st.UpsertAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	scoreAll(t, ctx, st, assets, findings, alerts)
}

// flowLog keeps the flows of a sensor run (to count an attack's flows).
type flowLog struct{ flows []event.Flow }

func (l *flowLog) Flow(f *event.Flow)               { l.flows = append(l.flows, *f) }
func (l *flowLog) Observe(*event.Observation)       {}
func (l *flowLog) ARP(*sensor.ARP)                  {}
func (l *flowLog) FlowStart(*proto.Conn, time.Time) {}

func contentID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// findingClass is the taxonomy mapping class of a weakness kind.
func findingClass(k event.WeaknessKind) string {
	switch k {
	case event.WeakObsoleteTLS, event.WeakCipher, event.WeakCertificate:
		return "weak-tls"
	}
	return string(k)
}

var findingTitles = map[event.WeaknessKind]string{
	event.WeakCleartextPHI:         "Patient data in cleartext",
	event.WeakDefaultCredentials:   "Default credential accepted",
	event.WeakCleartextCredentials: "Credentials sent in cleartext",
	event.WeakCleartextLogin:       "Cleartext login service",
	event.WeakObsoleteTLS:          "Obsolete TLS version",
	event.WeakCertificate:          "Weak TLS certificate",
	event.WeakCipher:               "Weak TLS cipher",
	event.WeakSMBv1:                "SMBv1 in use",
	event.WeakUnauthenticated:      "Service open without authentication",
}

var remediations = map[event.WeaknessKind]string{
	event.WeakCleartextPHI:         "Turn on the protocol's TLS (DICOM TLS, MLLP over TLS, MQTT over TLS) or isolate the devices on their own segment.",
	event.WeakDefaultCredentials:   "Change the default password; ask the vendor how if the device does not let you.",
	event.WeakCleartextCredentials: "Use the encrypted variant of the protocol (SSH, FTPS, HTTPS).",
	event.WeakCleartextLogin:       "Disable the cleartext service or restrict it to a management network.",
	event.WeakObsoleteTLS:          "Require TLS 1.2 or later.",
	event.WeakCertificate:          "Replace the certificate with one signed by the hospital's CA, SHA-256, RSA ≥ 2048.",
	event.WeakSMBv1:                "Disable SMBv1; update or isolate the host.",
	event.WeakUnauthenticated:      "Require authentication on the service.",
}

// findingsFrom turns the sensor's weaknesses into findings, tagged with
// the taxonomy mapping of their class.
func findingsFrom(t *testing.T, ws []report.Weakness, byIP map[netip.Addr]string, tax *taxonomy.Catalogue) []event.Finding {
	t.Helper()
	var out []event.Finding
	for _, w := range ws {
		m, ok := tax.Mapping(findingClass(w.Kind))
		if !ok {
			t.Fatalf("taxonomy has no mapping for weakness %s", w.Kind)
		}
		f := event.Finding{V: event.Version, Type: event.TypeFinding,
			ID:   contentID(string(w.Kind), w.Endpoint.String(), fmt.Sprint(w.Port), w.Proto, w.Detail),
			Rule: string(w.Kind), Kind: string(w.Kind), Title: findingTitles[w.Kind], Severity: w.Severity,
			Asset: byIP[w.Endpoint], Endpoint: event.Endpoint{IP: w.Endpoint, Port: w.Port}, Proto: w.Proto, Detail: w.Detail,
			FirstSeen: w.FirstSeen, LastSeen: w.LastSeen, Count: w.Count, Tags: m.Tags, Remediation: remediations[w.Kind], State: event.StateOpen}
		if f.Title == "" {
			f.Title = string(w.Kind)
		}
		for _, fl := range w.Flows {
			f.Evidence = append(f.Evidence, event.Reference{Flow: fl, Time: w.FirstSeen, What: w.Proto + " " + string(w.Kind)})
		}
		out = append(out, f)
	}
	return out
}

// labAttack is one labelled attack window of the lab capture.
type labAttack struct {
	ID        string   `json:"id"`
	Label     string   `json:"label"`
	Protocol  string   `json:"protocol"`
	Start     float64  `json:"start"`
	End       float64  `json:"end"`
	Src       []string `json:"src_ips"`
	Dst       []string `json:"dst_ips"`
	Ports     []uint16 `json:"dst_ports"`
	Tool      string   `json:"tool"`
	LiveHosts []string `json:"live_hosts"`
}

// attackKinds maps the lab's labels to what a detector would say.
var attackKinds = map[string]struct{ rule, class, category, severity, title string }{
	"attack-pingsweep":         {"host-sweep", "host-sweep", "reconnaissance", event.SeverityLow, "Ping sweep of the network"},
	"attack-synscan":           {"port-scan", "port-scan", "reconnaissance", event.SeverityMedium, "TCP SYN port scan"},
	"attack-dicom-scan":        {"dicom-service-discovery", "service-discovery", "reconnaissance", event.SeverityMedium, "DICOM AE title probing"},
	"attack-bruteforce-ftp":    {"ftp-brute-force", "brute-force", "brute-force", event.SeverityHigh, "FTP password brute force"},
	"attack-bruteforce-telnet": {"telnet-brute-force", "brute-force", "brute-force", event.SeverityHigh, "Telnet password brute force"},
	"attack-dicom-assoc-storm": {"dicom-association-storm", "service-flood", "denial-of-service", event.SeverityMedium, "DICOM association storm"},
	"attack-mqtt-flood":        {"mqtt-publish-flood", "service-flood", "denial-of-service", event.SeverityHigh, "MQTT publish flood against the pump broker"},
	"attack-dicom-exfil":       {"dicom-bulk-query", "dicom-exfiltration", "exfiltration", event.SeverityHigh, "Bulk DICOM query by an unknown peer"},
}

func epoch(x float64) time.Time {
	sec, frac := math.Modf(x)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// labAlerts turns the capture's attack windows into alerts, counting the
// attacker's flows in each window from the sensor's own flows.
func labAlerts(t *testing.T, root string, flows []event.Flow, tax *taxonomy.Catalogue) []event.Alert {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "internal", "server", "ui", "testdata", "lab-attacks.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []event.Alert
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var la labAttack
		if err := json.Unmarshal(sc.Bytes(), &la); err != nil {
			t.Fatal(err)
		}
		k, ok := attackKinds[la.Label]
		if !ok {
			t.Fatalf("lab label %q has no alert kind", la.Label)
		}
		m, ok := tax.Mapping(k.class)
		if !ok {
			t.Fatalf("taxonomy has no mapping %s", k.class)
		}
		start, end := epoch(la.Start), epoch(la.End)
		src := netip.MustParseAddr(la.Src[0])
		a := event.Alert{V: event.Version, Type: event.TypeAlert, ID: "lab-" + la.ID, Rule: k.rule, Category: k.category, Title: k.title,
			Description: fmt.Sprintf("%s from %s (%s). From the lab capture's labelled attack window, standing in for the detector.", k.title, src, la.Tool),
			Severity:    k.severity, Source: event.Endpoint{IP: src}, Start: start, End: end, Tags: m.Tags, Final: true,
			Remediation: "Find the host at " + src.String() + " and take it off the network if nobody expects it."}
		targets := la.Dst
		if len(la.LiveHosts) > 0 {
			targets = la.LiveHosts
		}
		for _, d := range targets {
			ip, err := netip.ParseAddr(d)
			if err != nil {
				continue
			}
			ep := event.Endpoint{IP: ip}
			if len(la.Ports) == 1 {
				ep.Port = la.Ports[0]
			}
			a.Targets = append(a.Targets, ep)
		}
		a.TargetCount = len(a.Targets)
		for _, fl := range flows {
			if fl.Client.IP == src && !fl.Start.Before(start.Add(-time.Second)) && !fl.Start.After(end.Add(time.Second)) {
				a.Count++
				if len(a.Evidence) < 5 {
					a.Evidence = append(a.Evidence, event.Reference{Flow: fl.ID, Time: fl.Start, What: fl.Proto})
				}
			}
		}
		if a.Count == 0 {
			a.Count = 1
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 8 {
		t.Fatalf("lab-attacks.jsonl gave %d alerts, want the lab's 8 attack windows", len(out))
	}
	return out
}

// syntheticHistory is a week of made-up alerts before the capture, so
// that the overview's "alerts over time" has a history to draw. Every
// one says it is synthetic.
func syntheticHistory(t *testing.T, tax *taxonomy.Catalogue) []event.Alert {
	t.Helper()
	type gen struct {
		rule, class, category, sev, title string
		src, dst                          string
	}
	gens := []gen{
		{"port-scan", "port-scan", "reconnaissance", event.SeverityMedium, "TCP SYN port scan", "10.77.0.66", "10.77.0.10"},
		{"telnet-brute-force", "brute-force", "brute-force", event.SeverityHigh, "Telnet password brute force", "10.77.0.66", "10.77.0.50"},
		{"mqtt-publish-flood", "service-flood", "denial-of-service", event.SeverityMedium, "MQTT publish flood against the pump broker", "10.77.0.70", "10.77.0.41"},
	}
	var out []event.Alert
	for day := 6; day >= 1; day-- {
		for i, g := range gens {
			if (day+i)%3 == 0 {
				continue // not every kind every day
			}
			m, _ := tax.Mapping(g.class)
			start := nodeNow.Truncate(24*time.Hour).AddDate(0, 0, -day).Add(time.Duration(3+5*i+day) * time.Hour)
			out = append(out, event.Alert{V: event.Version, Type: event.TypeAlert, ID: fmt.Sprintf("synthetic-%d-%d", day, i),
				Rule: g.rule, Category: g.category, Title: g.title + " (synthetic)",
				Description: "Synthetic history for the UI tests: no capture saw this.", Severity: g.sev,
				Source: event.Endpoint{IP: netip.MustParseAddr(g.src)}, Targets: []event.Endpoint{{IP: netip.MustParseAddr(g.dst)}}, TargetCount: 1,
				Start: start, End: start.Add(90 * time.Second), Count: uint64(10 + 7*i + day), Tags: m.Tags, Final: true})
		}
	}
	return out
}

// scoreAll stores RAMA scores: today's through the node's own scoring
// (internal/node: assess builds the inputs, rama scores them, the store
// keeps device and hospital snapshots), and, for the 13 days before, a
// synthetic history scored by internal/rama directly from the same
// standing findings and the alerts known by each day (the node was not
// running then).
func scoreAll(t *testing.T, ctx context.Context, st store.Store, assets []event.Asset, findings []event.Finding, alerts []event.Alert) {
	t.Helper()
	sc, err := rama.NewScorer(rama.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for d := 13; d >= 1; d-- {
		at := nodeNow.AddDate(0, 0, -d)
		var devs []*rama.Device
		for i := range assets {
			a := &assets[i]
			dev := &rama.Device{ID: a.ID, Name: a.Hostname, Role: a.Role, Exposure: rama.Exposure{Peers: a.Peers, FlatNetwork: true}}
			for j := range findings {
				if findings[j].Asset == a.ID {
					dev.Findings = append(dev.Findings, rama.FindingFromEvent(&findings[j]))
				}
			}
			for j := range alerts {
				al := &alerts[j]
				if al.Start.After(at) {
					continue
				}
				involved := slices.Contains(a.IPs, al.Source.IP) || slices.ContainsFunc(al.Targets, func(e event.Endpoint) bool { return slices.Contains(a.IPs, e.IP) })
				if involved {
					dev.Alerts = append(dev.Alerts, rama.AlertFromEvent(al, a.IPs))
				}
			}
			devs = append(devs, dev)
			b := sc.Explain(dev, at)
			raw, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.PutScore(ctx, store.Score{Kind: store.ScoreDevice, Subject: a.ID, Day: store.Day(at), Score: roundScore(b.Residual), Band: string(b.Band), Breakdown: raw}); err != nil {
				t.Fatal(err)
			}
		}
		eng := rama.NewEngine(sc)
		if err := eng.Load(ctx, devs, at); err != nil {
			t.Fatal(err)
		}
		h := eng.Hospital()
		raw, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutScore(ctx, store.Score{Kind: store.ScoreHospital, Subject: server.DefaultSite, Day: store.Day(at), Score: roundScore(h.Score), Band: string(h.Band), Breakdown: raw}); err != nil {
			t.Fatal(err)
		}
	}
	run, err := (&node.Scoring{Store: st, Knowledge: demoKnowledge(t)}).Once(ctx, nodeNow)
	if err != nil {
		t.Fatalf("the node's scoring: %v", err)
	}
	if run.Devices != len(assets) {
		t.Fatalf("the node scored %d devices, the inventory has %d", run.Devices, len(assets))
	}
}

// roundScore stores a score as the node does (internal/node).
func roundScore(x float64) int { return int(x + 0.5) }

// demoKnowledge imports what heir demo imports (the bundled advisories,
// KEV, end-of-life data and asset register) for the node's scoring, so
// that the lab's pump and PACS have vulnerabilities, one known exploited.
func demoKnowledge(t *testing.T) node.Knowledge {
	t.Helper()
	dir, src := t.TempDir(), t.TempDir()
	ks, err := demo.WriteKnowledge(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if _, err := importer.Run(context.Background(), dir, k.Kind, []string{k.Path}, importer.Options{}, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatalf("import %s: %v", k.Kind, err)
		}
	}
	return func() (*vuln.KB, []inventory.Device, error) {
		kb, devs, err := importer.Store{Dir: dir}.Load()
		if err != nil {
			return nil, nil, err
		}
		return kb, devs.List(), nil
	}
}

// testIssuer stands in for the bus's credential issuer (internal/cli's
// busIssuer, tested with the real bus there): the UI only passes the file
// on.
type testIssuer struct{ revoked []string }

func (ti *testIssuer) IssueSensor(_ context.Context, name string) (server.SensorCredential, error) {
	return server.SensorCredential{File: []byte("-----BEGIN HEIR SENSOR CREDENTIALS-----\n" + name + "\n"), FileName: name + ".creds", PublicID: "U" + name}, nil
}

func (ti *testIssuer) RevokeSensor(_ context.Context, name string) error {
	ti.revoked = append(ti.revoked, name)
	return nil
}
