package storetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
)

// Reopen opens the same database on every call, migrating it with the
// given migrations; the test closes what it returns.
type Reopen func(t *testing.T, migrations fs.FS) (store.Store, error)

// RunMigrations checks the migration rules on a backend: data survives a
// reopen, a failed migration leaves the schema as it was, and a database
// a newer heir migrated is refused. base is the backend's own
// migrations.
func RunMigrations(t *testing.T, base fs.FS, open Reopen) {
	ctx := context.Background()
	known := fstest.MapFS{}
	entries, err := fs.ReadDir(base, ".")
	must(t, err)
	for _, e := range entries {
		b, err := fs.ReadFile(base, e.Name())
		must(t, err)
		known[e.Name()] = &fstest.MapFile{Data: b}
	}
	n := len(known)
	with := func(name, sql string) fstest.MapFS {
		m := fstest.MapFS{}
		for k, v := range known {
			m[k] = v
		}
		m[name] = &fstest.MapFile{Data: []byte(sql)}
		return m
	}
	next := func(name string) string { return fmt.Sprintf("%04d_%s.sql", n+1, name) }

	s, err := open(t, base)
	must(t, err)
	v, err := s.SchemaVersion(ctx)
	must(t, err)
	if v != n {
		t.Fatalf("schema version %d after open, want %d (the number of migrations)", v, n)
	}
	must(t, s.UpsertAsset(ctx, event.Asset{ID: "kept", Role: "pacs"}))
	must(t, s.Close())

	// A migration that fails half-way changes nothing.
	_, err = open(t, with(next("broken"), "CREATE TABLE half_done (x BIGINT);\nCREATE TABLE broken (;"))
	if err == nil {
		t.Fatal("a broken migration opened")
	}
	s, err = open(t, base)
	must(t, err)
	if v, err := s.SchemaVersion(ctx); err != nil || v != n {
		t.Fatalf("after a failed migration: version %d, %v (want %d)", v, err, n)
	}
	a, err := s.Asset(ctx, "kept")
	must(t, err)
	if a.Role != "pacs" {
		t.Errorf("data after reopen: %+v", a)
	}
	must(t, s.Close())

	// A newer heir migrates further; this one then refuses the database.
	s, err = open(t, with(next("future"), "CREATE TABLE future_things (x BIGINT);"))
	must(t, err)
	if v, err := s.SchemaVersion(ctx); err != nil || v != n+1 {
		t.Fatalf("after a new migration: version %d, %v (want %d)", v, err, n+1)
	}
	must(t, s.Close())
	_, err = open(t, base)
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("opening a newer schema: %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", n+1)) || !strings.Contains(err.Error(), fmt.Sprintf("only up to %d", n)) {
		t.Errorf("the refusal does not say which versions: %v", err)
	}

	// Migration sets with gaps or bad names are refused before any SQL.
	for name, m := range map[string]fstest.MapFS{
		"gap":      with(fmt.Sprintf("%04d_gap.sql", n+2), "SELECT 1;"),
		"bad name": with("latest.sql", "SELECT 1;"),
	} {
		if _, err := open(t, m); err == nil {
			t.Errorf("migrations with a %s opened", name)
		}
	}
}
