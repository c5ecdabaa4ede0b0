// Package node is the hospital node's own work, between the bus, the
// store and the web server: it stores what sensors publish exactly once,
// tells the web server about new alerts, and rescores every device
// (RAMA) on a schedule, keeping a snapshot per day.
//
// It depends on small interfaces of the store and on the bus envelope;
// the command line builds the concrete parts and hands them in.
package node

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heir-emd/heir/internal/assess"
	"github.com/heir-emd/heir/internal/bus"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/inventory"
	"github.com/heir-emd/heir/internal/rama"
	"github.com/heir-emd/heir/internal/report"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/vuln"
)

// AlertPublisher receives every alert update the node stores, for live
// views (the web server's event stream).
type AlertPublisher interface {
	PublishAlert(a *event.Alert)
}

// Ingest stores the events sensors publish. It implements bus.Handler:
// the bus delivers at least once, IngestOnce stores exactly once.
type Ingest struct {
	Events store.Events
	Alerts AlertPublisher // may be nil
	Log    *slog.Logger

	in, stored, dup, bad atomic.Uint64
}

// IngestStats count the ingest path's work.
type IngestStats struct {
	In         uint64 `json:"events_in"`
	Stored     uint64 `json:"events_stored"`
	Duplicates uint64 `json:"duplicates"`
	Rejected   uint64 `json:"rejected"`
}

// Stats returns the counters so far.
func (h *Ingest) Stats() IngestStats {
	return IngestStats{In: h.in.Load(), Stored: h.stored.Load(), Duplicates: h.dup.Load(), Rejected: h.bad.Load()}
}

// Handle stores one envelope. Records the node does not keep (flows,
// observations, statistics) are acknowledged without storing: the sensor
// already used them to build assets, findings and alerts.
func (h *Ingest) Handle(ctx context.Context, env bus.Envelope) error {
	h.in.Add(1)
	rec, err := env.Decode()
	if err != nil {
		h.bad.Add(1)
		return bus.Permanent(fmt.Errorf("ingest %s: %w", env.ID, err))
	}
	var alert *event.Alert
	stored, err := h.Events.IngestOnce(ctx, env.ID, func(ctx context.Context, tx store.Tx) error {
		switch r := rec.(type) {
		case *event.Asset:
			return tx.UpsertAsset(ctx, *r)
		case *event.Finding:
			return tx.UpsertFinding(ctx, *r)
		case *event.Alert:
			alert = r
			return tx.UpsertAlert(ctx, *r)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrInvalid) {
			h.bad.Add(1)
			return bus.Permanent(fmt.Errorf("ingest %s from %s: %w", env.ID, env.Sensor, err))
		}
		return err
	}
	if !stored {
		h.dup.Add(1)
		return nil
	}
	h.stored.Add(1)
	if alert != nil && h.Alerts != nil {
		h.Alerts.PublishAlert(alert)
	}
	return nil
}

// ScoreStore is what scoring reads and writes.
type ScoreStore interface {
	store.Assets
	store.Findings
	store.Alerts
	store.Scores
	store.Vulnerabilities
}

// Knowledge loads the imported vulnerability knowledge and inventories
// (heir import); it is called at every scoring run, so imports made while
// the node runs count at the next run.
type Knowledge func() (*vuln.KB, []inventory.Device, error)

// Scoring rescores every device and the hospital.
type Scoring struct {
	Store     ScoreStore
	Knowledge Knowledge // nil: no vulnerability matching
	// Config is the node's configuration (--rama-config; nil: the shipped
	// defaults). A configuration an administrator stored in Settings
	// (store.SettingRAMA) takes its place from the next run on.
	Config   *rama.Config
	Settings store.Settings // nil: only Config
	Site     *rama.Site
	// AlertWindow is how far back alerts count (they decay anyway).
	AlertWindow time.Duration
	Log         *slog.Logger

	last atomic.Pointer[ScoreRun]

	// mu guards written: what this node last stored for each device, so
	// that a run writes only what changed. Most devices do not change
	// between runs, and at 100,000 devices the writes were most of a
	// run's time. Forgotten at restart: the first run writes everything.
	mu      sync.Mutex
	written map[string]digest
}

// digest identifies what was stored for a device on a day: its score
// (breakdown included, without the run's time) and its vulnerability set.
type digest struct {
	day   time.Time
	score [sha256.Size]byte
	vulns [sha256.Size]byte
}

// ScoreRun describes one scoring run.
type ScoreRun struct {
	At       time.Time     `json:"at"`
	Devices  int           `json:"devices"`
	Hospital float64       `json:"hospital"`
	Took     time.Duration `json:"took"`
}

// Last returns the latest run, nil before the first.
func (s *Scoring) Last() *ScoreRun { return s.last.Load() }

// Run scores now and then every interval until ctx ends. A failed run is
// logged and retried at the next tick.
func (s *Scoring) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Once(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.Log.Warn("scoring failed; retrying at the next interval", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once scores every device as of now and stores today's snapshots.
func (s *Scoring) Once(ctx context.Context, now time.Time) (*ScoreRun, error) {
	start := time.Now()
	in := assess.Inputs{Severity: report.Severity, Detection: true, At: now, Site: s.Site}
	var err error
	if in.Assets, err = allAssets(ctx, s.Store); err != nil {
		return nil, err
	}
	if in.Findings, err = allFindings(ctx, s.Store); err != nil {
		return nil, err
	}
	window := s.AlertWindow
	if window <= 0 {
		window = 30 * 24 * time.Hour
	}
	if in.Alerts, err = alertsSince(ctx, s.Store, now.Add(-window)); err != nil {
		return nil, err
	}
	if s.Knowledge != nil {
		kb, imported, err := s.Knowledge()
		if err != nil {
			return nil, fmt.Errorf("scoring: knowledge: %w", err)
		}
		in.Knowledge, in.Imported, in.Norm = kb, imported, vuln.DefaultNormaliser()
	}
	devs, err := assess.Build(ctx, in)
	if err != nil {
		return nil, err
	}
	cfg, err := s.config(ctx)
	if err != nil {
		return nil, err
	}
	scorer, err := rama.NewScorer(cfg)
	if err != nil {
		return nil, err
	}
	eng := rama.NewEngine(scorer)
	ptrs := make([]*rama.Device, len(devs))
	for i := range devs {
		ptrs[i] = &devs[i].Input
	}
	if err := eng.Load(ctx, ptrs, now); err != nil {
		return nil, err
	}
	day := store.Day(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written == nil {
		s.written = make(map[string]digest, len(ptrs))
	}
	for _, d := range ptrs {
		r, ok := eng.Result(d.ID)
		if !ok {
			continue
		}
		b, _ := eng.Explain(d.ID, now)
		score, band := roundScore(r.Residual), string(r.Band)
		b.At = time.Time{}
		plain, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("scoring: breakdown of %s: %w", d.ID, err)
		}
		sum := sha256.Sum256(fmt.Appendf(plain, "\x00%d\x00%s", score, band))
		if w, ok := s.written[d.ID]; ok && w.day.Equal(day) && w.score == sum {
			continue
		}
		b.At = now
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("scoring: breakdown of %s: %w", d.ID, err)
		}
		if err := s.Store.PutScore(ctx, store.Score{Kind: store.ScoreDevice, Subject: d.ID, Day: day,
			Score: score, Band: band, Breakdown: raw}); err != nil {
			return nil, fmt.Errorf("scoring: store %s: %w", d.ID, err)
		}
		w := s.written[d.ID]
		if !w.day.Equal(day) {
			w = digest{day: day}
		}
		w.score = sum
		s.written[d.ID] = w
	}
	if err := s.storeVulns(ctx, devs, day, now); err != nil {
		return nil, err
	}
	h := eng.Hospital()
	raw, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if err := s.Store.PutScore(ctx, store.Score{Kind: store.ScoreHospital, Subject: HospitalSubject, Day: day,
		Score: roundScore(h.Score), Band: string(h.Band), Breakdown: raw}); err != nil {
		return nil, fmt.Errorf("scoring: store hospital: %w", err)
	}
	run := &ScoreRun{At: now, Devices: len(devs), Hospital: h.Score, Took: time.Since(start)}
	s.last.Store(run)
	return run, nil
}

// HospitalSubject is the subject of the hospital's own score.
const HospitalSubject = "hospital"

// config is the RAMA configuration in force: the stored one, else the
// node's own. A stored document this heir refuses (written by a newer
// one) is logged and passed over, so that scoring goes on.
func (s *Scoring) config(ctx context.Context) (*rama.Config, error) {
	own := s.Config
	if own == nil {
		own = rama.DefaultConfig()
	}
	if s.Settings == nil {
		return own, nil
	}
	st, err := s.Settings.Setting(ctx, store.SettingRAMA)
	if errors.Is(err, store.ErrNotFound) {
		return own, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scoring: read the stored RAMA configuration: %w", err)
	}
	c, err := rama.ParseConfig(fmt.Sprintf("stored version %d", st.Version), []byte(st.Value))
	if err != nil {
		s.Log.Warn("the stored RAMA configuration is refused; scoring with the node's own", "err", err)
		return own, nil
	}
	return c, nil
}

// roundScore stores a score as a whole number, rounding down so that the
// stored number and the band (judged on the unrounded score) agree: 69.7
// is Medium and stays 69.
func roundScore(x float64) int { return int(x) }

// allAssets reads every device without its evidence and top peers, which
// scoring does not use.
func allAssets(ctx context.Context, st store.Assets) ([]event.Asset, error) {
	var out []event.Asset
	q := store.AssetQuery{ListOptions: store.ListOptions{Limit: store.MaxLimit, Sort: store.Sort{Key: "id"}}, Brief: true}
	for {
		p, err := st.ListAssets(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("scoring: list assets: %w", err)
		}
		for _, a := range p.Items {
			out = append(out, a.Asset)
		}
		if p.Next == "" {
			return out, nil
		}
		q.Cursor = p.Next
	}
}

func allFindings(ctx context.Context, st store.Findings) ([]event.Finding, error) {
	var out []event.Finding
	q := store.FindingQuery{ListOptions: store.ListOptions{Limit: store.MaxLimit, Sort: store.Sort{Key: "id"}}}
	for {
		p, err := st.ListFindings(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("scoring: list findings: %w", err)
		}
		for _, f := range p.Items {
			out = append(out, f.Finding) // the stored state: analysts' decisions count
		}
		if p.Next == "" {
			return out, nil
		}
		q.Cursor = p.Next
	}
}

func alertsSince(ctx context.Context, st store.Alerts, since time.Time) ([]event.Alert, error) {
	var out []event.Alert
	q := store.AlertQuery{ListOptions: store.ListOptions{Limit: store.MaxLimit, Sort: store.Sort{Key: "id"}}, Since: since, Brief: true}
	for {
		p, err := st.ListAlerts(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("scoring: list alerts: %w", err)
		}
		out = append(out, p.Items...)
		if p.Next == "" {
			return out, nil
		}
		q.Cursor = p.Next
	}
}
