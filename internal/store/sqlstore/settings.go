package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/heir-emd/heir/internal/store"
)

// maxSetting bounds a setting's document: the RAMA configuration with
// every key spelled out is about 6 kB.
const maxSetting = 256 << 10

// Setting returns a stored setting.
func (db *DB) Setting(ctx context.Context, key string) (store.Setting, error) {
	s, err := scanSetting(db.reader().row(ctx, `SELECT key, version, value, updated_us, updated_by FROM settings WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return s, notFound("setting", key)
	}
	return s, wrapErr(err, "read setting %s", key)
}

func scanSetting(row interface{ Scan(...any) error }) (store.Setting, error) {
	var s store.Setting
	var updated int64
	if err := row.Scan(&s.Key, &s.Version, &s.Value, &updated, &s.UpdatedBy); err != nil {
		return s, err
	}
	s.Updated = fromUS(updated)
	return s, nil
}

// settingDoc is a setting as the audit trail records it.
func settingDoc(s store.Setting) json.RawMessage {
	b, _ := json.Marshal(struct {
		Version int64  `json:"version"`
		Value   string `json:"value"`
	}{s.Version, s.Value})
	return b
}

// PutSetting stores a setting when its stored version is s.Version.
func (db *DB) PutSetting(ctx context.Context, actor string, s store.Setting) (store.Setting, error) {
	for _, f := range [][2]string{{"setting key", s.Key}, {"actor", actor}} {
		if err := checkName(f[0], f[1]); err != nil {
			return s, err
		}
	}
	if len(s.Value) > maxSetting {
		return s, fmt.Errorf("setting %s of %d bytes (at most %d): %w", s.Key, len(s.Value), maxSetting, store.ErrInvalid)
	}
	if s.Version < 0 {
		return s, fmt.Errorf("setting %s: version %d: %w", s.Key, s.Version, store.ErrInvalid)
	}
	out := store.Setting{Key: s.Key, Version: s.Version + 1, Value: s.Value, Updated: fromUS(us(db.now())), UpdatedBy: actor}
	err := db.inTx(ctx, func(c conn) error {
		old, err := scanSetting(c.row(ctx, `SELECT key, version, value, updated_us, updated_by FROM settings WHERE key = ?`, s.Key))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			old = store.Setting{}
		case err != nil:
			return fmt.Errorf("put setting %s: %w", s.Key, err)
		}
		if old.Version != s.Version {
			return fmt.Errorf("setting %s is at version %d, not %d: %w", s.Key, old.Version, s.Version, store.ErrStale)
		}
		// The write repeats the version check: under PostgreSQL's read
		// committed isolation a concurrent change may have landed since
		// the read above, and only the statement sees it.
		var n int64
		if old.Version == 0 {
			n, err = c.affected(ctx, `INSERT INTO settings (key, version, value, updated_us, updated_by) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT DO NOTHING`, out.Key, out.Version, out.Value, us(out.Updated), out.UpdatedBy)
		} else {
			n, err = c.affected(ctx, `UPDATE settings SET version = ?, value = ?, updated_us = ?, updated_by = ? WHERE key = ? AND version = ?`,
				out.Version, out.Value, us(out.Updated), out.UpdatedBy, out.Key, old.Version)
		}
		if err != nil {
			return fmt.Errorf("put setting %s: %w", s.Key, err)
		}
		if n == 0 {
			return fmt.Errorf("setting %s changed while it was written: %w", s.Key, store.ErrStale)
		}
		e := store.AuditEntry{Actor: actor, Action: "settings.put", ObjectType: "setting", ObjectID: s.Key, After: settingDoc(out)}
		if old.Version > 0 {
			e.Before = settingDoc(old)
		}
		_, err = appendAudit(ctx, c, e)
		return err
	})
	if err != nil {
		return store.Setting{}, err
	}
	return out, nil
}

// ResetSetting removes a setting whose stored version is version.
func (db *DB) ResetSetting(ctx context.Context, actor, key string, version int64) error {
	if err := checkName("actor", actor); err != nil {
		return err
	}
	return db.inTx(ctx, func(c conn) error {
		old, err := scanSetting(c.row(ctx, `SELECT key, version, value, updated_us, updated_by FROM settings WHERE key = ?`, key))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("setting", key)
		}
		if err != nil {
			return fmt.Errorf("reset setting %s: %w", key, err)
		}
		if old.Version != version {
			return fmt.Errorf("setting %s is at version %d, not %d: %w", key, old.Version, version, store.ErrStale)
		}
		n, err := c.affected(ctx, `DELETE FROM settings WHERE key = ? AND version = ?`, key, version)
		if err != nil {
			return fmt.Errorf("reset setting %s: %w", key, err)
		}
		if n == 0 {
			return fmt.Errorf("setting %s changed while it was reset: %w", key, store.ErrStale)
		}
		_, err = appendAudit(ctx, c, store.AuditEntry{Actor: actor, Action: "settings.reset", ObjectType: "setting", ObjectID: key, Before: settingDoc(old)})
		return err
	})
}
