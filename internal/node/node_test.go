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
	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/sqlite"
	"github.com/heir-emd/heir/internal/testenv"
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
	assets, findings, alerts := labEvents(t)
	db := open(t)
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
	if h.Stats().Stored != uint64(len(assets)+len(findings)+len(alerts)) {
		t.Fatalf("stored %+v of %d", h.Stats(), len(assets)+len(findings)+len(alerts))
	}
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
