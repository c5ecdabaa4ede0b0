package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/sqlite"
	"github.com/heir-emd/heir/internal/store/storetest"
)

// BenchmarkHospital measures the three pages the node must serve within
// 100 ms at the 95th percentile with 100,000 devices and 1,000,000 alerts
// (storetest.HospitalScale): the overview, the device list and the device
// page, through the whole handler (token authentication, parameters,
// queries, JSON), each beside the same store queries called directly
// (the baseline: the ratio is the HTTP layer's cost).
//
// The database is filled once and kept in $HEIR_BENCH_DIR (default a
// folder in the temp dir); HEIR_BENCH_SCALE=0.01 runs a small hospital.
//
//	go test -run '^$' -bench Hospital -benchtime 200x ./internal/server/
func BenchmarkHospital(b *testing.B) {
	ctx := context.Background()
	sc := storetest.ScaleFromEnv()
	dir := os.Getenv("HEIR_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("heir-bench-server-%d-%d", sc.Assets, sc.Alerts))
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

	u, err := db.UserByName(ctx, "bench")
	if errors.Is(err, store.ErrNotFound) {
		u, err = db.CreateUser(ctx, "bench", store.User{Name: "bench", Roles: []string{store.RoleViewer}})
	}
	if err != nil {
		b.Fatal(err)
	}
	secret, hash, _ := auth.NewSecret(auth.TokenPrefix)
	if _, err := db.CreateToken(ctx, "bench", store.Token{Name: fmt.Sprint("bench-", time.Now().UnixNano()), Owner: u.ID, Hash: hash}); err != nil {
		b.Fatal(err)
	}
	now := func() time.Time { return storetest.BenchEnd }
	srv, err := New(ctx, Options{Store: db, Now: now, Auth: AuthOptions{Password: cheap}})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	r := rand.New(rand.NewPCG(5, 6))

	measure := func(b *testing.B, fn func() error) {
		b.ReportAllocs()
		durs := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t := time.Now()
			if err := fn(); err != nil {
				b.Fatal(err)
			}
			durs = append(durs, time.Since(t))
		}
		slices.Sort(durs)
		if len(durs) > 0 {
			b.ReportMetric(float64(durs[len(durs)*95/100].Microseconds())/1000, "p95-ms")
		}
	}
	get := func(path func() string) func() error {
		return func() error {
			req := httptest.NewRequest("GET", path(), nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				return fmt.Errorf("%s: %d %s", req.URL, w.Code, w.Body.String())
			}
			return nil
		}
	}
	fixed := func(p string) func() string { return func() string { return p } }
	device := func() int { return r.IntN(sc.Assets) }

	b.Run("Overview/Handler", func(b *testing.B) { measure(b, get(fixed("/api/v1/overview"))) })
	b.Run("Overview/Store", func(b *testing.B) {
		measure(b, func() error {
			if _, err := db.ScoreTrend(ctx, store.ScoreHospital, DefaultSite, storetest.BenchEnd.AddDate(0, 0, -29), storetest.BenchEnd); err != nil {
				return err
			}
			if _, err := db.CountAssetsByBand(ctx); err != nil {
				return err
			}
			for _, tax := range overviewTaxonomies {
				if _, err := db.CountFindingsByTag(ctx, store.TagCountQuery{Taxonomy: tax}); err != nil {
					return err
				}
			}
			if _, err := db.AlertHistogram(ctx, store.HistogramQuery{From: storetest.BenchEnd.Add(-7 * 24 * time.Hour), To: storetest.BenchEnd, Bucket: time.Hour}); err != nil {
				return err
			}
			_, err := db.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{Limit: 10}})
			return err
		})
	})
	b.Run("DeviceList/Handler", func(b *testing.B) { measure(b, get(fixed("/api/v1/assets?total=true"))) })
	b.Run("DeviceList/Store", func(b *testing.B) {
		measure(b, func() error {
			_, err := db.ListAssets(ctx, store.AssetQuery{ListOptions: store.ListOptions{WithTotal: true}})
			return err
		})
	})
	b.Run("DeviceListFiltered/Handler", func(b *testing.B) {
		measure(b, get(fixed("/api/v1/assets?role=infusion-pump&band=high,critical&sort=-last_seen&total=true")))
	})
	b.Run("DevicePage/Handler", func(b *testing.B) {
		measure(b, get(func() string { return fmt.Sprintf("/api/v1/assets/dev-%06d", device()) }))
	})
	b.Run("DevicePage/Store", func(b *testing.B) {
		measure(b, func() error {
			i := device()
			id := fmt.Sprintf("dev-%06d", i)
			a, err := db.Asset(ctx, id)
			if err != nil {
				return err
			}
			if _, err := db.ListFindings(ctx, store.FindingQuery{Asset: id, ListOptions: store.ListOptions{Limit: assetFindings, WithTotal: true}}); err != nil {
				return err
			}
			if _, err := db.ListAlerts(ctx, store.AlertQuery{IP: a.IPs[0], ListOptions: store.ListOptions{Limit: assetAlerts, WithTotal: true}}); err != nil {
				return err
			}
			_, err = db.ScoreTrend(ctx, store.ScoreDevice, id, a.Risk.Day.AddDate(0, 0, -29), a.Risk.Day)
			return err
		})
	})
}
