package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/heir-emd/heir/internal/store/storetest"
)

// BenchmarkStore runs the store's own hospital benchmark (storetest.Bench:
// each query behind the overview, the device list and the device page,
// called directly) on the hospitals this command keeps, so that both
// backends are measured on the same generated data without a fill of
// their own, beside the baseline hospital of -baseline (-bench
// 'Store/sqlite/' leaves it out). It fills them when they are missing, as
// the command does. HEIR_BENCH_SCALE=0.01 uses the small hospital.
//
//	go test -run '^$' -bench Store -benchtime 200x ./bench/node/
func BenchmarkStore(b *testing.B) {
	args := []string{"-ingest", "0"}
	if v := os.Getenv("HEIR_BENCH_SCALE"); v != "" {
		args = append(args, "-scale", v)
	}
	cfg, err := parseFlags(args)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The baseline is the same hospital without vulnerability matches
	// and top peers (bench/node -baseline keeps it).
	base := *cfg
	base.sc.Vulns, base.sc.TopPeers = nil, false
	base.sqliteDir += "-baseline"
	base.pgSchema += "_baseline"
	for _, backend := range cfg.backends {
		for _, c := range []struct {
			name string
			cfg  *config
		}{{backend, cfg}, {backend + "-baseline", &base}} {
			b.Run(c.name, func(b *testing.B) {
				var h *hospital
				var err error
				switch backend {
				case "sqlite":
					h, err = openSQLiteHospital(ctx, c.cfg.sqliteDir, c.cfg.sc, false, c.cfg.conns, log)
				case "postgres":
					h, err = openPostgresHospital(ctx, c.cfg.pgURL, c.cfg.pgSchema, c.cfg.sc, false, c.cfg.conns, log)
				}
				if err != nil {
					b.Fatal(err)
				}
				defer h.close()
				storetest.Bench(b, h.st, c.cfg.sc)
			})
		}
	}
}
