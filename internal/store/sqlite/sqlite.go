// Package sqlite is the embedded store backend: one SQLite database file
// (pure Go, modernc.org/sqlite) in WAL mode inside a data directory. It
// implements every store interface through store/sqlstore; this package
// only opens the database, holds the SQLite migrations and bulk-inserts.
//
// SQLite has one writer at a time, so DB keeps one writing connection
// (write transactions queue in Go, not on SQLITE_BUSY) and a small pool of
// read-only connections that WAL lets read while it writes.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/sqlstore"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are this backend's schema migrations.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded folder exists at build time
	}
	return sub
}

// FileName is the database file inside the data directory.
const FileName = "heir.db"

// Options tune Open.
type Options struct {
	Logger *slog.Logger
	// Now is the store's clock (nil: time.Now).
	Now func() time.Time
	// ReadConns is the size of the read pool (0: GOMAXPROCS, at least 2).
	ReadConns int
	// Migrations replaces the embedded migrations (tests use it to open a
	// database with a schema this binary does not know).
	Migrations fs.FS
}

// DB is a SQLite store.
type DB struct {
	*sqlstore.DB
	path string
}

var _ store.Store = (*DB)(nil)

// Open opens (creating when needed) the database in dir and migrates it.
func Open(ctx context.Context, dir string, opts Options) (*DB, error) {
	if dir == "" {
		return nil, fmt.Errorf("sqlite store: empty data directory: %w", store.ErrInvalid)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite store: create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// Create the file owner-only before SQLite does: it holds password
	// and token hashes, and SQLite gives its -wal and -shm files the
	// database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: create %s: %w", path, err)
	}
	f.Close()
	// busy_timeout covers another process holding the file (a backup, a
	// second heir); within this process the one writer never waits on
	// SQLITE_BUSY. synchronous=NORMAL is durable in WAL mode except for
	// the last transactions before a power cut, which the bus redelivers.
	common := url.Values{}
	common.Add("_pragma", "busy_timeout(10000)")
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "cache_size(-32768)")
	common.Add("_pragma", "temp_store(memory)")
	wq := cloneValues(common)
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", "synchronous(NORMAL)")
	wq.Set("_txlock", "immediate")
	rq := cloneValues(common)
	rq.Add("_pragma", "query_only(1)")

	w, err := sql.Open("sqlite", dsn(path, wq))
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite store %s: open: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, rq))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	n := opts.ReadConns
	if n <= 0 {
		n = max(2, runtime.GOMAXPROCS(0))
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)

	migrations := opts.Migrations
	if migrations == nil {
		migrations = Migrations()
	}
	db := &DB{path: path}
	d := sqlstore.Dialect{Name: "sqlite", Hints: true, Copy: db.copy}
	inner, err := sqlstore.New(ctx, w, r, d, migrations, sqlstore.Options{Logger: opts.Logger, Now: opts.Now})
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	db.DB = inner
	// Keep the planner's statistics fresh, bounded in time: SQLite
	// recommends PRAGMA optimize at open and close of long-lived
	// connections; analysis_limit caps the rows each ANALYZE reads.
	if _, err := w.ExecContext(ctx, `PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002`); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite store %s: optimize: %w", path, err)
	}
	return db, nil
}

// Close refreshes the planner's statistics and closes the database.
func (db *DB) Close() error {
	if _, err := db.Raw().Exec(`PRAGMA analysis_limit = 1000; PRAGMA optimize`); err != nil {
		db.DB.Close()
		return fmt.Errorf("sqlite store %s: optimize: %w", db.path, err)
	}
	return db.DB.Close()
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

func dsn(path string, q url.Values) string {
	// modernc reads "file:" names up to the first '?', so the path itself
	// must not hold one; escape what a URL would misread.
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path) + "?" + q.Encode()
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// copyBatch is how many rows one bulk transaction inserts: large enough
// that commits do not dominate, small enough to bound the WAL.
const copyBatch = 50_000

// copy inserts rows with one prepared statement per batch transaction.
func (db *DB) copy(ctx context.Context, table string, cols []string, rows [][]any) error {
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	w := db.Raw()
	for len(rows) > 0 {
		n := min(len(rows), copyBatch)
		if err := func() error {
			tx, err := w.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }() // no-op after commit
			st, err := tx.PrepareContext(ctx, q)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, r := range rows[:n] {
				if _, err := st.ExecContext(ctx, r...); err != nil {
					return err
				}
			}
			return tx.Commit()
		}(); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}
