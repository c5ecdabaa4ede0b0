package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

// v4Mapped is where IPv4 addresses live among the stored 16-byte keys.
var v4Mapped = netip.MustParsePrefix("::ffff:0:0/96")

// maxTextFilter bounds the text search a client can send.
const maxTextFilter = 256

// assetCols are the columns of an assets row, in the order assetRow
// gives them.
var assetCols = []string{"id", "name", "mac", "role", "vendor", "model", "first_seen", "last_seen", "risk", "band", "risk_day", "search", "doc"}

// assetRow is an asset's row; risk columns come from its latest score.
func assetRow(a event.Asset, r *store.Risk) ([]any, error) {
	doc, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode asset %s: %w", a.ID, err)
	}
	risk, band, day := int64(-1), store.BandNone, ""
	if r != nil {
		risk, band, day = int64(r.Score), r.Band, dayText(r.Day)
	}
	return []any{a.ID, a.Hostname, strings.ToLower(a.MAC), a.Role, a.Vendor, a.Model,
		us(a.FirstSeen), us(a.LastSeen), risk, band, day, assetSearch(a), string(doc)}, nil
}

// assetSearch is the lower-case text the asset text filter matches: the
// names and addresses an analyst types (vendor and model have filters of
// their own; every byte here is read by each text search).
func assetSearch(a event.Asset) string {
	parts := []string{a.Hostname, a.MAC}
	for _, ip := range a.IPs {
		parts = append(parts, ip.String())
	}
	return strings.ToLower(strings.Join(parts, " | "))
}

// assetIPRows are the asset_ips rows of an asset.
func assetIPRows(a event.Asset) [][]any {
	seen := make(map[[16]byte]bool, len(a.IPs))
	var rows [][]any
	for _, ip := range a.IPs {
		if !ip.IsValid() || seen[ip.As16()] {
			continue
		}
		seen[ip.As16()] = true
		rows = append(rows, []any{ipKey(ip), a.ID})
	}
	return rows
}

func normalizeAsset(a *event.Asset) error {
	if a.ID == "" {
		return fmt.Errorf("asset without id: %w", store.ErrInvalid)
	}
	a.V, a.Type = event.Version, event.TypeAsset
	a.FirstSeen, a.LastSeen = a.FirstSeen.UTC(), a.LastSeen.UTC()
	return nil
}

// UpsertAsset stores an asset snapshot.
func (db *DB) UpsertAsset(ctx context.Context, a event.Asset) error {
	return db.inTx(ctx, func(c conn) error { return upsertAsset(ctx, c, a) })
}

func upsertAsset(ctx context.Context, c conn, a event.Asset) error {
	if err := normalizeAsset(&a); err != nil {
		return err
	}
	for attempt := 0; attempt < 2; attempt++ {
		var first, last int64
		var doc string
		err := c.row(ctx, `SELECT first_seen, last_seen, doc FROM assets WHERE id = ?`+c.db.d.ForUpdate, a.ID).Scan(&first, &last, &doc)
		if errors.Is(err, sql.ErrNoRows) {
			inserted, err := insertAsset(ctx, c, a)
			if err != nil || inserted {
				return err
			}
			continue // another transaction inserted it first: merge into theirs
		}
		if err != nil {
			return fmt.Errorf("read asset %s: %w", a.ID, err)
		}
		return mergeAsset(ctx, c, a, first, last, doc)
	}
	return fmt.Errorf("upsert asset %s: row vanished while merging", a.ID)
}

func insertAsset(ctx context.Context, c conn, a event.Asset) (bool, error) {
	risk, err := latestRisk(ctx, c, a.ID)
	if err != nil {
		return false, err
	}
	row, err := assetRow(a, risk)
	if err != nil {
		return false, err
	}
	n, err := c.affected(ctx, `INSERT INTO assets (`+strings.Join(assetCols, ", ")+`) VALUES (`+placeholders(len(assetCols))+`)
		ON CONFLICT (id) DO NOTHING`, row...)
	if err != nil {
		return false, fmt.Errorf("insert asset %s: %w", a.ID, err)
	}
	if n == 0 {
		return false, nil
	}
	return true, insertAssetIPs(ctx, c, a)
}

func insertAssetIPs(ctx context.Context, c conn, a event.Asset) error {
	for _, r := range assetIPRows(a) {
		if _, err := c.exec(ctx, `INSERT INTO asset_ips (ip, asset_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, r...); err != nil {
			return fmt.Errorf("insert address of asset %s: %w", a.ID, err)
		}
	}
	return nil
}

// mergeAsset applies a snapshot to a stored asset: the newer snapshot
// (by LastSeen) is kept whole; FirstSeen is the earliest either knew.
func mergeAsset(ctx context.Context, c conn, a event.Asset, first, last int64, doc string) error {
	if first != 0 && (a.FirstSeen.IsZero() || first < us(a.FirstSeen)) {
		a.FirstSeen = fromUS(first)
	}
	if us(a.LastSeen) < last {
		// An older snapshot delivered late: keep the stored one, but it
		// may know an earlier first sighting.
		if us(a.FirstSeen) == first || a.FirstSeen.IsZero() {
			return nil
		}
		var old event.Asset
		if err := json.Unmarshal([]byte(doc), &old); err != nil {
			return fmt.Errorf("decode stored asset %s: %w", a.ID, err)
		}
		old.FirstSeen = a.FirstSeen
		b, err := json.Marshal(old)
		if err != nil {
			return fmt.Errorf("encode asset %s: %w", a.ID, err)
		}
		_, err = c.exec(ctx, `UPDATE assets SET first_seen = ?, doc = ? WHERE id = ?`, us(old.FirstSeen), string(b), a.ID)
		return wrapErr(err, "update asset %s", a.ID)
	}
	row, err := assetRow(a, nil)
	if err != nil {
		return err
	}
	// Risk columns belong to PutScore: leave them.
	_, err = c.exec(ctx, `UPDATE assets SET name = ?, mac = ?, role = ?, vendor = ?, model = ?, first_seen = ?, last_seen = ?, search = ?, doc = ? WHERE id = ?`,
		row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[11], row[12], a.ID)
	if err != nil {
		return fmt.Errorf("update asset %s: %w", a.ID, err)
	}
	if _, err := c.exec(ctx, `DELETE FROM asset_ips WHERE asset_id = ?`, a.ID); err != nil {
		return fmt.Errorf("replace addresses of asset %s: %w", a.ID, err)
	}
	return insertAssetIPs(ctx, c, a)
}

// latestRisk is the device's latest score, nil when it has none.
func latestRisk(ctx context.Context, c conn, id string) (*store.Risk, error) {
	var score int
	var band, day string
	err := c.row(ctx, `SELECT score, band, day FROM scores WHERE kind = ? AND subject = ? ORDER BY day DESC LIMIT 1`,
		string(store.ScoreDevice), id).Scan(&score, &band, &day)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read latest score of %s: %w", id, err)
	}
	d, err := parseDay(day)
	if err != nil {
		return nil, err
	}
	return &store.Risk{Score: score, Band: band, Day: d}, nil
}

const assetSelect = `doc, risk, band, risk_day`

func scanAsset(rows interface{ Scan(...any) error }, brief bool, lead ...any) (store.Asset, error) {
	var doc, band, day string
	var risk int
	if err := rows.Scan(append(lead, &doc, &risk, &band, &day)...); err != nil {
		return store.Asset{}, err
	}
	var a store.Asset
	var into any = &a.Asset
	if brief {
		into = &briefAsset{Asset: &a.Asset}
	}
	if err := json.Unmarshal([]byte(doc), into); err != nil {
		return store.Asset{}, fmt.Errorf("decode stored asset: %w", err)
	}
	if risk >= 0 {
		d, err := parseDay(day)
		if err != nil {
			return store.Asset{}, err
		}
		a.Risk = &store.Risk{Score: risk, Band: band, Day: d}
	}
	return a, nil
}

// briefAsset decodes a stored asset without its evidence and top peers:
// its own fields of those names are shallower than the embedded asset's,
// so encoding/json fills them instead, and they keep nothing.
type briefAsset struct {
	*event.Asset
	Evidence skipJSON `json:"evidence"`
	TopPeers skipJSON `json:"top_peers"`
}

// skipJSON takes any JSON value and keeps none of it.
type skipJSON struct{}

func (*skipJSON) UnmarshalJSON([]byte) error { return nil }

// Asset returns one asset.
func (db *DB) Asset(ctx context.Context, id string) (store.Asset, error) {
	a, err := scanAsset(db.reader().row(ctx, `SELECT `+assetSelect+` FROM assets WHERE id = ?`, id), false)
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("asset", id)
	}
	return a, wrapErr(err, "read asset %s", id)
}

var assetList = listSpec{
	kind: "assets",
	from: "assets",
	cols: assetSelect,
	id:   "id",
	sorts: map[string]sortCol{
		"risk":       {expr: "risk", numeric: true, index: "assets_risk"},
		"role":       {expr: "role", index: "assets_role"},
		"vendor":     {expr: "vendor", index: "assets_vendor"},
		"model":      {expr: "model", index: "assets_model"},
		"last_seen":  {expr: "last_seen", numeric: true, index: "assets_last_seen"},
		"first_seen": {expr: "first_seen", numeric: true, index: "assets_first_seen"},
		"name":       {expr: "name", index: "assets_name"},
		"id":         {expr: "id"},
	},
	keys: store.AssetSortKeys,
}

// ListAssets lists assets.
func (db *DB) ListAssets(ctx context.Context, q store.AssetQuery) (store.Page[store.Asset], error) {
	var w where
	w.in("role", q.Roles)
	w.in("vendor", q.Vendors)
	w.in("model", q.Models)
	w.in("band", q.Bands)
	if q.Network.IsValid() {
		lo, hi := prefixRange(q.Network)
		cond, args := "ip >= ? AND ip <= ?", []any{lo, hi}
		if q.Network.Addr().Is6() && q.Network.Bits() <= 96 && q.Network.Overlaps(v4Mapped) {
			// IPv4 addresses are stored mapped into ::ffff:0:0/96; an IPv6
			// prefix as wide as ::/0 means IPv6 devices, not those.
			mlo, mhi := prefixRange(v4Mapped)
			cond, args = cond+" AND NOT (ip >= ? AND ip <= ?)", append(args, mlo, mhi)
		}
		if len(w.clauses) == 0 && q.SeenAfter.IsZero() && q.SeenBefore.IsZero() && q.Text == "" {
			// The prefix alone decides: count the devices in the address
			// index, without probing 30,000 assets one by one.
			w.count, w.countArgs = "SELECT COUNT(DISTINCT asset_id) FROM asset_ips WHERE "+cond, args
		}
		w.add("id IN (SELECT asset_id FROM asset_ips WHERE "+cond+")", args...)
	}
	if !q.SeenAfter.IsZero() {
		w.add("last_seen >= ?", us(q.SeenAfter))
	}
	if !q.SeenBefore.IsZero() {
		w.add("last_seen < ?", us(q.SeenBefore))
	}
	if q.Text != "" {
		if len(q.Text) > maxTextFilter {
			return store.Page[store.Asset]{}, fmt.Errorf("asset text filter longer than %d bytes: %w", maxTextFilter, store.ErrInvalid)
		}
		pattern := "%" + likeEscape(strings.ToLower(q.Text)) + "%"
		// A substring match reads every row: read the narrow search index
		// instead of the rows with their documents (a tenth of the bytes
		// at 100,000 devices), then fetch only the matches.
		if db.d.Hints {
			w.add(`rowid IN (SELECT rowid FROM assets INDEXED BY assets_search WHERE search LIKE ? ESCAPE '\')`, pattern)
		} else {
			// OFFSET 0 keeps PostgreSQL from merging the subquery into the
			// page's query, where it walked all 100,000 devices by risk to
			// count the matches.
			w.add(`id IN (SELECT id FROM assets WHERE search LIKE ? ESCAPE '\' OFFSET 0)`, pattern)
		}
		// Few devices match a typed text: plan without a count, and count
		// them in the same pass as the first page.
		w.noHint, w.windowCount = true, true
	}
	return list(ctx, db.reader(), assetList, q.ListOptions, w, func(rows *sql.Rows, lead ...any) (store.Asset, error) {
		return scanAsset(rows, q.Brief, lead...)
	})
}

// CountAssetsByBand counts devices per risk band.
func (db *DB) CountAssetsByBand(ctx context.Context) (map[string]int64, error) {
	rows, err := db.reader().query(ctx, `SELECT band, COUNT(*) FROM assets GROUP BY band`)
	if err != nil {
		return nil, fmt.Errorf("count assets by band: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64, len(store.Bands)+1)
	for rows.Next() {
		var band string
		var n int64
		if err := rows.Scan(&band, &n); err != nil {
			return nil, fmt.Errorf("count assets by band: %w", err)
		}
		out[band] = n
	}
	return out, wrapErr(rows.Err(), "count assets by band")
}

// wrapErr adds context to a non-nil error.
func wrapErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
