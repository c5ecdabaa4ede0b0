// Package postgres is the store backend for larger sites: PostgreSQL
// through pgx's connection pool. It implements every store interface
// through store/sqlstore; this package only connects, holds the
// PostgreSQL migrations, serialises migrations across processes and bulk
// loads with COPY.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/sqlstore"
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

// Options tune Open.
type Options struct {
	Logger *slog.Logger
	// Now is the store's clock (nil: time.Now).
	Now func() time.Time
	// Schema, when set, is the only schema on the search path: heir's
	// tables live there (it must exist). Empty keeps the URL's or the
	// server's search path (normally "public").
	Schema string
	// MaxConns bounds the pool (0: pgx's default, max(4, CPUs)).
	MaxConns int32
	// Migrations replaces the embedded migrations (tests use it).
	Migrations fs.FS
}

// DB is a PostgreSQL store.
type DB struct {
	*sqlstore.DB
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// Open connects to url (postgres://user@host:port/db?sslmode=…) and
// migrates the schema.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message can quote the URL, password included: keep it out.
		return nil, fmt.Errorf("postgres store: cannot parse the database URL (want postgres://user@host:port/database?sslmode=…): %w", store.ErrInvalid)
	}
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store %s: %w", where(cfg), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store %s: connect: %w", where(cfg), err)
	}
	db := &DB{pool: pool}
	sqldb := stdlib.OpenDBFromPool(pool)
	d := sqlstore.Dialect{
		Name:      "postgres",
		Dollar:    true,
		ForUpdate: " FOR UPDATE",
		Retryable: retryable,
		// One lock per schema: two heirs opening the same database migrate
		// one after the other; test schemas do not wait for each other.
		LockMigrations: `SELECT pg_advisory_xact_lock(7368, hashtext(current_schema()))`,
		Analyze:        "VACUUM (ANALYZE)",
		Copy:           db.copy,
	}
	migrations := opts.Migrations
	if migrations == nil {
		migrations = Migrations()
	}
	inner, err := sqlstore.New(ctx, sqldb, sqldb, d, migrations, sqlstore.Options{Logger: opts.Logger, Now: opts.Now})
	if err != nil {
		sqldb.Close()
		pool.Close()
		return nil, err
	}
	db.DB = inner
	return db, nil
}

// where names the server in messages without credentials.
func where(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// Close closes the database/sql handle and the pool under it.
func (db *DB) Close() error {
	err := db.DB.Close()
	db.pool.Close()
	return err
}

// Pool is the pgx pool, for maintenance and tests.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// retryable: deadlock detected and serialization failure abort a
// transaction that would succeed when run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// copy bulk-inserts with COPY FROM STDIN (binary).
func (db *DB) copy(ctx context.Context, table string, cols []string, rows [][]any) error {
	_, err := db.pool.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
	return err
}
