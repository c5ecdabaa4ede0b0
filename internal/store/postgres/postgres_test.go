package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/postgres"
	"github.com/heir-emd/heir/internal/store/storetest"
	"github.com/heir-emd/heir/internal/testenv"
)

// testURL is the test server: $HEIR_TEST_PG, else the local one CI starts.
func testURL() string {
	if u := os.Getenv("HEIR_TEST_PG"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// schema creates a schema of its own for one test, so that parallel runs
// (and parallel packages) never see each other's tables, and drops it at
// the end. Outside CI an unreachable server skips the test; in CI it
// fails.
func schema(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testURL())
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("PostgreSQL at HEIR_TEST_PG unreachable: %v", err)
		}
		t.Skipf("PostgreSQL unreachable (set HEIR_TEST_PG to run this test): %v", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "heir_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, testURL())
		if err != nil {
			t.Errorf("drop test schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", name, err)
		}
	})
	return name
}

// suite is the schema the conformance tests share: creating and
// migrating a schema costs a few hundred milliseconds of DDL, emptying one
// a few, so the suite migrates once per run and empties it before each
// test (which therefore run one at a time).
type suite struct {
	schema string
}

func (s *suite) open(t *testing.T, now func() time.Time) store.Store {
	ctx := context.Background()
	db, err := postgres.Open(ctx, testURL(), postgres.Options{Schema: s.schema, Now: now, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// Empty every table; the audit guards (which a tamper test may have
	// disabled) are switched off for that and back on after.
	reset := `ALTER TABLE audit DISABLE TRIGGER USER;
		DELETE FROM asset_ips; DELETE FROM assets; DELETE FROM finding_tags; DELETE FROM finding_tag_counts; DELETE FROM findings;
		DELETE FROM alert_ips; DELETE FROM alert_tags; DELETE FROM alerts; DELETE FROM alert_hourly;
		DELETE FROM ingested; DELETE FROM audit; DELETE FROM sessions; DELETE FROM tokens;
		DELETE FROM user_roles; DELETE FROM users; DELETE FROM sensors; DELETE FROM scores;
		UPDATE audit_head SET seq = 0, hash = '` + store.GenesisHash + `';
		ALTER TABLE audit ENABLE TRIGGER USER;`
	if _, err := db.Raw().ExecContext(ctx, reset); err != nil {
		t.Fatalf("empty the test schema: %v", err)
	}
	return db
}

func backend(s *suite) storetest.Backend {
	return storetest.Backend{
		Open: s.open,
		Exec: func(ctx context.Context, s store.Store, stmt string) error {
			_, err := s.(*postgres.DB).Raw().ExecContext(ctx, stmt)
			return err
		},
		DisableAuditGuards: func(ctx context.Context, s store.Store) error {
			_, err := s.(*postgres.DB).Raw().ExecContext(ctx, `ALTER TABLE audit DISABLE TRIGGER USER`)
			return err
		},
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, backend(&suite{schema: schema(t)})) }

func TestMigrations(t *testing.T) {
	name := schema(t)
	storetest.RunMigrations(t, postgres.Migrations(), func(t *testing.T, m fs.FS) (store.Store, error) {
		db, err := postgres.Open(context.Background(), testURL(), postgres.Options{Schema: name, Migrations: m})
		if err != nil {
			return nil, err
		}
		return db, nil
	})
}

// TestConcurrentOpen opens one empty schema from several processes' worth
// of pools at once: the migration lock lets exactly one migrate.
func TestConcurrentOpen(t *testing.T) {
	name := schema(t)
	errs := make(chan error, 4)
	dbs := make(chan *postgres.DB, 4)
	for range 4 {
		go func() {
			db, err := postgres.Open(context.Background(), testURL(), postgres.Options{Schema: name, MaxConns: 2})
			errs <- err
			dbs <- db
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
		if db := <-dbs; db != nil {
			v, err := db.SchemaVersion(context.Background())
			if err != nil || v != 3 {
				t.Errorf("schema version %d, %v", v, err)
			}
			db.Close()
		}
	}
}

func TestBadURL(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://user:s3cret@[bad", postgres.Options{})
	if err == nil {
		t.Fatal("opened a malformed URL")
	}
	if contains(err.Error(), "s3cret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestOneConnection: lists must not hold a connection while they wait
// for another (the node's default pool is small; the load benchmark hung
// on exactly that).
func TestOneConnection(t *testing.T) {
	db, err := postgres.Open(context.Background(), testURL(), postgres.Options{Schema: schema(t), MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.OneConnection(t, db)
}
