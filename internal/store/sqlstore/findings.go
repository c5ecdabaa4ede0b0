package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

// SystemActor is the audit actor of changes heir makes by itself (a fixed
// finding reopened by a new sighting).
const SystemActor = "heir"

var findingCols = []string{"id", "asset_id", "rule", "kind", "severity", "state", "ip", "proto",
	"first_seen", "last_seen", "count", "comment", "state_by", "state_at", "doc"}

// findingState is what the store owns of a finding: the analyst's part.
type findingState struct {
	State   string
	Comment string
	By      string
	At      int64
}

func findingRow(f event.Finding, st findingState) ([]any, error) {
	f.State = st.State
	doc, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode finding %s: %w", f.ID, err)
	}
	return []any{f.ID, f.Asset, f.Rule, f.Kind, int64(store.SeverityRank(f.Severity)), st.State, ipKey(f.Endpoint.IP), f.Proto,
		us(f.FirstSeen), us(f.LastSeen), count64(f.Count), st.Comment, st.By, st.At, string(doc)}, nil
}

func findingTagRows(f event.Finding, state string) [][]any {
	seen := make(map[store.TagRef]bool, len(f.Tags))
	var rows [][]any
	for _, t := range f.Tags {
		ref := store.TagRef{Taxonomy: t.Taxonomy, ID: t.ID}
		if seen[ref] {
			continue
		}
		seen[ref] = true
		rows = append(rows, []any{f.ID, t.Taxonomy, t.ID, state})
	}
	return rows
}

func normalizeFinding(f *event.Finding) error {
	if f.ID == "" {
		return fmt.Errorf("finding without id: %w", store.ErrInvalid)
	}
	f.V, f.Type = event.Version, event.TypeFinding
	f.FirstSeen, f.LastSeen = f.FirstSeen.UTC(), f.LastSeen.UTC()
	return nil
}

// UpsertFinding records a sighting of a finding.
func (db *DB) UpsertFinding(ctx context.Context, f event.Finding) error {
	return db.inTx(ctx, func(c conn) error { return upsertFinding(ctx, c, f) })
}

func upsertFinding(ctx context.Context, c conn, f event.Finding) error {
	if err := normalizeFinding(&f); err != nil {
		return err
	}
	for attempt := 0; attempt < 2; attempt++ {
		old, st, err := readFinding(ctx, c, f.ID, true)
		if errors.Is(err, store.ErrNotFound) {
			state := f.State
			if !slices.Contains(store.FindingStates, state) {
				state = event.StateOpen
			}
			inserted, err := insertFinding(ctx, c, f, findingState{State: state})
			if err != nil || inserted {
				return err
			}
			continue // inserted concurrently: merge into it
		}
		if err != nil {
			return err
		}
		return mergeFinding(ctx, c, old, st, f)
	}
	return fmt.Errorf("upsert finding %s: row vanished while merging", f.ID)
}

func insertFinding(ctx context.Context, c conn, f event.Finding, st findingState) (bool, error) {
	row, err := findingRow(f, st)
	if err != nil {
		return false, err
	}
	n, err := c.affected(ctx, `INSERT INTO findings (`+strings.Join(findingCols, ", ")+`) VALUES (`+placeholders(len(findingCols))+`)
		ON CONFLICT (id) DO NOTHING`, row...)
	if err != nil {
		return false, fmt.Errorf("insert finding %s: %w", f.ID, err)
	}
	if n == 0 {
		return false, nil
	}
	return true, insertFindingTags(ctx, c, f, st.State)
}

func insertFindingTags(ctx context.Context, c conn, f event.Finding, state string) error {
	counts := tagCounts{}
	for _, r := range findingTagRows(f, state) {
		if _, err := c.exec(ctx, `INSERT INTO finding_tags (finding_id, taxonomy, tag, state) VALUES (?, ?, ?, ?)`, r...); err != nil {
			return fmt.Errorf("insert tag of finding %s: %w", f.ID, err)
		}
		counts.add(r[1].(string), r[2].(string), state, 1)
	}
	return counts.apply(ctx, c)
}

// tagKey is a row of finding_tag_counts.
type tagKey struct{ taxonomy, tag, state string }

// tagCounts collects changes to finding_tag_counts within a transaction.
type tagCounts map[tagKey]int64

func (tc tagCounts) add(taxonomy, tag, state string, d int64) {
	tc[tagKey{taxonomy, tag, state}] += d
}

// apply writes the changes in key order, so that two transactions
// counting the same tags cannot deadlock on PostgreSQL.
func (tc tagCounts) apply(ctx context.Context, c conn) error {
	keys := make([]tagKey, 0, len(tc))
	for k, d := range tc {
		if d != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b tagKey) int {
		return strings.Compare(a.taxonomy+"\x00"+a.state+"\x00"+a.tag, b.taxonomy+"\x00"+b.state+"\x00"+b.tag)
	})
	for _, k := range keys {
		if _, err := c.exec(ctx, `INSERT INTO finding_tag_counts (taxonomy, tag, state, n) VALUES (?, ?, ?, ?)
			ON CONFLICT (taxonomy, state, tag) DO UPDATE SET n = finding_tag_counts.n + excluded.n`,
			k.taxonomy, k.tag, k.state, tc[k]); err != nil {
			return fmt.Errorf("count finding tags: %w", err)
		}
	}
	return nil
}

// storedTags reads a finding's tag rows.
func storedTags(ctx context.Context, c conn, id string) ([]store.TagRef, error) {
	rows, err := c.query(ctx, `SELECT taxonomy, tag FROM finding_tags WHERE finding_id = ? ORDER BY taxonomy, tag`, id)
	if err != nil {
		return nil, fmt.Errorf("read tags of finding %s: %w", id, err)
	}
	defer rows.Close()
	var out []store.TagRef
	for rows.Next() {
		var t store.TagRef
		if err := rows.Scan(&t.Taxonomy, &t.ID); err != nil {
			return nil, fmt.Errorf("read tags of finding %s: %w", id, err)
		}
		out = append(out, t)
	}
	return out, wrapErr(rows.Err(), "read tags of finding %s", id)
}

// replaceFindingTags rewrites a finding's tags and their counts; a
// sighting with the same tags in the same state (the common case) writes
// nothing.
func replaceFindingTags(ctx context.Context, c conn, f event.Finding, oldState, newState string) error {
	old, err := storedTags(ctx, c, f.ID)
	if err != nil {
		return err
	}
	var next []store.TagRef
	for _, r := range findingTagRows(f, newState) {
		next = append(next, store.TagRef{Taxonomy: r[1].(string), ID: r[2].(string)})
	}
	slices.SortFunc(next, func(a, b store.TagRef) int { return strings.Compare(a.Taxonomy+"\x00"+a.ID, b.Taxonomy+"\x00"+b.ID) })
	if oldState == newState && slices.Equal(old, next) {
		return nil
	}
	if _, err := c.exec(ctx, `DELETE FROM finding_tags WHERE finding_id = ?`, f.ID); err != nil {
		return fmt.Errorf("replace tags of finding %s: %w", f.ID, err)
	}
	counts := tagCounts{}
	for _, t := range old {
		counts.add(t.Taxonomy, t.ID, oldState, -1)
	}
	if err := counts.apply(ctx, c); err != nil {
		return err
	}
	return insertFindingTags(ctx, c, f, newState)
}

// mergeFinding applies a sighting to a stored finding. The newer
// sighting's description, evidence and tags win; FirstSeen only moves
// earlier and Count only grows (sightings are cumulative snapshots, and a
// redelivered or late one must not lower them). The analyst's state and
// comment stay — except that a finding marked fixed and seen again after
// that reopens.
func mergeFinding(ctx context.Context, c conn, old event.Finding, st findingState, f event.Finding) error {
	merged := old
	if !f.LastSeen.Before(old.LastSeen) {
		merged = f
	}
	merged.FirstSeen = earliest(old.FirstSeen, f.FirstSeen)
	merged.Count = max(old.Count, f.Count)

	newState := st
	if st.State == event.StateFixed && us(f.LastSeen) > st.At {
		newState = findingState{State: event.StateOpen, Comment: st.Comment, By: SystemActor, At: us(c.db.now())}
		before, _ := json.Marshal(map[string]string{"state": st.State})
		after, _ := json.Marshal(map[string]string{"state": event.StateOpen})
		if _, err := appendAudit(ctx, c, store.AuditEntry{
			Actor: SystemActor, Action: "finding.reopen", ObjectType: "finding", ObjectID: f.ID,
			Reason: fmt.Sprintf("seen again at %s after it was marked fixed", f.LastSeen.Format(time.RFC3339)),
			Before: before, After: after,
		}); err != nil {
			return err
		}
	}
	row, err := findingRow(merged, newState)
	if err != nil {
		return err
	}
	sets := make([]string, 0, len(findingCols)-1)
	for _, col := range findingCols[1:] {
		sets = append(sets, col+" = ?")
	}
	if _, err := c.exec(ctx, `UPDATE findings SET `+strings.Join(sets, ", ")+` WHERE id = ?`, append(row[1:], f.ID)...); err != nil {
		return fmt.Errorf("update finding %s: %w", f.ID, err)
	}
	return replaceFindingTags(ctx, c, merged, st.State, newState.State)
}

// earliest is the earlier of two times, ignoring zero ones.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// readFinding reads a stored finding, locking its row when forUpdate.
func readFinding(ctx context.Context, c conn, id string, forUpdate bool) (event.Finding, findingState, error) {
	q := `SELECT doc, state, comment, state_by, state_at FROM findings WHERE id = ?`
	if forUpdate {
		q += c.db.d.ForUpdate
	}
	var doc string
	var st findingState
	err := c.row(ctx, q, id).Scan(&doc, &st.State, &st.Comment, &st.By, &st.At)
	if errors.Is(err, sql.ErrNoRows) {
		return event.Finding{}, st, notFound("finding", id)
	}
	if err != nil {
		return event.Finding{}, st, fmt.Errorf("read finding %s: %w", id, err)
	}
	var f event.Finding
	if err := json.Unmarshal([]byte(doc), &f); err != nil {
		return f, st, fmt.Errorf("decode stored finding %s: %w", id, err)
	}
	return f, st, nil
}

func toStoreFinding(f event.Finding, st findingState) store.Finding {
	f.State = st.State
	return store.Finding{Finding: f, Comment: st.Comment, StateBy: st.By, StateAt: fromUS(st.At)}
}

// Finding returns one finding.
func (db *DB) Finding(ctx context.Context, id string) (store.Finding, error) {
	f, st, err := readFinding(ctx, db.reader(), id, false)
	if err != nil {
		return store.Finding{}, err
	}
	return toStoreFinding(f, st), nil
}

// maxComment bounds an analyst's comment.
const maxComment = 4096

// TriageFinding records an analyst's decision.
func (db *DB) TriageFinding(ctx context.Context, t store.Triage) (store.Finding, error) {
	switch {
	case !slices.Contains(store.FindingStates, t.State):
		return store.Finding{}, fmt.Errorf("finding state %q (want one of %s): %w", t.State, strings.Join(store.FindingStates, ", "), store.ErrInvalid)
	case t.Actor == "":
		return store.Finding{}, fmt.Errorf("triage of finding %s without actor: %w", t.ID, store.ErrInvalid)
	case len(t.Comment) > maxComment:
		return store.Finding{}, fmt.Errorf("comment longer than %d bytes: %w", maxComment, store.ErrInvalid)
	}
	var out store.Finding
	err := db.inTx(ctx, func(c conn) error {
		f, st, err := readFinding(ctx, c, t.ID, true)
		if err != nil {
			return err
		}
		next := findingState{State: t.State, Comment: t.Comment, By: t.Actor, At: us(db.now())}
		before, _ := json.Marshal(map[string]string{"state": st.State, "comment": st.Comment})
		after, _ := json.Marshal(map[string]string{"state": next.State, "comment": next.Comment})
		if _, err := appendAudit(ctx, c, store.AuditEntry{
			Actor: t.Actor, Action: "finding.triage", ObjectType: "finding", ObjectID: t.ID,
			Reason: t.Reason, Before: before, After: after,
		}); err != nil {
			return err
		}
		f.State = next.State
		doc, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("encode finding %s: %w", t.ID, err)
		}
		if _, err := c.exec(ctx, `UPDATE findings SET state = ?, comment = ?, state_by = ?, state_at = ?, doc = ? WHERE id = ?`,
			next.State, next.Comment, next.By, next.At, string(doc), t.ID); err != nil {
			return fmt.Errorf("triage finding %s: %w", t.ID, err)
		}
		if next.State != st.State {
			tags, err := storedTags(ctx, c, t.ID)
			if err != nil {
				return err
			}
			counts := tagCounts{}
			for _, tag := range tags {
				counts.add(tag.Taxonomy, tag.ID, st.State, -1)
				counts.add(tag.Taxonomy, tag.ID, next.State, 1)
			}
			if err := counts.apply(ctx, c); err != nil {
				return err
			}
			if _, err := c.exec(ctx, `UPDATE finding_tags SET state = ? WHERE finding_id = ?`, next.State, t.ID); err != nil {
				return fmt.Errorf("triage finding %s: %w", t.ID, err)
			}
		}
		out = toStoreFinding(f, next)
		return nil
	})
	return out, err
}

var findingList = listSpec{
	kind: "findings",
	from: "findings",
	cols: "doc, state, comment, state_by, state_at",
	id:   "id",
	sorts: map[string]sortCol{
		"severity":   {expr: "severity", numeric: true, index: "findings_severity"},
		"last_seen":  {expr: "last_seen", numeric: true, index: "findings_last_seen"},
		"first_seen": {expr: "first_seen", numeric: true, index: "findings_first_seen"},
		"count":      {expr: "count", numeric: true, index: "findings_count"},
		"kind":       {expr: "kind", index: "findings_kind"},
		"state":      {expr: "state", index: "findings_state"},
		"id":         {expr: "id"},
	},
	keys: store.FindingSortKeys,
}

// severityRanks turns severity names into stored ranks, rejecting
// unknown ones so that a typo does not silently match nothing.
func severityRanks(sev []string) ([]int64, error) {
	out := make([]int64, 0, len(sev))
	for _, s := range sev {
		r := store.SeverityRank(s)
		if r == 0 {
			return nil, fmt.Errorf("severity %q (want one of %s): %w", s, strings.Join(store.Severities, ", "), store.ErrInvalid)
		}
		out = append(out, int64(r))
	}
	return out, nil
}

// tagFilter adds "id IN (rows tagged with any of tags)".
func tagFilter(w *where, idCol, table, fk string, tags []store.TagRef) {
	if len(tags) == 0 {
		return
	}
	ors := make([]string, len(tags))
	args := make([]any, 0, 2*len(tags))
	for i, t := range tags {
		ors[i] = "(taxonomy = ? AND tag = ?)"
		args = append(args, t.Taxonomy, t.ID)
	}
	w.add(idCol+" IN (SELECT "+fk+" FROM "+table+" WHERE "+strings.Join(ors, " OR ")+")", args...)
}

// ListFindings lists findings.
func (db *DB) ListFindings(ctx context.Context, q store.FindingQuery) (store.Page[store.Finding], error) {
	var w where
	for _, s := range q.States {
		if !slices.Contains(store.FindingStates, s) {
			return store.Page[store.Finding]{}, fmt.Errorf("finding state %q: %w", s, store.ErrInvalid)
		}
	}
	w.in("state", q.States)
	ranks, err := severityRanks(q.Severities)
	if err != nil {
		return store.Page[store.Finding]{}, err
	}
	w.inInts("severity", ranks)
	w.in("kind", q.Kinds)
	if q.Asset != "" {
		w.add("asset_id = ?", q.Asset)
	}
	tagFilter(&w, "id", "finding_tags", "finding_id", q.Tags)
	if !q.SeenAfter.IsZero() {
		w.add("last_seen >= ?", us(q.SeenAfter))
	}
	if !q.SeenBefore.IsZero() {
		w.add("last_seen < ?", us(q.SeenBefore))
	}
	return list(ctx, db.reader(), findingList, q.ListOptions, w, func(rows *sql.Rows, lead ...any) (store.Finding, error) {
		var doc string
		var st findingState
		if err := rows.Scan(append(lead, &doc, &st.State, &st.Comment, &st.By, &st.At)...); err != nil {
			return store.Finding{}, err
		}
		var f event.Finding
		if err := json.Unmarshal([]byte(doc), &f); err != nil {
			return store.Finding{}, fmt.Errorf("decode stored finding: %w", err)
		}
		return toStoreFinding(f, st), nil
	})
}

// CountFindingsByTag counts findings per tag of one taxonomy.
func (db *DB) CountFindingsByTag(ctx context.Context, q store.TagCountQuery) ([]store.TagCount, error) {
	states := q.States
	if len(states) == 0 {
		states = []string{event.StateOpen}
	}
	var w where
	w.add("taxonomy = ?", q.Taxonomy)
	w.in("state", states)
	rows, err := db.reader().query(ctx, `SELECT tag, CAST(SUM(n) AS BIGINT) FROM finding_tag_counts`+w.sql()+
		` GROUP BY tag HAVING SUM(n) > 0 ORDER BY SUM(n) DESC, tag`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("count findings by %s tag: %w", q.Taxonomy, err)
	}
	defer rows.Close()
	var out []store.TagCount
	for rows.Next() {
		tc := store.TagCount{Taxonomy: q.Taxonomy}
		if err := rows.Scan(&tc.ID, &tc.Count); err != nil {
			return nil, fmt.Errorf("count findings by %s tag: %w", q.Taxonomy, err)
		}
		out = append(out, tc)
	}
	return out, wrapErr(rows.Err(), "count findings by %s tag", q.Taxonomy)
}
