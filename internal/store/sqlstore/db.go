// Package sqlstore is the SQL both store backends share: every store
// interface written once against database/sql, with the few differences
// between SQLite and PostgreSQL (placeholders, row locks, retryable
// errors, bulk copy, the migration lock) in a Dialect. store/sqlite and
// store/postgres open the connections, hold their migrations and wrap DB.
//
// Times are stored as Unix microseconds (BIGINT), the precision both
// databases keep; IP addresses as their 16-byte form (IPv4 mapped into
// IPv6), so that a CIDR filter is a range over one index; days as
// 'YYYY-MM-DD' text. Every record's full event is kept as JSON text
// beside the columns that filters and sorts use.
//
// It must not import a driver: the backends bring theirs.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/store"
)

// Dialect is what differs between the backends.
type Dialect struct {
	// Name names the backend in errors ("sqlite", "postgres").
	Name string
	// Dollar: placeholders are $1, $2 … (PostgreSQL) instead of ?.
	Dollar bool
	// ForUpdate is appended to a SELECT that reads a row the transaction
	// will rewrite (" FOR UPDATE" on PostgreSQL; SQLite has one writer and
	// needs no row lock).
	ForUpdate string
	// Retryable says the transaction failed only because of concurrent
	// work (a deadlock) and may be run again.
	Retryable func(error) bool
	// LockMigrations, when set, is executed first in the migration
	// transaction so that two processes opening one database migrate it
	// one after the other.
	LockMigrations string
	// Hints: the database is SQLite, whose planner takes index hints
	// (INDEXED BY, rowid subqueries) where it cannot see what is cheaper;
	// see sortIndexHint and the asset text filter.
	Hints bool
	// Analyze refreshes the planner's statistics after a bulk load
	// ("ANALYZE"; PostgreSQL also vacuums, which sets the visibility map
	// that index-only scans and counts need).
	Analyze string
	// Copy inserts many rows fast (COPY on PostgreSQL, one prepared
	// statement in a transaction on SQLite).
	Copy func(ctx context.Context, table string, cols []string, rows [][]any) error
}

// Options tune a DB.
type Options struct {
	// Logger receives migration and maintenance messages; nil discards.
	Logger *slog.Logger
	// Now is the clock for audit records and record times; nil is
	// time.Now. Tests set it.
	Now func() time.Time
}

// DB implements every store interface over database/sql.
type DB struct {
	w, r *sql.DB // writer and reader pools (the same pool on PostgreSQL)
	d    Dialect
	log  *slog.Logger
	now  func() time.Time
}

// New wraps open pools and migrates the schema with the files in
// migrations (see Migrate). w takes every write transaction; r serves
// reads (it may be w).
func New(ctx context.Context, w, r *sql.DB, d Dialect, migrations fs.FS, opts Options) (*DB, error) {
	db := &DB{w: w, r: r, d: d, log: opts.Logger, now: opts.Now}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	if db.now == nil {
		db.now = time.Now
	}
	if _, err := db.migrate(ctx, migrations); err != nil {
		return nil, err
	}
	return db, nil
}

// Close closes the pools.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// Raw returns the writer pool, for maintenance and for tests that play an
// attacker with database access. Statements use this backend's
// placeholders.
func (db *DB) Raw() *sql.DB { return db.w }

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs statements written with ? placeholders on a pool or a
// transaction, rewriting them for the dialect.
type conn struct {
	q  querier
	db *DB
}

func (c conn) bind(query string) string {
	if !c.db.d.Dollar {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.q.ExecContext(ctx, c.bind(query), args...)
}

func (c conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.q.QueryContext(ctx, c.bind(query), args...)
}

func (c conn) row(ctx context.Context, query string, args ...any) *sql.Row {
	return c.q.QueryRowContext(ctx, c.bind(query), args...)
}

// affected runs a statement and returns how many rows it changed.
func (c conn) affected(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// reader is a conn on the read pool.
func (db *DB) reader() conn { return conn{q: db.r, db: db} }

// maxRetries bounds how often a transaction that hit a deadlock is run
// again before the error goes to the caller.
const maxRetries = 5

// inTx runs fn in a write transaction, committing when it returns nil.
// A transaction the database aborted for concurrency reasons runs again.
func (db *DB) inTx(ctx context.Context, fn func(c conn) error) error {
	for attempt := 0; ; attempt++ {
		err := db.tryTx(ctx, fn)
		if err != nil && attempt < maxRetries && db.d.Retryable != nil && db.d.Retryable(err) && ctx.Err() == nil {
			db.log.DebugContext(ctx, "retrying transaction", "attempt", attempt+1, "err", err)
			continue
		}
		return err
	}
}

func (db *DB) tryTx(ctx context.Context, fn func(c conn) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin transaction: %w", db.d.Name, err)
	}
	if err := fn(conn{q: tx, db: db}); err != nil {
		_ = tx.Rollback() // the error that made us roll back is the one to report
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", db.d.Name, err)
	}
	return nil
}

// SchemaVersion is the highest migration applied.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := db.reader().row(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// us is a time as stored: Unix microseconds, 0 for the zero time.
func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromUS reads a stored time.
func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// dayText is a day as stored.
func dayText(t time.Time) string { return store.Day(t).Format(time.DateOnly) }

func parseDay(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored day %q: %w", s, err)
	}
	return t, nil
}

// ipKey is an address as stored: its 16-byte form, nil when invalid.
func ipKey(a netip.Addr) []byte {
	if !a.IsValid() {
		return nil
	}
	b := a.As16()
	return b[:]
}

// prefixRange is the first and last stored key inside a prefix.
func prefixRange(p netip.Prefix) (lo, hi []byte) {
	p = p.Masked()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	first := p.Addr().As16()
	last := first
	for i := bits; i < 128; i++ {
		last[i/8] |= 0x80 >> (i % 8)
	}
	return first[:], last[:]
}

// count64 stores an unsigned counter in a signed column, saturating
// instead of wrapping.
func count64(n uint64) int64 {
	if n > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(n)
}

// newID makes a random id for users and tokens.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// boolInt stores a flag as 0 or 1, which both databases compare alike.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// placeholders is "?, ?, …" for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// notFound wraps store.ErrNotFound for a kind of record.
func notFound(kind, id string) error {
	return fmt.Errorf("%s %q: %w", kind, id, store.ErrNotFound)
}
