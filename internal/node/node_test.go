package node

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/asset"
	"github.com/heir-emd/heir/internal/bus"
	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/demo"
	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/inventory"
	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/rama"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/sqlite"
	"github.com/heir-emd/heir/internal/testenv"
	"github.com/heir-emd/heir/internal/vuln"
	"github.com/heir-emd/heir/internal/vuln/importer"
)

type alertLog struct {
	mu  sync.Mutex
	ids []string
}

func (l *alertLog) PublishAlert(a *event.Alert) {
	l.mu.Lock()
	l.ids = append(l.ids, a.ID)
	l.mu.Unlock()
}

func envelope(t *testing.T, typ string, rec any) bus.Envelope {
	t.Helper()
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return bus.Envelope{V: 1, ID: bus.EventID("ward4", typ, data), Sensor: "ward4", Seq: 1, Type: typ, Time: time.Now(), Data: data}
}

func open(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// labEvents runs the lab capture through the sensor, inventory and
// detection, as a sensor would before publishing.
func labEvents(t *testing.T) ([]event.Asset, []event.Finding, []event.Alert) {
	t.Helper()
	path := testenv.DataFile(t, "pcap/lab/medlab-dev.pcap")
	inv, err := asset.New(asset.Config{})
	if err != nil {
		t.Fatal(err)
	}
	col := detect.NewCollector()
	eng, err := detect.New(detect.Config{Rules: detect.DefaultRules()}, col)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFiles([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := sensor.New(sensor.Config{Packets: eng}, registry.All(registry.Options{}), sensor.Tee(inv, eng))
	if err := s.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	eng.Flush()
	return inv.Assets(), col.Findings(), col.Alerts()
}

func TestIngestExactlyOnce(t *testing.T) {
	db := open(t)
	alerts := &alertLog{}
	h := &Ingest{Events: db, Alerts: alerts, Log: slog.Default()}
	ctx := context.Background()
	a := event.Asset{V: 1, Type: event.TypeAsset, ID: "mac-020000000001", MAC: "02:00:00:00:00:01", FirstSeen: time.Unix(100, 0).UTC(), LastSeen: time.Unix(200, 0).UTC()}
	al := event.Alert{V: 1, Type: event.TypeAlert, ID: "al-1", Rule: "port-scan", Category: "reconnaissance", Severity: "medium",
		Start: time.Unix(150, 0).UTC(), End: time.Unix(160, 0).UTC(), Count: 3, Tags: []event.Tag{}}
	for _, env := range []bus.Envelope{envelope(t, event.TypeAsset, a), envelope(t, event.TypeAlert, al), envelope(t, event.TypeAlert, al)} {
		if err := h.Handle(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	st := h.Stats()
	if st.In != 3 || st.Stored != 2 || st.Duplicates != 1 {
		t.Fatalf("stats %+v", st)
	}
	if len(alerts.ids) != 1 {
		t.Fatalf("alert published %d times", len(alerts.ids))
	}
	if got, err := db.Asset(ctx, a.ID); err != nil || got.MAC != a.MAC {
		t.Fatalf("asset %+v %v", got, err)
	}
	// A flow is acknowledged, not stored; garbage is refused for good.
	if err := h.Handle(ctx, envelope(t, event.TypeFlow, event.Flow{V: 1, Type: "flow", ID: "f"})); err != nil {
		t.Fatal(err)
	}
	bad := bus.Envelope{V: 1, ID: "x", Sensor: "ward4", Type: event.TypeAsset, Data: json.RawMessage(`{"v":1,"ips":["not an address"]}`)}
	if err := h.Handle(ctx, bad); !errors.Is(err, bus.ErrPermanent) {
		t.Fatalf("malformed record: %v", err)
	}
}

func TestScoringStoresDailySnapshots(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	ingestLab(t, db)
	sc := &Scoring{Store: db, Log: slog.Default()}
	now := time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC)
	run, err := sc.Once(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if run.Devices != 12 || run.Hospital <= 0 {
		t.Fatalf("run %+v", run)
	}
	// The patient monitor (default credentials on three services) is the
	// riskiest device; its score is stored with its breakdown, and is the
	// device's current risk.
	monitor, err := db.Asset(ctx, "mac-024d4c000032")
	if err != nil || monitor.Risk == nil || monitor.Risk.Score < 70 {
		t.Fatalf("monitor risk %+v %v", monitor.Risk, err)
	}
	trend, err := db.ScoreTrend(ctx, store.ScoreDevice, "mac-024d4c000032", now.Add(-48*time.Hour), now)
	if err != nil || len(trend) != 1 || len(trend[0].Breakdown) == 0 {
		t.Fatalf("trend %+v %v", trend, err)
	}
	// Scoring again the next day adds a point to the trend; the same day
	// replaces it.
	sc.Once(ctx, now.Add(time.Hour))
	sc.Once(ctx, now.Add(24*time.Hour))
	trend, _ = db.ScoreTrend(ctx, store.ScoreHospital, HospitalSubject, now.Add(-48*time.Hour), now.Add(48*time.Hour))
	if len(trend) != 2 {
		t.Fatalf("hospital trend has %d points, want 2", len(trend))
	}
}

// labKnowledge imports what heir demo imports (the bundled ICSMA
// advisories, KEV, end-of-life data, and an asset register that says the
// lab's pump is a BD Alaris 8015 and its PACS a Philips Vue PACS); decide
// adds analysts' decisions to what each load returns.
func labKnowledge(t *testing.T, decide ...vuln.Decision) Knowledge {
	t.Helper()
	ctx := context.Background()
	dir, src := t.TempDir(), t.TempDir()
	ks, err := demo.WriteKnowledge(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if _, err := importer.Run(ctx, dir, k.Kind, []string{k.Path}, importer.Options{}, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatalf("import %s: %v", k.Kind, err)
		}
	}
	return func() (*vuln.KB, []inventory.Device, error) {
		kb, devs, err := importer.Store{Dir: dir}.Load()
		if err != nil {
			return nil, nil, err
		}
		for _, d := range decide {
			kb.Decide(d)
		}
		return kb, devs.List(), nil
	}
}

const (
	labPump = "mac-024d4c000028"
	labPACS = "mac-024d4c00000a"
)

func deviceVulns(t *testing.T, db store.Vulnerabilities, id string) map[string]store.Vulnerability {
	t.Helper()
	p, err := db.ListVulnerabilities(context.Background(), store.VulnQuery{Assets: []string{id}, ListOptions: store.ListOptions{Limit: store.MaxLimit}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Vulnerability{}
	for _, v := range p.Items {
		out[v.CVE] = v
	}
	return out
}

// TestScoringStoresVulnerabilities: a scoring run stores each device's
// matches with their evidence and knowledge (CVSS, EPSS, KEV), the same
// ones RAMA counted; analysts' decisions show in the status; the next
// run replaces the set.
func TestScoringStoresVulnerabilities(t *testing.T) {
	assets, _, _ := labEvents(t)
	db := open(t)
	ctx := context.Background()
	for _, a := range assets {
		if err := db.UpsertAsset(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC)
	sc := &Scoring{Store: db, Log: slog.Default(), Knowledge: labKnowledge(t)}
	if _, err := sc.Once(ctx, now); err != nil {
		t.Fatal(err)
	}
	pump := deviceVulns(t, db, labPump)
	v, ok := pump["CVE-2020-25165"]
	if !ok {
		t.Fatalf("the pump's vulnerabilities %v lack CVE-2020-25165 (ICSMA-20-317-01)", pump)
	}
	if v.Status != store.VulnOpen || v.KEV || v.CVSS != 6.5 || v.Confidence != 0.85 || !v.Updated.Equal(now) ||
		len(v.Evidence) == 0 || v.Evidence[0].Source != "csaf:ICSMA-20-317-01" || v.Evidence[0].Target != "model" || v.Component == "" {
		t.Errorf("pump CVE-2020-25165: %+v", v)
	}
	pacs := deviceVulns(t, db, labPACS)
	if g := pacs["CVE-2020-1938"]; !g.KEV || g.Status != store.VulnOpen {
		t.Errorf("PACS: Ghostcat (CVE-2020-1938, in KEV) %+v among %d", g, len(pacs))
	}
	// The PACS's list starts with its known-exploited CVE.
	p, err := db.ListVulnerabilities(ctx, store.VulnQuery{Assets: []string{labPACS}, ListOptions: store.ListOptions{Limit: 1}})
	if err != nil || len(p.Items) != 1 || !p.Items[0].KEV {
		t.Errorf("PACS's most severe: %+v %v", p.Items, err)
	}
	if n := len(deviceVulns(t, db, "mac-024d4c000032")); n != 0 {
		t.Errorf("the patient monitor, which nothing declares, has %d vulnerabilities", n)
	}
	// RAMA counted exactly the stored open ones.
	for _, id := range []string{labPump, labPACS} {
		trend, err := db.ScoreTrend(ctx, store.ScoreDevice, id, now, now)
		if err != nil || len(trend) != 1 {
			t.Fatalf("%s score %v %v", id, trend, err)
		}
		var b rama.Breakdown
		if err := json.Unmarshal(trend[0].Breakdown, &b); err != nil {
			t.Fatal(err)
		}
		counted := map[string]bool{}
		for _, it := range b.Items {
			if it.Kind == rama.KindVulnerability {
				counted[it.Ref] = true
			}
		}
		stored := deviceVulns(t, db, id)
		if len(counted) != len(stored) {
			t.Errorf("%s: RAMA counted %d vulnerabilities, the store has %d", id, len(counted), len(stored))
		}
		for cve := range counted {
			if stored[cve].Status != store.VulnOpen {
				t.Errorf("%s: RAMA counted %s, stored as %+v", id, cve, stored[cve])
			}
		}
	}

	// An analyst calls one a false positive (heir decide): the next run
	// stores the decision; RAMA no longer counts it.
	fp := vuln.Decision{Subject: labPump, CVE: "CVE-2020-25165", Product: v.Product, State: vuln.DecisionFalsePositive,
		Comment: "pump runs 9.33.2 since March", Author: "ana", Time: now}
	sc.Knowledge = labKnowledge(t, fp)
	if _, err := sc.Once(ctx, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	v = deviceVulns(t, db, labPump)["CVE-2020-25165"]
	if v.Status != store.VulnFalsePositive || v.Decision == nil || v.Decision.Comment != fp.Comment || v.Decision.Author != "ana" {
		t.Errorf("after the decision: %+v (decision %+v)", v, v.Decision)
	}
	if n := len(deviceVulns(t, db, labPump)); n != len(pump) {
		t.Errorf("the pump has %d vulnerabilities after the decision, %d before", n, len(pump))
	}

	// Without knowledge, the next run matches nothing: every set is
	// cleared, none is left from before.
	sc.Knowledge = nil
	if _, err := sc.Once(ctx, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p, err := db.ListVulnerabilities(ctx, store.VulnQuery{ListOptions: store.ListOptions{WithTotal: true}}); err != nil || p.Total != 0 {
		t.Errorf("after a run without knowledge: %d left, %v", p.Total, err)
	}
}

// TestScoringStoredConfig: a configuration an administrator stores takes
// the node's place at the next run, and its reset gives it back.
func TestScoringStoredConfig(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	ingestLab(t, db)
	sc := &Scoring{Store: db, Settings: db, Log: slog.Default()}
	now := time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC)
	monitor := func() int {
		t.Helper()
		if _, err := sc.Once(ctx, now); err != nil {
			t.Fatal(err)
		}
		a, err := db.Asset(ctx, "mac-024d4c000032")
		if err != nil || a.Risk == nil {
			t.Fatalf("monitor risk %+v %v", a.Risk, err)
		}
		return a.Risk.Score
	}
	before := monitor()
	// Findings weigh nothing any more: the monitor's cleartext
	// credentials and logins stop counting.
	st, err := db.PutSetting(ctx, "admin", store.Setting{Key: store.SettingRAMA,
		Value: "findings:\n  severity: {low: 0, medium: 0, high: 0, critical: 0, unrated: 0}\n"})
	if err != nil {
		t.Fatal(err)
	}
	lowered := monitor()
	if lowered >= before {
		t.Fatalf("monitor scored %d with findings weighing nothing, %d before", lowered, before)
	}
	// A stored document this heir refuses does not stop scoring.
	if _, err := db.PutSetting(ctx, "admin", store.Setting{Key: store.SettingRAMA, Version: st.Version, Value: "weights_from_the_future: 1\n"}); err != nil {
		t.Fatal(err)
	}
	if got := monitor(); got != before {
		t.Fatalf("with a refused stored document the monitor scored %d, want the node's own %d", got, before)
	}
	if err := db.ResetSetting(ctx, "admin", store.SettingRAMA, st.Version+1); err != nil {
		t.Fatal(err)
	}
	if got := monitor(); got != before {
		t.Fatalf("after the reset the monitor scored %d, want %d", got, before)
	}
}

// ingestLab stores the lab capture's devices, findings and alerts through
// the node's ingest path.
func ingestLab(t *testing.T, db store.Store) {
	t.Helper()
	assets, findings, alerts := labEvents(t)
	ctx := context.Background()
	h := &Ingest{Events: db, Log: slog.Default()}
	for _, a := range assets {
		h.Handle(ctx, envelope(t, event.TypeAsset, a))
	}
	for _, f := range findings {
		h.Handle(ctx, envelope(t, event.TypeFinding, f))
	}
	for _, a := range alerts {
		h.Handle(ctx, envelope(t, event.TypeAlert, a))
	}
	if want := uint64(len(assets) + len(findings) + len(alerts)); h.Stats().Stored != want {
		t.Fatalf("stored %+v of %d", h.Stats(), want)
	}
}

// countingStore counts the scoring run's writes.
type countingStore struct {
	*sqlite.DB
	scores, vulnSets int
}

func (c *countingStore) PutScore(ctx context.Context, s store.Score) error {
	c.scores++
	return c.DB.PutScore(ctx, s)
}

func (c *countingStore) ReplaceVulnerabilities(ctx context.Context, sets []store.VulnSet) error {
	c.vulnSets += len(sets)
	return c.DB.ReplaceVulnerabilities(ctx, sets)
}

// TestScoringWritesOnlyChanges: a run stores the devices whose score or
// vulnerabilities changed since the node last stored them, and every
// device again on a new day (the daily snapshot).
func TestScoringWritesOnlyChanges(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	ingestLab(t, db)
	cs := &countingStore{DB: db}
	sc := &Scoring{Store: cs, Log: slog.Default()}
	now := time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC)
	run, err := sc.Once(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if cs.scores != run.Devices+1 || cs.vulnSets != run.Devices {
		t.Fatalf("first run stored %d scores and %d vulnerability sets for %d devices", cs.scores, cs.vulnSets, run.Devices)
	}
	// Nothing changed: only the hospital's score is stored again.
	cs.scores, cs.vulnSets = 0, 0
	if _, err := sc.Once(ctx, now); err != nil {
		t.Fatal(err)
	}
	if cs.scores != 1 || cs.vulnSets != 0 {
		t.Fatalf("an unchanged run stored %d scores and %d vulnerability sets", cs.scores, cs.vulnSets)
	}
	// One device gains a finding: it alone is stored again, with a
	// higher score.
	before, err := db.Asset(ctx, "mac-024d4c000032")
	if err != nil {
		t.Fatal(err)
	}
	f := event.Finding{V: 1, Type: event.TypeFinding, ID: "test-smbv1", Rule: "smbv1", Kind: "smbv1", Severity: "medium",
		Asset: before.ID, Endpoint: event.Endpoint{IP: before.IPs[0], Port: 445}, Proto: "smb", Title: "SMBv1",
		FirstSeen: now.Add(-time.Minute), LastSeen: now.Add(-time.Minute), Count: 1, State: "open"}
	if err := db.UpsertFinding(ctx, f); err != nil {
		t.Fatal(err)
	}
	cs.scores, cs.vulnSets = 0, 0
	if _, err := sc.Once(ctx, now); err != nil {
		t.Fatal(err)
	}
	after, err := db.Asset(ctx, before.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cs.scores != 2 || after.Risk.Score <= before.Risk.Score {
		t.Fatalf("after a new finding: %d scores stored, risk %d → %d", cs.scores, before.Risk.Score, after.Risk.Score)
	}
	// A new day stores every device's snapshot.
	cs.scores, cs.vulnSets = 0, 0
	run, err = sc.Once(ctx, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if cs.scores != run.Devices+1 || cs.vulnSets != run.Devices {
		t.Fatalf("next day stored %d scores and %d vulnerability sets for %d devices", cs.scores, cs.vulnSets, run.Devices)
	}
}
