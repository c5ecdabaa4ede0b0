package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/heir-emd/heir/internal/store"
)

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations reads the files NNNN_name.sql at the root of fsys, in
// version order. Versions must run 1, 2, 3 … without gaps or repeats, so
// that two branches adding the same number collide at build time (in
// tests) rather than in a hospital's database.
func Migrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || name == "" {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %04d_%s: versions must run 1, 2, 3 … without gaps or repeats", m.Version, m.Name)
		}
	}
	return ms, nil
}

// migrate brings the schema to the newest migration in one transaction
// (a failed migration leaves the database as it was) and refuses a
// database a newer heir migrated. It returns the version reached.
func (db *DB) migrate(ctx context.Context, fsys fs.FS) (int, error) {
	ms, err := Migrations(fsys)
	if err != nil {
		return 0, err
	}
	known := len(ms)
	var reached int
	err = db.inTx(ctx, func(c conn) error {
		if db.d.LockMigrations != "" {
			if _, err := c.q.ExecContext(ctx, db.d.LockMigrations); err != nil {
				return fmt.Errorf("%s: lock for migration: %w", db.d.Name, err)
			}
		}
		if _, err := c.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version BIGINT PRIMARY KEY,
			name TEXT NOT NULL,
			applied_us BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("%s: create schema_version: %w", db.d.Name, err)
		}
		var cur int
		if err := c.row(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
			return fmt.Errorf("%s: read schema version: %w", db.d.Name, err)
		}
		if cur > known {
			return fmt.Errorf("%s database is at schema version %d but this heir knows only up to %d: run a heir at least as new as the one that last opened it (or restore a backup made before): %w",
				db.d.Name, cur, known, store.ErrSchemaTooNew)
		}
		reached = cur
		for _, m := range ms[cur:] {
			// Run verbatim: a migration is several statements and is not
			// rewritten for placeholders.
			if _, err := c.q.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: migration %04d_%s: %w", db.d.Name, m.Version, m.Name, err)
			}
			if _, err := c.exec(ctx, `INSERT INTO schema_version (version, name, applied_us) VALUES (?, ?, ?)`,
				m.Version, m.Name, us(db.now())); err != nil {
				return fmt.Errorf("%s: record migration %d: %w", db.d.Name, m.Version, err)
			}
			db.log.InfoContext(ctx, "applied migration", "backend", db.d.Name, "version", m.Version, "name", m.Name)
			reached = m.Version
		}
		return nil
	})
	return reached, err
}
