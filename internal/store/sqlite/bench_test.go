package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/store/sqlite"
	"github.com/heir-emd/heir/internal/store/storetest"
)

func TestFill(t *testing.T) {
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.RunFill(t, db, db.Bulk())
}

// BenchmarkHospital fills a database with storetest.HospitalScale (once:
// later runs reuse $HEIR_BENCH_DIR, default a folder in the temp dir) and
// measures the overview, device list and device page queries.
//
//	go test -run '^$' -bench Hospital -benchtime 200x ./internal/store/sqlite/
func BenchmarkHospital(b *testing.B) {
	ctx := context.Background()
	sc := storetest.ScaleFromEnv()
	dir := os.Getenv("HEIR_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("heir-bench-sqlite-v2-%d-%d", sc.Assets, sc.Alerts))
	}
	db, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if !storetest.Filled(ctx, db, sc) {
		db.Close()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		if db, err = sqlite.Open(ctx, dir, sqlite.Options{}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := storetest.Fill(ctx, db.Bulk(), sc); err != nil {
			b.Fatal(err)
		}
		b.Logf("filled %s with %d devices and %d alerts in %s", dir, sc.Assets, sc.Alerts, time.Since(start).Round(time.Second))
	}
	defer db.Close()
	storetest.Bench(b, db, sc)
}
