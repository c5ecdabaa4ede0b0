// Package backend opens the store a --db flag names: "sqlite:DIR" (or a
// plain directory) for the embedded SQLite database, "postgres://…" for
// PostgreSQL. It is the one place that knows both backends, so that the
// CLI wires a store with one call; package store cannot hold it (the
// backends import store).
package backend

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/postgres"
	"github.com/heir-emd/heir/internal/store/sqlite"
)

// Kinds of backend.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Target is a parsed --db value.
type Target struct {
	Kind string
	// Dir is the SQLite data directory.
	Dir string
	// URL is the PostgreSQL connection URL (it may hold a password: log
	// the Target, whose LogValue and String redact it).
	URL string
}

// maxDSN bounds the flag value.
const maxDSN = 4096

// Parse reads a --db value:
//
//	sqlite:///var/lib/heir   SQLite in /var/lib/heir
//	sqlite:data              SQLite in ./data
//	/var/lib/heir, ./data    SQLite (a path without a scheme)
//	postgres://user@host:5432/heir?sslmode=verify-full  (or postgresql://)
func Parse(dsn string) (Target, error) {
	switch {
	case dsn == "":
		return Target{}, fmt.Errorf("empty database (want sqlite:DIR or postgres://…): %w", store.ErrInvalid)
	case len(dsn) > maxDSN:
		return Target{}, fmt.Errorf("database setting longer than %d bytes: %w", maxDSN, store.ErrInvalid)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		u, err := url.Parse(dsn)
		if err != nil || u.Host == "" {
			return Target{}, fmt.Errorf("PostgreSQL URL %s: want postgres://user@host:port/database: %w", redact(dsn), store.ErrInvalid)
		}
		return Target{Kind: Postgres, URL: dsn}, nil
	case strings.HasPrefix(dsn, "sqlite://"):
		dir := strings.TrimPrefix(dsn, "sqlite://")
		if dir == "" || strings.ContainsAny(dir, "?#") {
			return Target{}, fmt.Errorf("SQLite database %q: want sqlite:///absolute/dir or sqlite:relative/dir: %w", dsn, store.ErrInvalid)
		}
		return Target{Kind: SQLite, Dir: dir}, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		dir := strings.TrimPrefix(dsn, "sqlite:")
		if dir == "" || strings.ContainsAny(dir, "?#") {
			return Target{}, fmt.Errorf("SQLite database %q: want sqlite:DIR: %w", dsn, store.ErrInvalid)
		}
		return Target{Kind: SQLite, Dir: dir}, nil
	}
	// A plain path; but "postgre:/…" or "mysql://…" is a mistake, not a
	// directory name.
	if i := strings.IndexByte(dsn, ':'); i > 0 && !strings.ContainsAny(dsn[:i], `/\.`) {
		return Target{}, fmt.Errorf("database %s: unknown scheme %q (want sqlite: or postgres://): %w", redact(dsn), dsn[:i], store.ErrInvalid)
	}
	if strings.ContainsAny(dsn, "?#") {
		return Target{}, fmt.Errorf("SQLite directory %q: ? and # are not allowed: %w", dsn, store.ErrInvalid)
	}
	return Target{Kind: SQLite, Dir: dsn}, nil
}

// String names the target without a password.
func (t Target) String() string {
	if t.Kind == Postgres {
		return redact(t.URL)
	}
	return "sqlite:" + t.Dir
}

// LogValue logs the target without a password.
func (t Target) LogValue() slog.Value { return slog.StringValue(t.String()) }

// redact hides the password of a URL.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Options tune Open.
type Options struct {
	Logger *slog.Logger
}

// Open parses dsn and opens (and migrates) the store it names.
func Open(ctx context.Context, dsn string, opts Options) (store.Store, error) {
	t, err := Parse(dsn)
	if err != nil {
		return nil, err
	}
	switch t.Kind {
	case Postgres:
		return postgres.Open(ctx, t.URL, postgres.Options{Logger: opts.Logger})
	default:
		return sqlite.Open(ctx, t.Dir, sqlite.Options{Logger: opts.Logger})
	}
}
