// Command node is the hospital node's load benchmark: it fills a store
// with a generated hospital (100,000 devices, about 200,000 findings,
// 1,000,000 alerts, 7 days of scores, about 1,000,000 vulnerability
// matches: storetest.HospitalScale), starts the
// node's real HTTP server on it, drives the API with concurrent clients
// and reports the latency of the overview, the device list and the device
// page against the 100 ms p95 budget; then it measures how many events
// per second the node's ingest path stores. On SQLite and on PostgreSQL.
//
//	go run ./bench/node [-backend both] [-clients 8] [-duration 60s] [-ingest 20000]
//
// The filled databases are kept (SQLite in $TMPDIR/heir-bench-node-sqlite-…,
// PostgreSQL in schema heir_bench_node_…) and reused by the next run;
// -refill fills them again. See bench/node/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heir-emd/heir/internal/auth"
	"github.com/heir-emd/heir/internal/server"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/store/storetest"
	"github.com/heir-emd/heir/internal/testenv"
)

// config holds the flags.
type config struct {
	backends      []string
	scale         float64
	sc            storetest.Scale
	sqliteDir     string
	pgURL         string
	pgSchema      string
	refill        bool
	fillOnly      bool
	load          loadConfig
	weights       [3]int
	target        time.Duration
	ingest        int
	ingestWorkers []int
	bus           bool
	pcap          string
	scratchDir    string
	verbose       bool
	// baseline also measures the hospital without vulnerability matches
	// and top peers; baselineRun marks that run's config.
	baseline, baselineRun bool
	// conns is the store's connection pool (SQLite read connections,
	// PostgreSQL connections); 0 keeps the node's default.
	conns int
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/node:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ok, err := run(ctx, cfg, os.Stdout, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/node:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(3) // over budget or errors: the table says which
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench/node", flag.ContinueOnError)
	cfg := &config{}
	backend := fs.String("backend", "both", "`sqlite`, postgres or both")
	fs.Float64Var(&cfg.scale, "scale", 1, "fraction of the hospital (100,000 devices, 1,000,000 alerts) to fill, for a quick run (0.01)")
	fs.StringVar(&cfg.sqliteDir, "sqlite-dir", "", "`DIR` that keeps the filled SQLite database (default $TMPDIR/heir-bench-node-sqlite-DEVICES-ALERTS)")
	pgDefault := os.Getenv("HEIR_TEST_PG")
	if pgDefault == "" {
		pgDefault = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	fs.StringVar(&cfg.pgURL, "pg", pgDefault, "PostgreSQL `URL` (default $HEIR_TEST_PG or the local test database)")
	fs.StringVar(&cfg.pgSchema, "pg-schema", "", "`SCHEMA` that keeps the filled PostgreSQL hospital (default heir_bench_node_DEVICES_ALERTS)")
	fs.BoolVar(&cfg.refill, "refill", false, "fill the hospital again even if the kept database holds it")
	fs.BoolVar(&cfg.fillOnly, "fill-only", false, "fill (or check) the hospitals and exit")
	fs.IntVar(&cfg.load.clients, "clients", 8, "concurrent API clients")
	fs.DurationVar(&cfg.load.warmup, "warmup", 10*time.Second, "load before measuring (not counted)")
	fs.DurationVar(&cfg.load.duration, "duration", 60*time.Second, "measured load per backend")
	fs.Int64Var(&cfg.load.requests, "requests", 0, "measure this many requests per backend instead of a duration (0: use -duration)")
	mixFlag := fs.String("mix", "1:1:1", "weights of `overview:list:device` requests")
	fs.DurationVar(&cfg.target, "target", 100*time.Millisecond, "the p95 budget of each page")
	fs.IntVar(&cfg.ingest, "ingest", 20000, "events per ingest measurement (0: skip the ingest part)")
	workers := fs.String("ingest-workers", "1,4", "comma-separated goroutine counts calling Ingest.Handle (the node's consumer uses 1)")
	fs.BoolVar(&cfg.bus, "bus", true, "also measure ingest through the embedded NATS JetStream bus and the node's consumer")
	fs.StringVar(&cfg.pcap, "pcap", "", "capture whose sensor output is the ingest workload (default $HEIR_DATA/pcap/lab/medlab-dev.pcap)")
	fs.StringVar(&cfg.scratchDir, "scratch", os.TempDir(), "`DIR` for the throw-away ingest databases and bus storage")
	fs.IntVar(&cfg.conns, "conns", 0, "the store's pool: SQLite read connections or PostgreSQL connections (0: the node's default, GOMAXPROCS and max(4, CPUs))")
	fs.DurationVar(&cfg.load.timeout, "timeout", 10*time.Second, "a request not answered within this is an error")
	fs.BoolVar(&cfg.verbose, "v", false, "log the store's and server's information messages")
	fs.BoolVar(&cfg.baseline, "baseline", false, "after each backend, measure the same hospital without vulnerability matches and top peers (as generated before they existed; kept beside the other, suffix -baseline)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch *backend {
	case "both":
		cfg.backends = []string{"sqlite", "postgres"}
	case "sqlite", "postgres":
		cfg.backends = []string{*backend}
	default:
		return nil, fmt.Errorf("-backend %q: want sqlite, postgres or both", *backend)
	}
	if cfg.scale <= 0 || cfg.scale > 1 {
		return nil, fmt.Errorf("-scale %v: want a fraction in (0, 1]", cfg.scale)
	}
	cfg.sc = storetest.HospitalScale
	if cfg.scale < 1 {
		cfg.sc.Assets = max(100, int(float64(cfg.sc.Assets)*cfg.scale))
		cfg.sc.Alerts = max(1000, int(float64(cfg.sc.Alerts)*cfg.scale))
	}
	if cfg.sqliteDir == "" {
		cfg.sqliteDir = filepath.Join(os.TempDir(), fmt.Sprintf("heir-bench-node-sqlite-%d-%d", cfg.sc.Assets, cfg.sc.Alerts))
	}
	if cfg.pgSchema == "" {
		cfg.pgSchema = fmt.Sprintf("heir_bench_node_%d_%d", cfg.sc.Assets, cfg.sc.Alerts)
	}
	parts := strings.Split(*mixFlag, ":")
	if len(parts) != 3 {
		return nil, fmt.Errorf("-mix %q: want three weights overview:list:device", *mixFlag)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-mix %q: %q is not a weight", *mixFlag, p)
		}
		cfg.weights[i] = n
	}
	if cfg.weights[0]+cfg.weights[1]+cfg.weights[2] == 0 {
		return nil, fmt.Errorf("-mix %q: all weights zero", *mixFlag)
	}
	if cfg.load.clients < 1 || cfg.load.duration <= 0 && cfg.load.requests <= 0 {
		return nil, errors.New("need at least one client and a positive -duration or -requests")
	}
	for _, w := range strings.Split(*workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-ingest-workers %q: want positive counts", *workers)
		}
		cfg.ingestWorkers = append(cfg.ingestWorkers, n)
	}
	if cfg.pcap == "" {
		if dir, ok := testenv.OptionalDataDir(); ok {
			cfg.pcap = filepath.Join(dir, "pcap", "lab", "medlab-dev.pcap")
		} else if cfg.ingest > 0 {
			return nil, errors.New("the lab capture is not found: set HEIR_DATA or -pcap, or -ingest 0")
		}
	}
	return cfg, nil
}

// backendResult is what one backend measured, for the closing summary.
type backendResult struct {
	backend string
	load    *loadResult
	p95     map[string]time.Duration
	errors  int
	ingest  []ingestResult
}

func run(ctx context.Context, cfg *config, w io.Writer, log *slog.Logger) (bool, error) {
	fmt.Fprintf(w, "command:  go run ./bench/node %s\n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(w, "date:     %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "machine:  %s\n", machine())
	fmt.Fprintf(w, "modules:  %s\n", moduleVersions())
	most, mostN, mostKEV := storetest.MostVulnerable(cfg.sc)
	fmt.Fprintf(w, "hospital: %d devices, ~%d findings, %d alerts over %d days, %d days of device scores, %d vulnerability matches (at most %d on one device: dev-%06d, %d in KEV) (storetest.Fill)\n",
		cfg.sc.Assets, cfg.sc.Assets*cfg.sc.FindingsPerAsset, cfg.sc.Alerts, cfg.sc.AlertDays, cfg.sc.ScoreDays, storetest.VulnTotal(cfg.sc), mostN, most, mostKEV)

	var set *envelopeSet
	if cfg.ingest > 0 && !cfg.fillOnly {
		start := time.Now()
		lab, err := runLab(ctx, cfg.pcap)
		if err != nil {
			return false, err
		}
		if set, err = lab.envelopes(cfg.ingest); err != nil {
			return false, err
		}
		fmt.Fprintf(w, "ingest:   %d events from %s (%d devices, %d findings, %d alerts per copy) × %d copies with new ids and addresses: %d assets, %d findings, %d alerts, mean record %d bytes (prepared in %s)\n",
			len(set.envs), filepath.Base(cfg.pcap), len(lab.assets), len(lab.findings), len(lab.alerts), set.copies,
			set.assets, set.findings, set.alerts, set.dataBytes/int64(len(set.envs)), time.Since(start).Round(time.Millisecond))
	}

	var results []backendResult
	for _, b := range cfg.backends {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		r, err := runBackend(ctx, cfg, b, set, w, log)
		if err != nil {
			return false, err
		}
		if r != nil {
			results = append(results, *r)
		}
		if cfg.baseline {
			// The baseline's devices, findings, scores and alerts are
			// the same (the generator draws matches and peers from
			// streams of their own); it has no ingest part.
			bc := *cfg
			bc.baselineRun = true
			bc.sc.Vulns, bc.sc.TopPeers = nil, false
			bc.sqliteDir += "-baseline"
			bc.pgSchema += "_baseline"
			r, err := runBackend(ctx, &bc, b, nil, w, log)
			if err != nil {
				return false, err
			}
			if r != nil {
				r.backend += " baseline"
				results = append(results, *r)
			}
		}
	}
	if cfg.fillOnly {
		return true, nil
	}
	return summary(w, cfg, results), nil
}

func runBackend(ctx context.Context, cfg *config, backend string, set *envelopeSet, w io.Writer, log *slog.Logger) (*backendResult, error) {
	var h *hospital
	var err error
	version := ""
	switch backend {
	case "sqlite":
		h, err = openSQLiteHospital(ctx, cfg.sqliteDir, cfg.sc, cfg.refill, cfg.conns, log)
	case "postgres":
		version = postgresVersion(ctx, cfg.pgURL)
		h, err = openPostgresHospital(ctx, cfg.pgURL, cfg.pgSchema, cfg.sc, cfg.refill, cfg.conns, log)
	}
	if err != nil {
		return nil, err
	}
	defer h.close()
	title := ""
	if cfg.baselineRun {
		title = " — baseline: the same hospital without vulnerability matches and top peers"
	}
	fmt.Fprintf(w, "\n== %s%s%s ==\n", backend, version, title)
	if h.fillTook > 0 {
		fmt.Fprintf(w, "database: %s (filled in this run in %s)\n", h.where, h.fillTook.Round(time.Second))
	} else {
		fmt.Fprintf(w, "database: %s (reused: it holds the hospital)\n", h.where)
	}
	if cfg.fillOnly {
		return nil, nil
	}

	res := &backendResult{backend: backend}
	if err := serveAndLoad(ctx, cfg, h, res, w, log); err != nil {
		return nil, err
	}
	h.close() // the hospital's caches and connections leave room for the ingest runs
	h.close = func() error { return nil }

	if set != nil {
		la := loadAverage()
		ing, err := measureIngest(ctx, backend, cfg, set, log)
		if err != nil {
			return nil, err
		}
		if cfg.bus {
			b, err := measureBus(ctx, backend, cfg, set, log)
			if err != nil {
				return nil, fmt.Errorf("%s: ingest through the bus: %w", backend, err)
			}
			ing = append(ing, b...)
		}
		res.ingest = ing
		fmt.Fprintf(w, "\ningest into an empty %s database (load average %s at start, %s at end):\n", backend, la, loadAverage())
		fmt.Fprintf(w, "  %-58s %7s %8s %9s %11s\n", "path", "workers", "events", "seconds", "events/s")
		for _, r := range ing {
			note := ""
			if r.note != "" {
				note = "  (" + r.note + ")"
			}
			fmt.Fprintf(w, "  %-58s %7d %8d %9.2f %11.0f%s\n", r.name, r.workers, r.events, r.took.Seconds(), r.rate(), note)
		}
	}
	return res, nil
}

func postgresVersion(ctx context.Context, url string) string {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return ""
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return ""
	}
	return " (PostgreSQL " + strings.Fields(v)[0] + ")"
}

// serveAndLoad starts the node's HTTP server on the hospital, gives the
// load generator a token, and runs the load.
func serveAndLoad(ctx context.Context, cfg *config, h *hospital, res *backendResult, w io.Writer, log *slog.Logger) error {
	secret, err := benchToken(ctx, h.st)
	if err != nil {
		return fmt.Errorf("%s: API token: %w", h.backend, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// The server's clock is the generated data's "now", so that the
	// overview's windows hold the generated alerts whatever the date.
	srv, err := server.New(ctx, server.Options{Store: h.st, Logger: log, Listen: ln.Addr().String(),
		Now: func() time.Time { return storetest.BenchEnd }})
	if err != nil {
		ln.Close()
		return fmt.Errorf("%s: server: %w", h.backend, err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() { stop(); <-served }()

	c := &client{base: "http://" + ln.Addr().String(), token: secret, http: &http.Client{
		Timeout:   cfg.load.timeout,
		Transport: &http.Transport{MaxIdleConns: cfg.load.clients * 2, MaxIdleConnsPerHost: cfg.load.clients * 2, IdleConnTimeout: time.Minute},
	}}
	defer c.http.CloseIdleConnections()
	cursor, err := sanity(ctx, c, cfg.sc)
	if err != nil {
		return fmt.Errorf("%s: the API's answers do not match the hospital: %w", h.backend, err)
	}
	m := newMix(cfg.weights, listVariants(cursor, cfg.sc.Assets), cfg.sc)

	la0 := loadAverage()
	lr := runLoad(ctx, c, m, cfg.load)
	la1 := loadAverage()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	res.load = &lr
	res.p95 = map[string]time.Duration{}
	what := fmt.Sprintf("%s measured after %s of warm-up (%d requests, %d errors)", lr.elapsed.Round(100*time.Millisecond), cfg.load.warmup, lr.warmed, lr.stats.warmErrors)
	fmt.Fprintf(w, "load:     %d clients, %s, mix overview:list:device %d:%d:%d, server clock %s\n",
		cfg.load.clients, what, cfg.weights[0], cfg.weights[1], cfg.weights[2], storetest.BenchEnd.Format(time.DateOnly))
	fmt.Fprintf(w, "load average: %s at start, %s at end\n\n", la0, la1)

	head := fmt.Sprintf("  %-40s %8s %7s %6s %8s %8s %8s %8s %8s %8s  %s\n", "endpoint", "requests", "req/s", "errors",
		"mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms", "≤"+ms(cfg.target)+"ms", "p95 vs "+ms(cfg.target)+" ms")
	fmt.Fprint(w, head)
	row := func(name string, hs *hist, errs int, verdict bool) {
		if hs == nil {
			hs = new(hist)
		}
		v := ""
		if verdict {
			v = "ok"
			if hs.quantile(0.95) > cfg.target || hs.n == 0 {
				v = "OVER"
			}
		}
		if hs.n == 0 {
			fmt.Fprintf(w, "  %-40s %8d %7s %6d %8s %8s %8s %8s %8s %8s  %s\n", name, 0, "-", errs, "-", "-", "-", "-", "-", "-", v)
			return
		}
		within := 100 * float64(hs.within(cfg.target)) / float64(hs.n)
		fmt.Fprintf(w, "  %-40s %8d %7.1f %6d %8s %8s %8s %8s %8s %7.2f%%  %s\n", name, hs.n, float64(hs.n)/lr.elapsed.Seconds(), errs,
			ms(hs.mean()), ms(hs.quantile(0.5)), ms(hs.quantile(0.95)), ms(hs.quantile(0.99)), ms(hs.max), within, v)
	}
	all := new(hist)
	pages := []struct{ ep, name string }{
		{epOverview, "GET /api/v1/overview"},
		{epList, "GET /api/v1/assets (all lists)"},
		{epDevice, "GET /api/v1/assets/{id} (random device)"},
	}
	for _, p := range pages {
		hs := lr.stats.byEndpoint[p.ep]
		row(p.name, hs, lr.stats.errors[p.ep], true)
		if hs != nil {
			all.merge(hs)
			res.p95[p.ep] = hs.quantile(0.95)
		}
		res.errors += lr.stats.errors[p.ep]
		if p.ep == epList {
			for _, v := range m.variants {
				row("  "+v.name, lr.stats.byVariant[v.name], 0, false)
			}
		}
		if p.ep == epDevice {
			for _, v := range deviceVariants {
				row("  "+v, lr.stats.byVariant[v], 0, false)
			}
		}
	}
	row("all requests", all, res.errors, false)
	res.errors += lr.stats.warmErrors
	for _, e := range lr.stats.firstErrs {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	return nil
}

// benchToken gives the load generator a viewer's API token (made as the
// node makes them: a random secret, stored by its hash).
func benchToken(ctx context.Context, st store.Store) (string, error) {
	u, err := st.UserByName(ctx, "bench-load")
	if errors.Is(err, store.ErrNotFound) {
		u, err = st.CreateUser(ctx, "bench/node", store.User{Name: "bench-load", Roles: []string{store.RoleViewer}})
	}
	if err != nil {
		return "", err
	}
	secret, hash, err := auth.NewSecret(auth.TokenPrefix)
	if err != nil {
		return "", err
	}
	_, err = st.CreateToken(ctx, "bench/node", store.Token{Name: fmt.Sprint("bench-load-", time.Now().UnixNano()), Owner: u.ID,
		Hash: hash, Expires: time.Now().Add(24 * time.Hour)})
	return secret, err
}

// ms formats a duration in milliseconds with three significant digits.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// summary compares each backend's pages with the budget and restates the
// ingest rates; it reports whether every page met it without errors.
func summary(w io.Writer, cfg *config, results []backendResult) bool {
	ok := true
	fmt.Fprintf(w, "\n== summary: p95 per page against %s ms, ingest rate ==\n", ms(cfg.target))
	fmt.Fprintf(w, "  %-17s %12s %12s %12s %7s  %s\n", "backend", "overview", "device list", "device page", "errors", "verdict")
	for _, r := range results {
		verdict := "all under budget"
		var over []string
		for _, ep := range []string{epOverview, epList, epDevice} {
			if cfg.weights[slices.Index([]string{epOverview, epList, epDevice}, ep)] == 0 {
				continue
			}
			if p, seen := r.p95[ep]; !seen || p > cfg.target {
				if !seen {
					ep += " (no answers)"
				}
				over = append(over, ep)
			}
		}
		if len(over) > 0 {
			verdict = "OVER budget: " + strings.Join(over, ", ")
			ok = false
		}
		if r.errors > 0 {
			verdict += fmt.Sprintf("; %d errors (warm-up included)", r.errors)
			ok = false
		}
		p95 := func(ep string) string {
			if p, seen := r.p95[ep]; seen {
				return ms(p) + " ms"
			}
			return "-"
		}
		fmt.Fprintf(w, "  %-17s %12s %12s %12s %7d  %s\n", r.backend, p95(epOverview), p95(epList), p95(epDevice), r.errors, verdict)
	}
	for _, r := range results {
		for _, in := range r.ingest {
			fmt.Fprintf(w, "  %-10s ingest %-58s %2d worker(s): %8.0f events/s\n", r.backend, in.name, in.workers, in.rate())
		}
	}
	return ok
}
