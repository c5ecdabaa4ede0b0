package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heir-emd/heir/internal/store/postgres"
	"github.com/heir-emd/heir/internal/store/storetest"
)

func TestFill(t *testing.T) {
	db, err := postgres.Open(context.Background(), testURL(), postgres.Options{Schema: schema(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.RunFill(t, db, db.Bulk())
}

// BenchmarkHospital fills a schema with storetest.HospitalScale (once: the
// schema heir_bench_v2_<devices>_<alerts> is kept for later runs; drop it by
// hand) and measures the overview, device list and device page queries.
//
//	go test -run '^$' -bench Hospital -benchtime 200x ./internal/store/postgres/
func BenchmarkHospital(b *testing.B) {
	ctx := context.Background()
	sc := storetest.ScaleFromEnv()
	name := fmt.Sprintf("heir_bench_v2_%d_%d", sc.Assets, sc.Alerts)
	conn, err := pgx.Connect(ctx, testURL())
	if err != nil {
		b.Skipf("PostgreSQL unreachable: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+name); err != nil {
		b.Fatal(err)
	}
	db, err := postgres.Open(ctx, testURL(), postgres.Options{Schema: name})
	if err != nil {
		b.Fatal(err)
	}
	if !storetest.Filled(ctx, db, sc) {
		db.Close()
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE; CREATE SCHEMA "+name); err != nil {
			b.Fatal(err)
		}
		if db, err = postgres.Open(ctx, testURL(), postgres.Options{Schema: name}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := storetest.Fill(ctx, db.Bulk(), sc); err != nil {
			b.Fatal(err)
		}
		b.Logf("filled schema %s with %d devices and %d alerts in %s", name, sc.Assets, sc.Alerts, time.Since(start).Round(time.Second))
	}
	defer db.Close()
	storetest.Bench(b, db, sc)
}
