package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/heir-emd/heir/internal/store"
)

// Bounds on audit fields, so that one entry stays a record and not a
// dump.
const (
	maxAuditField = 1024
	maxAuditDoc   = 64 << 10
)

// AppendAudit appends an entry to the audit trail.
func (db *DB) AppendAudit(ctx context.Context, e store.AuditEntry) (store.AuditRecord, error) {
	var rec store.AuditRecord
	err := db.inTx(ctx, func(c conn) error {
		var err error
		rec, err = appendAudit(ctx, c, e)
		return err
	})
	return rec, err
}

func validAudit(e store.AuditEntry) error {
	for name, v := range map[string]string{"actor": e.Actor, "action": e.Action, "object type": e.ObjectType} {
		if v == "" {
			return fmt.Errorf("audit entry without %s: %w", name, store.ErrInvalid)
		}
	}
	for name, v := range map[string]string{"actor": e.Actor, "action": e.Action, "object type": e.ObjectType, "object id": e.ObjectID, "reason": e.Reason} {
		if len(v) > maxAuditField {
			return fmt.Errorf("audit %s longer than %d bytes: %w", name, maxAuditField, store.ErrInvalid)
		}
	}
	for name, v := range map[string]json.RawMessage{"before": e.Before, "after": e.After} {
		if len(v) > maxAuditDoc {
			return fmt.Errorf("audit %s document longer than %d bytes: %w", name, maxAuditDoc, store.ErrInvalid)
		}
		if len(v) > 0 && !json.Valid(v) {
			return fmt.Errorf("audit %s is not JSON: %w", name, store.ErrInvalid)
		}
	}
	return nil
}

// appendAudit chains an entry to the head inside a write transaction.
// Reading the head row for update serialises appenders on PostgreSQL
// (SQLite's single writer already does), so the chain never forks.
func appendAudit(ctx context.Context, c conn, e store.AuditEntry) (store.AuditRecord, error) {
	if err := validAudit(e); err != nil {
		return store.AuditRecord{}, err
	}
	var head store.AuditHead
	if err := c.row(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`+c.db.d.ForUpdate).Scan(&head.Seq, &head.Hash); err != nil {
		return store.AuditRecord{}, fmt.Errorf("read audit head: %w", err)
	}
	rec := store.AuditRecord{
		Seq:        head.Seq + 1,
		Time:       fromUS(us(c.db.now())),
		AuditEntry: e,
		PrevHash:   head.Hash,
	}
	rec.Hash = store.AuditHash(rec.PrevHash, rec)
	if _, err := c.exec(ctx, `INSERT INTO audit (seq, at_us, actor, action, object_type, object_id, reason, before_doc, after_doc, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.Seq, us(rec.Time), e.Actor, e.Action, e.ObjectType, e.ObjectID, e.Reason, string(e.Before), string(e.After), rec.PrevHash, rec.Hash); err != nil {
		return store.AuditRecord{}, fmt.Errorf("append audit record: %w", err)
	}
	if _, err := c.exec(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, rec.Seq, rec.Hash); err != nil {
		return store.AuditRecord{}, fmt.Errorf("advance audit head: %w", err)
	}
	return rec, nil
}

const auditSelect = `at_us, actor, action, object_type, object_id, reason, before_doc, after_doc, prev_hash, hash`

func scanAudit(rows *sql.Rows, lead ...any) (store.AuditRecord, error) {
	var r store.AuditRecord
	var at int64
	var before, after string
	if err := rows.Scan(append(lead, &at, &r.Actor, &r.Action, &r.ObjectType, &r.ObjectID, &r.Reason, &before, &after, &r.PrevHash, &r.Hash)...); err != nil {
		return r, err
	}
	r.Time = fromUS(at)
	if before != "" {
		r.Before = json.RawMessage(before)
	}
	if after != "" {
		r.After = json.RawMessage(after)
	}
	return r, nil
}

var auditList = listSpec{
	kind:       "audit records",
	from:       "audit",
	cols:       auditSelect,
	id:         "seq",
	sorts:      map[string]sortCol{"seq": {expr: "seq", numeric: true}},
	keys:       store.AuditSortKeys,
	uniqueSort: true,
}

// ListAudit lists audit records (newest first by default).
func (db *DB) ListAudit(ctx context.Context, q store.AuditQuery) (store.Page[store.AuditRecord], error) {
	var w where
	if q.Actor != "" {
		w.add("actor = ?", q.Actor)
	}
	if q.ObjectType != "" {
		w.add("object_type = ?", q.ObjectType)
	}
	if q.ObjectID != "" {
		w.add("object_id = ?", q.ObjectID)
	}
	if !q.Since.IsZero() {
		w.add("at_us >= ?", us(q.Since))
	}
	if !q.Until.IsZero() {
		w.add("at_us < ?", us(q.Until))
	}
	return list(ctx, db.reader(), auditList, q.ListOptions, w, func(rows *sql.Rows, lead ...any) (store.AuditRecord, error) {
		r, err := scanAudit(rows, lead...)
		if err != nil {
			return r, err
		}
		r.Seq = *(lead[0].(*int64)) // the sort value is the sequence number
		return r, nil
	})
}

// AuditHead returns the end of the chain.
func (db *DB) AuditHead(ctx context.Context) (store.AuditHead, error) {
	var h store.AuditHead
	err := db.reader().row(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&h.Seq, &h.Hash)
	return h, wrapErr(err, "read audit head")
}

// VerifyAudit recomputes the whole chain, streaming it in sequence order,
// and checks it ends at the recorded head.
func (db *DB) VerifyAudit(ctx context.Context) (store.AuditHead, error) {
	// One read transaction, so that appends while we read neither break
	// the chain we see nor move the head away from it.
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		// SQLite offers only serializable snapshots, which are as good.
		tx, err = db.r.BeginTx(ctx, nil)
		if err != nil {
			return store.AuditHead{}, fmt.Errorf("verify audit: %w", err)
		}
	}
	defer func() { _ = tx.Rollback() }() // read-only: nothing to keep
	c := conn{q: tx, db: db}
	var want store.AuditHead
	if err := c.row(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&want.Seq, &want.Hash); err != nil {
		return store.AuditHead{}, fmt.Errorf("verify audit: read head: %w", err)
	}
	rows, err := c.query(ctx, `SELECT seq, `+auditSelect+` FROM audit ORDER BY seq`)
	if err != nil {
		return store.AuditHead{}, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	v := store.NewChainVerifier()
	for rows.Next() {
		var seq int64
		r, err := scanAudit(rows, &seq)
		if err != nil {
			return v.Head(), fmt.Errorf("verify audit: %w", err)
		}
		r.Seq = seq
		if err := v.Next(r); err != nil {
			return v.Head(), err
		}
	}
	if err := rows.Err(); err != nil {
		return v.Head(), fmt.Errorf("verify audit: %w", err)
	}
	return v.Head(), v.Finish(want)
}
