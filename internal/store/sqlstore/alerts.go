package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

var alertCols = []string{"id", "rule", "category", "severity", "src_ip", "start_us", "end_us", "count", "final", "doc"}

// maxAlertIPs bounds the addresses indexed per alert (the source and the
// first targets): detectors already bound Targets, and the device page
// only needs an alert to be found from the devices it names.
const maxAlertIPs = 256

// hourUS is one hour in microseconds, the rollup's bucket.
const hourUS = int64(time.Hour / time.Microsecond)

func alertRow(a event.Alert) ([]any, error) {
	doc, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode alert %s: %w", a.ID, err)
	}
	return []any{a.ID, a.Rule, a.Category, int64(store.SeverityRank(a.Severity)), ipKey(a.Source.IP),
		us(a.Start), us(alertEnd(a)), count64(a.Count), boolInt(a.Final), string(doc)}, nil
}

// alertEnd is when an alert was last active; an alert that has not said
// yet is as old as its start.
func alertEnd(a event.Alert) time.Time {
	if a.End.IsZero() {
		return a.Start
	}
	return a.End
}

func alertIPRows(a event.Alert) [][]any {
	seen := make(map[[16]byte]bool)
	var rows [][]any
	add := func(e event.Endpoint) {
		if !e.IP.IsValid() || seen[e.IP.As16()] || len(rows) >= maxAlertIPs {
			return
		}
		seen[e.IP.As16()] = true
		rows = append(rows, []any{ipKey(e.IP), a.ID, us(a.Start)})
	}
	add(a.Source)
	for _, t := range a.Targets {
		add(t)
	}
	return rows
}

func alertTagRows(a event.Alert) [][]any {
	seen := make(map[store.TagRef]bool, len(a.Tags))
	var rows [][]any
	for _, t := range a.Tags {
		ref := store.TagRef{Taxonomy: t.Taxonomy, ID: t.ID}
		if seen[ref] {
			continue
		}
		seen[ref] = true
		rows = append(rows, []any{a.ID, t.Taxonomy, t.ID})
	}
	return rows
}

func normalizeAlert(a *event.Alert) error {
	if a.ID == "" {
		return fmt.Errorf("alert without id: %w", store.ErrInvalid)
	}
	a.V, a.Type = event.Version, event.TypeAlert
	a.Start, a.End = a.Start.UTC(), a.End.UTC()
	return nil
}

// UpsertAlert stores an incident update.
func (db *DB) UpsertAlert(ctx context.Context, a event.Alert) error {
	return db.inTx(ctx, func(c conn) error { return upsertAlert(ctx, c, a) })
}

// hourKey is an alert's place in the hourly rollup.
type hourKey struct {
	hour     int64
	category string
	severity int64
}

func alertHourKey(a event.Alert) hourKey {
	return hourKey{hour: floorDiv(us(a.Start), hourUS), category: a.Category, severity: int64(store.SeverityRank(a.Severity))}
}

// floorDiv divides rounding down, so that times before 1970 fall in the
// right bucket.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func upsertAlert(ctx context.Context, c conn, a event.Alert) error {
	if err := normalizeAlert(&a); err != nil {
		return err
	}
	for attempt := 0; attempt < 2; attempt++ {
		var doc string
		err := c.row(ctx, `SELECT doc FROM alerts WHERE id = ?`+c.db.d.ForUpdate, a.ID).Scan(&doc)
		if errors.Is(err, sql.ErrNoRows) {
			inserted, err := insertAlert(ctx, c, a)
			if err != nil || inserted {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read alert %s: %w", a.ID, err)
		}
		var old event.Alert
		if err := json.Unmarshal([]byte(doc), &old); err != nil {
			return fmt.Errorf("decode stored alert %s: %w", a.ID, err)
		}
		return mergeAlert(ctx, c, old, a)
	}
	return fmt.Errorf("upsert alert %s: row vanished while merging", a.ID)
}

func insertAlert(ctx context.Context, c conn, a event.Alert) (bool, error) {
	row, err := alertRow(a)
	if err != nil {
		return false, err
	}
	n, err := c.affected(ctx, `INSERT INTO alerts (`+strings.Join(alertCols, ", ")+`) VALUES (`+placeholders(len(alertCols))+`)
		ON CONFLICT (id) DO NOTHING`, row...)
	if err != nil {
		return false, fmt.Errorf("insert alert %s: %w", a.ID, err)
	}
	if n == 0 {
		return false, nil
	}
	if err := insertAlertChildren(ctx, c, a); err != nil {
		return false, err
	}
	return true, bumpHour(ctx, c, alertHourKey(a), 1)
}

func insertAlertChildren(ctx context.Context, c conn, a event.Alert) error {
	for _, r := range alertIPRows(a) {
		if _, err := c.exec(ctx, `INSERT INTO alert_ips (ip, alert_id, start_us) VALUES (?, ?, ?)`, r...); err != nil {
			return fmt.Errorf("insert address of alert %s: %w", a.ID, err)
		}
	}
	for _, r := range alertTagRows(a) {
		if _, err := c.exec(ctx, `INSERT INTO alert_tags (alert_id, taxonomy, tag) VALUES (?, ?, ?)`, r...); err != nil {
			return fmt.Errorf("insert tag of alert %s: %w", a.ID, err)
		}
	}
	return nil
}

func bumpHour(ctx context.Context, c conn, k hourKey, delta int64) error {
	_, err := c.exec(ctx, `INSERT INTO alert_hourly (hour, category, severity, n) VALUES (?, ?, ?, ?)
		ON CONFLICT (hour, category, severity) DO UPDATE SET n = alert_hourly.n + excluded.n`,
		k.hour, k.category, k.severity, delta)
	return wrapErr(err, "update alert rollup")
}

// mergeAlert applies an incident update: the update that reaches later
// (by End) is kept whole; Start only moves earlier, Count only grows,
// and an incident once final stays final.
func mergeAlert(ctx context.Context, c conn, old, a event.Alert) error {
	merged := old
	if !alertEnd(a).Before(alertEnd(old)) {
		merged = a
	}
	merged.Start = earliest(old.Start, a.Start)
	merged.Count = max(old.Count, a.Count)
	merged.Final = old.Final || a.Final
	row, err := alertRow(merged)
	if err != nil {
		return err
	}
	sets := make([]string, 0, len(alertCols)-1)
	for _, col := range alertCols[1:] {
		sets = append(sets, col+" = ?")
	}
	if _, err := c.exec(ctx, `UPDATE alerts SET `+strings.Join(sets, ", ")+` WHERE id = ?`, append(row[1:], a.ID)...); err != nil {
		return fmt.Errorf("update alert %s: %w", a.ID, err)
	}
	for _, q := range []string{`DELETE FROM alert_ips WHERE alert_id = ?`, `DELETE FROM alert_tags WHERE alert_id = ?`} {
		if _, err := c.exec(ctx, q, a.ID); err != nil {
			return fmt.Errorf("replace children of alert %s: %w", a.ID, err)
		}
	}
	if err := insertAlertChildren(ctx, c, merged); err != nil {
		return err
	}
	if ok, nk := alertHourKey(old), alertHourKey(merged); ok != nk {
		// Touch the two rollup rows in key order, so that two
		// transactions moving alerts between the same hours cannot
		// deadlock on PostgreSQL.
		type bump struct {
			k hourKey
			d int64
		}
		bs := []bump{{ok, -1}, {nk, 1}}
		sort.Slice(bs, func(i, j int) bool { return hourKeyLess(bs[i].k, bs[j].k) })
		for _, b := range bs {
			if err := bumpHour(ctx, c, b.k, b.d); err != nil {
				return err
			}
		}
	}
	return nil
}

func hourKeyLess(a, b hourKey) bool {
	if a.hour != b.hour {
		return a.hour < b.hour
	}
	if a.category != b.category {
		return a.category < b.category
	}
	return a.severity < b.severity
}

// Alert returns one alert.
func (db *DB) Alert(ctx context.Context, id string) (event.Alert, error) {
	var doc string
	err := db.reader().row(ctx, `SELECT doc FROM alerts WHERE id = ?`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return event.Alert{}, notFound("alert", id)
	}
	if err != nil {
		return event.Alert{}, fmt.Errorf("read alert %s: %w", id, err)
	}
	var a event.Alert
	return a, wrapErr(json.Unmarshal([]byte(doc), &a), "decode stored alert %s", id)
}

var alertList = listSpec{
	kind: "alerts",
	from: "alerts",
	cols: "doc",
	id:   "id",
	sorts: map[string]sortCol{
		"start":    {expr: "start_us", numeric: true, index: "alerts_start"},
		"end":      {expr: "end_us", numeric: true, index: "alerts_end"},
		"severity": {expr: "severity", numeric: true, index: "alerts_severity"},
		"count":    {expr: "count", numeric: true, index: "alerts_count"},
		"category": {expr: "category", index: "alerts_category"},
		"id":       {expr: "id"},
	},
	keys: store.AlertSortKeys,
}

// ListAlerts lists alerts.
func (db *DB) ListAlerts(ctx context.Context, q store.AlertQuery) (store.Page[event.Alert], error) {
	var w where
	w.in("category", q.Categories)
	ranks, err := severityRanks(q.Severities)
	if err != nil {
		return store.Page[event.Alert]{}, err
	}
	w.inInts("severity", ranks)
	w.in("rule", q.Rules)
	if q.IP.IsValid() {
		w.add("id IN (SELECT alert_id FROM alert_ips WHERE ip = ?)", ipKey(q.IP))
	}
	tagFilter(&w, "id", "alert_tags", "alert_id", q.Tags)
	if !q.Since.IsZero() {
		w.add("start_us >= ?", us(q.Since))
	}
	if !q.Until.IsZero() {
		w.add("start_us < ?", us(q.Until))
	}
	return list(ctx, db.reader(), alertList, q.ListOptions, w, func(rows *sql.Rows, lead ...any) (event.Alert, error) {
		var doc string
		if err := rows.Scan(append(lead, &doc)...); err != nil {
			return event.Alert{}, err
		}
		var a event.Alert
		var into any = &a
		if q.Brief {
			into = &briefAlert{Alert: &a}
		}
		return a, wrapErr(json.Unmarshal([]byte(doc), into), "decode stored alert")
	})
}

// briefAlert decodes a stored alert without its bulky parts, as
// briefAsset does an asset.
type briefAlert struct {
	*event.Alert
	Description skipJSON `json:"description"`
	Counts      skipJSON `json:"counts"`
	Samples     skipJSON `json:"samples"`
	Evidence    skipJSON `json:"evidence"`
	Remediation skipJSON `json:"remediation"`
}

// maxBuckets bounds a histogram's size.
const maxBuckets = 100_000

// AlertHistogram counts alerts per bucket and category. Buckets of whole
// hours over a range that starts and ends on the hour are summed from the
// hourly rollup (a few thousand rows for a month, whatever the number of
// alerts); other buckets count the alerts themselves.
func (db *DB) AlertHistogram(ctx context.Context, q store.HistogramQuery) ([]store.AlertBucket, error) {
	bucket := int64(q.Bucket / time.Microsecond)
	switch {
	case q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To):
		return nil, fmt.Errorf("alert histogram needs From before To: %w", store.ErrInvalid)
	case bucket < 1_000_000:
		return nil, fmt.Errorf("alert histogram bucket %s shorter than a second: %w", q.Bucket, store.ErrInvalid)
	case (us(q.To)-us(q.From))/bucket > maxBuckets:
		return nil, fmt.Errorf("alert histogram of more than %d buckets: %w", maxBuckets, store.ErrInvalid)
	}
	ranks, err := severityRanks(q.Severities)
	if err != nil {
		return nil, err
	}
	from, to := us(q.From), us(q.To)
	var w where
	var query string
	if bucket%hourUS == 0 && from%hourUS == 0 && to%hourUS == 0 {
		k := bucket / hourUS
		w.add("hour >= ?", from/hourUS)
		w.add("hour < ?", to/hourUS)
		w.inInts("severity", ranks)
		// Buckets start at multiples of the width since the epoch; the
		// range may start inside one (a floor for negative hours too).
		query = fmt.Sprintf(`SELECT (hour - ((hour %% %d) + %d) %% %d) * %d AS b, category, CAST(SUM(n) AS BIGINT) FROM alert_hourly%s GROUP BY b, category HAVING SUM(n) > 0 ORDER BY b, category`,
			k, k, k, hourUS, w.sql())
	} else {
		w.add("start_us >= ?", from)
		w.add("start_us < ?", to)
		w.inInts("severity", ranks)
		query = fmt.Sprintf(`SELECT (start_us - ((start_us %% %d) + %d) %% %d) AS b, category, COUNT(*) FROM alerts%s GROUP BY b, category ORDER BY b, category`,
			bucket, bucket, bucket, w.sql())
	}
	rows, err := db.reader().query(ctx, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("alert histogram: %w", err)
	}
	defer rows.Close()
	var out []store.AlertBucket
	for rows.Next() {
		var b store.AlertBucket
		var start int64
		if err := rows.Scan(&start, &b.Category, &b.Count); err != nil {
			return nil, fmt.Errorf("alert histogram: %w", err)
		}
		b.Start = time.UnixMicro(start).UTC()
		out = append(out, b)
	}
	return out, wrapErr(rows.Err(), "alert histogram")
}
