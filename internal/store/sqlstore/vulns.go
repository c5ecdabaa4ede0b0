package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/heir-emd/heir/internal/store"
)

var vulnCols = []string{"id", "asset_id", "cve", "status", "kev", "risk", "cvss", "epss", "updated_us", "doc"}

// vulnRow is a vulnerability as stored: CVSS in tenths and EPSS in
// millionths (-1 when unknown), so that sorts and cursors are integers.
func vulnRow(v store.Vulnerability) ([]any, error) {
	doc, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode vulnerability %s: %w", v.ID, err)
	}
	epss := int64(-1)
	if v.EPSS != nil {
		epss = int64(*v.EPSS*1e6 + 0.5)
	}
	return []any{v.ID, v.Asset, v.CVE, v.Status, boolInt(v.KEV), store.VulnRisk(v), int64(v.CVSS*10 + 0.5), epss,
		us(v.Updated), string(doc)}, nil
}

// ReplaceVulnerabilities replaces each device's match set.
func (db *DB) ReplaceVulnerabilities(ctx context.Context, sets []store.VulnSet) error {
	rows := make([][][]any, len(sets))
	assets := make(map[string]bool, len(sets))
	for i, s := range sets {
		if s.Asset == "" {
			return fmt.Errorf("vulnerability set without device: %w", store.ErrInvalid)
		}
		if assets[s.Asset] {
			return fmt.Errorf("two vulnerability sets for device %s: %w", s.Asset, store.ErrInvalid)
		}
		assets[s.Asset] = true
		if len(s.Items) > store.MaxVulnsPerAsset {
			return fmt.Errorf("%d vulnerabilities for device %s (at most %d): %w", len(s.Items), s.Asset, store.MaxVulnsPerAsset, store.ErrInvalid)
		}
		cves := make(map[string]bool, len(s.Items))
		for _, v := range s.Items {
			v.Asset, v.ID = s.Asset, s.Asset+"|"+v.CVE
			v.Updated = s.At.UTC()
			if err := v.Validate(); err != nil {
				return err
			}
			if cves[v.CVE] {
				return fmt.Errorf("vulnerability %s twice for device %s: %w", v.CVE, s.Asset, store.ErrInvalid)
			}
			cves[v.CVE] = true
			r, err := vulnRow(v)
			if err != nil {
				return err
			}
			rows[i] = append(rows[i], r)
		}
	}
	ins := `INSERT INTO vulnerabilities (` + strings.Join(vulnCols, ", ") + `) VALUES (` + placeholders(len(vulnCols)) + `)`
	return db.inTx(ctx, func(c conn) error {
		for i, s := range sets {
			if _, err := c.exec(ctx, `DELETE FROM vulnerabilities WHERE asset_id = ?`, s.Asset); err != nil {
				return fmt.Errorf("replace vulnerabilities of %s: %w", s.Asset, err)
			}
			for _, r := range rows[i] {
				if _, err := c.exec(ctx, ins, r...); err != nil {
					return fmt.Errorf("store vulnerability %s: %w", r[0], err)
				}
			}
		}
		return nil
	})
}

var vulnList = listSpec{
	kind: "vulnerabilities",
	from: "vulnerabilities",
	cols: "doc",
	id:   "id",
	sorts: map[string]sortCol{
		"risk":  {expr: "risk", numeric: true, index: "vulnerabilities_risk"},
		"cvss":  {expr: "cvss", numeric: true, index: "vulnerabilities_cvss"},
		"epss":  {expr: "epss", numeric: true, index: "vulnerabilities_epss"},
		"cve":   {expr: "cve", index: "vulnerabilities_cve"},
		"asset": {expr: "asset_id", index: "vulnerabilities_asset_id"},
		"id":    {expr: "id"},
	},
	keys: store.VulnSortKeys,
}

// ListVulnerabilities lists stored vulnerabilities.
func (db *DB) ListVulnerabilities(ctx context.Context, q store.VulnQuery) (store.Page[store.Vulnerability], error) {
	var w where
	for _, s := range q.Statuses {
		if !slices.Contains(store.VulnStatuses, s) {
			return store.Page[store.Vulnerability]{}, fmt.Errorf("vulnerability status %q (want one of %s): %w", s, strings.Join(store.VulnStatuses, ", "), store.ErrInvalid)
		}
	}
	switch {
	case q.MinCVSS < 0 || q.MinCVSS > 10:
		return store.Page[store.Vulnerability]{}, fmt.Errorf("minimum CVSS %v outside 0–10: %w", q.MinCVSS, store.ErrInvalid)
	case q.MinEPSS < 0 || q.MinEPSS > 1:
		return store.Page[store.Vulnerability]{}, fmt.Errorf("minimum EPSS %v outside 0–1: %w", q.MinEPSS, store.ErrInvalid)
	}
	w.in("asset_id", q.Assets)
	w.in("cve", q.CVEs)
	w.in("status", q.Statuses)
	if q.KEV != nil {
		w.add("kev = ?", boolInt(*q.KEV))
	}
	if q.MinCVSS > 0 {
		w.add("cvss >= ?", int64(q.MinCVSS*10+0.5))
	}
	if q.MinEPSS > 0 {
		w.add("epss >= ?", int64(q.MinEPSS*1e6+0.5))
	}
	if len(q.Assets) == 1 {
		// One device's list reads its own rows (a few, by the asset
		// index) whatever the sort: no index hint, and the count
		// comes with the page.
		w.noHint, w.windowCount = true, true
	}
	return list(ctx, db.reader(), vulnList, q.ListOptions, w, func(rows *sql.Rows, lead ...any) (store.Vulnerability, error) {
		var doc string
		if err := rows.Scan(append(lead, &doc)...); err != nil {
			return store.Vulnerability{}, err
		}
		var v store.Vulnerability
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			return v, fmt.Errorf("decode stored vulnerability: %w", err)
		}
		return v, nil
	})
}
