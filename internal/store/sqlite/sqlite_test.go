package sqlite_test

import (
	"context"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/sqlite"
	"github.com/heir-emd/heir/internal/store/storetest"
)

func backend() storetest.Backend {
	return storetest.Backend{
		Open: func(t *testing.T, now func() time.Time) store.Store {
			db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		Exec: func(ctx context.Context, s store.Store, stmt string) error {
			_, err := s.(*sqlite.DB).Raw().ExecContext(ctx, stmt)
			return err
		},
		DisableAuditGuards: func(ctx context.Context, s store.Store) error {
			_, err := s.(*sqlite.DB).Raw().ExecContext(ctx, `DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;`)
			return err
		},
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, backend()) }

func TestMigrations(t *testing.T) {
	dir := t.TempDir()
	storetest.RunMigrations(t, sqlite.Migrations(), func(t *testing.T, m fs.FS) (store.Store, error) {
		db, err := sqlite.Open(context.Background(), dir, sqlite.Options{Migrations: m})
		if err != nil {
			return nil, err
		}
		return db, nil
	})
}

func TestOpenSettings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir() + "/data dir #1"
	db, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.Raw().QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal mode %q, want wal", mode)
	}
	var fk int
	if err := db.Raw().QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if fk != 1 {
		t.Errorf("foreign keys %d, want 1", fk)
	}
	if db.Path() != dir+"/"+sqlite.FileName {
		t.Errorf("path %q", db.Path())
	}
	if err := db.UpsertAsset(ctx, event.Asset{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{sqlite.FileName, sqlite.FileName + "-wal"} {
		fi, err := os.Stat(dir + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if _, err := sqlite.Open(ctx, "", sqlite.Options{}); err == nil {
		t.Error("opened an empty directory name")
	}
}

// TestOneConnection: lists must not hold a read connection while they
// wait for another (the read pool has GOMAXPROCS connections; the load
// benchmark hung on exactly that with eight clients).
func TestOneConnection(t *testing.T) {
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{ReadConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.OneConnection(t, db)
}
