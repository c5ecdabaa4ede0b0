package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/postgres"
	"github.com/heir-emd/heir/internal/store/sqlite"
	"github.com/heir-emd/heir/internal/store/storetest"
)

// hospital is an open store holding a generated hospital.
type hospital struct {
	backend string
	st      store.Store
	close   func() error
	// where says where the filled database is kept, for the report.
	where string
	// fillTook is how long this run spent filling (0: reused).
	fillTook time.Duration
}

// bulkStore is what a backend offers besides store.Store: its loader.
type bulkStore interface {
	store.Store
	Bulk() storetest.Bulk
}

// sqliteBulk adapts *sqlite.DB, whose Bulk returns the concrete loader.
type sqliteBulk struct{ *sqlite.DB }

func (s sqliteBulk) Bulk() storetest.Bulk { return s.DB.Bulk() }

type postgresBulk struct{ *postgres.DB }

func (s postgresBulk) Bulk() storetest.Bulk { return s.DB.Bulk() }

// openSQLiteHospital opens the SQLite hospital in dir, filling it when it
// does not hold the scale (or refill is set). The directory is kept: the
// next run reuses it, because a fill takes about half an hour here.
func openSQLiteHospital(ctx context.Context, dir string, sc storetest.Scale, refill bool, conns int, log *slog.Logger) (*hospital, error) {
	open := func() (*sqlite.DB, error) {
		return sqlite.Open(ctx, dir, sqlite.Options{Logger: log, ReadConns: conns})
	}
	db, err := open()
	if err != nil {
		return nil, fmt.Errorf("open SQLite in %s: %w", dir, err)
	}
	h := &hospital{backend: "sqlite", where: filepath.Join(dir, "heir.db")}
	if refill || !storetest.Filled(ctx, db, sc) {
		db.Close()
		// A partial fill (an interrupted run) is thrown away whole: the
		// generator is deterministic only from the start.
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("remove %s before filling: %w", dir, err)
		}
		if db, err = open(); err != nil {
			return nil, fmt.Errorf("open SQLite in %s: %w", dir, err)
		}
		if h.fillTook, err = fill(ctx, sqliteBulk{db}, sc, h.where); err != nil {
			db.Close()
			return nil, err
		}
	}
	h.st, h.close = db, db.Close
	return h, nil
}

// openPostgresHospital opens the PostgreSQL hospital in its own schema,
// filling it when it does not hold the scale (or refill is set). The
// schema is kept for the next run; drop it by hand to free the space.
func openPostgresHospital(ctx context.Context, url, schema string, sc storetest.Scale, refill bool, conns int, log *slog.Logger) (*hospital, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s unreachable (set --pg or HEIR_TEST_PG): %w", redact(url), err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident); err != nil {
		return nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	open := func() (*postgres.DB, error) {
		return postgres.Open(ctx, url, postgres.Options{Logger: log, Schema: schema, MaxConns: int32(conns)})
	}
	db, err := open()
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL schema %s: %w", schema, err)
	}
	h := &hospital{backend: "postgres", where: fmt.Sprintf("schema %s of %s", schema, redact(url))}
	if refill || !storetest.Filled(ctx, db, sc) {
		db.Close()
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			return nil, fmt.Errorf("drop schema %s before filling: %w", schema, err)
		}
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
			return nil, fmt.Errorf("create schema %s: %w", schema, err)
		}
		if db, err = open(); err != nil {
			return nil, fmt.Errorf("open PostgreSQL schema %s: %w", schema, err)
		}
		if h.fillTook, err = fill(ctx, postgresBulk{db}, sc, h.where); err != nil {
			db.Close()
			return nil, err
		}
	}
	h.st, h.close = db, db.Close
	return h, nil
}

func fill(ctx context.Context, db bulkStore, sc storetest.Scale, where string) (time.Duration, error) {
	fmt.Fprintf(os.Stderr, "filling %s with %d devices, %d alerts and %d vulnerability matches (on this machine a few minutes, more on SQLite when the machine is busy)…\n",
		where, sc.Assets, sc.Alerts, storetest.VulnTotal(sc))
	start := time.Now()
	if err := storetest.Fill(ctx, db.Bulk(), sc); err != nil {
		return 0, fmt.Errorf("fill %s: %w", where, err)
	}
	took := time.Since(start)
	if !storetest.Filled(ctx, db, sc) {
		return took, fmt.Errorf("fill %s: the store does not hold %d devices, %d alerts and %d vulnerability matches afterwards", where, sc.Assets, sc.Alerts, storetest.VulnTotal(sc))
	}
	fmt.Fprintf(os.Stderr, "filled %s in %s\n", where, took.Round(time.Second))
	return took, nil
}

// redact hides a URL's password.
func redact(s string) string {
	if i := strings.Index(s, "@"); i > 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "…" + s[i:]
		}
	}
	return s
}
