package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

// Bulk loads many new records fast, for imports into an empty database
// and for the load benchmarks. It writes the same rows the upserts write
// but skips their merge rules: every id must be new (a repeated id fails
// the load). Call Finish once at the end to rebuild what the upserts
// maintain as they go (the alert rollup, the finding counts per tag, each
// device's current risk) and
// to refresh the planner's statistics.
type Bulk struct{ db *DB }

// Bulk starts a bulk load.
func (db *DB) Bulk() *Bulk { return &Bulk{db: db} }

func (b *Bulk) copy(ctx context.Context, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if err := b.db.d.Copy(ctx, table, cols, rows); err != nil {
		return fmt.Errorf("bulk load %s: %w", table, err)
	}
	return nil
}

// Assets loads new assets (their risk comes from Finish).
func (b *Bulk) Assets(ctx context.Context, as []event.Asset) error {
	rows := make([][]any, 0, len(as))
	var ips [][]any
	for _, a := range as {
		if err := normalizeAsset(&a); err != nil {
			return err
		}
		r, err := assetRow(a, nil)
		if err != nil {
			return err
		}
		rows = append(rows, r)
		ips = append(ips, assetIPRows(a)...)
	}
	if err := b.copy(ctx, "assets", assetCols, rows); err != nil {
		return err
	}
	return b.copy(ctx, "asset_ips", []string{"ip", "asset_id"}, ips)
}

// Findings loads new findings, each in the state it carries (open when
// it carries none).
func (b *Bulk) Findings(ctx context.Context, fs []event.Finding) error {
	rows := make([][]any, 0, len(fs))
	var tags [][]any
	for _, f := range fs {
		if err := normalizeFinding(&f); err != nil {
			return err
		}
		st := findingState{State: f.State}
		if st.State == "" {
			st.State = event.StateOpen
		}
		r, err := findingRow(f, st)
		if err != nil {
			return err
		}
		rows = append(rows, r)
		tags = append(tags, findingTagRows(f, st.State)...)
	}
	if err := b.copy(ctx, "findings", findingCols, rows); err != nil {
		return err
	}
	return b.copy(ctx, "finding_tags", []string{"finding_id", "taxonomy", "tag", "state"}, tags)
}

// Alerts loads new alerts (the rollup comes from Finish).
func (b *Bulk) Alerts(ctx context.Context, as []event.Alert) error {
	rows := make([][]any, 0, len(as))
	var ips, tags [][]any
	for _, a := range as {
		if err := normalizeAlert(&a); err != nil {
			return err
		}
		r, err := alertRow(a)
		if err != nil {
			return err
		}
		rows = append(rows, r)
		ips = append(ips, alertIPRows(a)...)
		tags = append(tags, alertTagRows(a)...)
	}
	if err := b.copy(ctx, "alerts", alertCols, rows); err != nil {
		return err
	}
	if err := b.copy(ctx, "alert_ips", []string{"ip", "alert_id", "start_us"}, ips); err != nil {
		return err
	}
	return b.copy(ctx, "alert_tags", []string{"alert_id", "taxonomy", "tag"}, tags)
}

// Scores loads new scores.
func (b *Bulk) Scores(ctx context.Context, ss []store.Score) error {
	rows := make([][]any, 0, len(ss))
	now := b.db.now()
	for _, s := range ss {
		if err := s.Validate(); err != nil {
			return err
		}
		rows = append(rows, scoreRow(s, now))
	}
	return b.copy(ctx, "scores", scoreCols, rows)
}

// Vulnerabilities loads the match sets of devices that have none yet, as
// ReplaceVulnerabilities stores them (each match's id is the device and
// CVE, its time the set's). A device's second set, or a CVE twice in one
// set, is a repeated id and fails the load.
func (b *Bulk) Vulnerabilities(ctx context.Context, sets []store.VulnSet) error {
	n := 0
	for _, s := range sets {
		n += len(s.Items)
	}
	rows := make([][]any, 0, n)
	for _, s := range sets {
		if s.Asset == "" {
			return fmt.Errorf("vulnerability set without device: %w", store.ErrInvalid)
		}
		if len(s.Items) > store.MaxVulnsPerAsset {
			return fmt.Errorf("%d vulnerabilities for device %s (at most %d): %w", len(s.Items), s.Asset, store.MaxVulnsPerAsset, store.ErrInvalid)
		}
		for _, v := range s.Items {
			v.Asset, v.ID, v.Updated = s.Asset, s.Asset+"|"+v.CVE, s.At.UTC()
			if err := v.Validate(); err != nil {
				return err
			}
			r, err := vulnRow(v)
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
	}
	return b.copy(ctx, "vulnerabilities", vulnCols, rows)
}

// Finish rebuilds the alert rollup, the finding counts per tag and the
// devices' current risk, and
// refreshes the planner's statistics.
func (b *Bulk) Finish(ctx context.Context) error {
	start := time.Now()
	err := b.db.inTx(ctx, func(c conn) error {
		steps := []struct{ what, sql string }{
			{"clear alert rollup", `DELETE FROM alert_hourly`},
			// Integer division rounds toward zero; alerts before 1970
			// are not a case worth a floor here (the upserts do floor).
			{"rebuild alert rollup", fmt.Sprintf(`INSERT INTO alert_hourly (hour, category, severity, n)
				SELECT start_us / %d, category, severity, COUNT(*) FROM alerts GROUP BY start_us / %d, category, severity`, hourUS, hourUS)},
			{"clear finding tag counts", `DELETE FROM finding_tag_counts`},
			{"rebuild finding tag counts", `INSERT INTO finding_tag_counts (taxonomy, tag, state, n)
				SELECT taxonomy, tag, state, COUNT(*) FROM finding_tags GROUP BY taxonomy, tag, state`},
			{"set device risk", `UPDATE assets SET risk = l.score, band = l.band, risk_day = l.day
				FROM (SELECT s.subject, s.score, s.band, s.day FROM scores s
					WHERE s.kind = 'device' AND s.day = (SELECT MAX(s2.day) FROM scores s2 WHERE s2.kind = 'device' AND s2.subject = s.subject)) AS l
				WHERE assets.id = l.subject`},
		}
		for _, s := range steps {
			if _, err := c.exec(ctx, s.sql); err != nil {
				return fmt.Errorf("bulk load: %s: %w", s.what, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	analyze := b.db.d.Analyze
	if analyze == "" {
		analyze = "ANALYZE"
	}
	if _, err := b.db.w.ExecContext(ctx, analyze); err != nil {
		return fmt.Errorf("bulk load: analyze: %w", err)
	}
	b.db.log.InfoContext(ctx, "bulk load finished", "backend", b.db.d.Name, "took", time.Since(start))
	return nil
}
