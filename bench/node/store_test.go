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
// their own. It fills them when they are missing, as the command does.
// HEIR_BENCH_SCALE=0.01 uses the small hospital.
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
	for _, backend := range cfg.backends {
		b.Run(backend, func(b *testing.B) {
			var h *hospital
			var err error
			switch backend {
			case "sqlite":
				h, err = openSQLiteHospital(ctx, cfg.sqliteDir, cfg.sc, false, cfg.conns, log)
			case "postgres":
				h, err = openPostgresHospital(ctx, cfg.pgURL, cfg.pgSchema, cfg.sc, false, cfg.conns, log)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer h.close()
			storetest.Bench(b, h.st, cfg.sc)
		})
	}
}
