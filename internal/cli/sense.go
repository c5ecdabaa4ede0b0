package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/heir-emd/heir/internal/baseline"
	"github.com/heir-emd/heir/internal/bus"
	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/mlsense"
	"github.com/heir-emd/heir/internal/sensor"
)

// statsRecord is the periodic "stats" event of `heir sense`.
type statsRecord struct {
	V      int                  `json:"v"`
	Type   string               `json:"type"`
	Time   time.Time            `json:"time"`
	Final  bool                 `json:"final,omitempty"`
	Sensor sensor.Stats         `json:"sensor"`
	Inputs []capture.InputStats `json:"inputs"`
	Bus    *bus.PublisherStats  `json:"bus,omitempty"`
	Detect *detect.Stats        `json:"detect,omitempty"`
	// Baseline and ML count the behaviour baselines' and the flow
	// classifier's work, when they run.
	Baseline *baseline.Stats `json:"baseline,omitempty"`
	ML       *mlsense.Stats  `json:"ml,omitempty"`
}

// eventSink writes the engine's alerts and findings as JSON lines and to
// the node's bus. The engine calls it on the sensor's goroutine, under
// the command's lock, like every other writer.
type eventSink struct {
	jl  *jsonLines
	pub *bus.Publisher
}

func (s *eventSink) Alert(a *event.Alert) {
	s.jl.write(a)
	if s.pub != nil {
		s.pub.Publish(event.TypeAlert, a)
	}
}

func (s *eventSink) Finding(f *event.Finding) {
	s.jl.write(f)
	if s.pub != nil {
		s.pub.Publish(event.TypeFinding, f)
	}
}

func runSense(e *env, args []string) int {
	fs := newFlags("sense", "heir sense [flags] --iface IF[,IF…] | --read FILE|DIR …", `
Run the sensor: capture live from network interfaces (AF_PACKET, Linux; needs
root or CAP_NET_RAW) or replay capture files, and write what it sees as JSON
lines (docs/events.md): flow records, protocol observations, devices when
they change, and statistics. It runs until interrupted (live) or until the
captures end (replay).`)
	var (
		ifaces    = fs.String("iface", "", "capture live on these comma-separated `INTERFACES`")
		read      = fs.Bool("read", false, "replay the capture files and directories given as arguments instead of capturing live")
		out       = fs.String("out", "-", "write events to `FILE` ('-' for standard output)")
		assetsInt = fs.Duration("asset-interval", 10*time.Second, "how often changed devices are written")
		statsInt  = fs.Duration("stats-interval", time.Minute, "how often statistics are written")
		promisc   = fs.Bool("promisc", true, "put live interfaces in promiscuous mode")
		snaplen   = fs.Int("snaplen", 65535, "bytes captured per live packet")
		node      = fs.String("node", "", "send events to the hospital node's bus at these comma-separated `URLS` (default: the URLs in --sensor-creds) instead of standard output")
		creds     = fs.String("sensor-creds", "", "the sensor's credentials `FILE` issued by 'heir sensor add' on the node (needed with --node)")
		sensorNm  = fs.String("sensor-name", "", "the sensor's name, for credentials files that do not carry one")
		dataDir   = fs.String("data", defaultDataDir(), "`DIR` for the sensor's state: the spool that keeps events while the node is unreachable")
		spoolMax  = fs.Int64("spool-max", 256<<20, "most `BYTES` of events kept while the node is unreachable; the oldest go first when full")
		drainWait = fs.Duration("drain-timeout", 30*time.Second, "with --read, how long to wait at the end for the node to take the spooled events")
		saveEvery = fs.Duration("baseline-save-every", 10*time.Minute, "how often the behaviour baselines are saved to --baseline-file (and at exit)")
	)
	var sf sensorFlags
	sf.register(fs)
	sf.registerEngines(fs, false)
	if code, ok := parse(fs, args, e.stderr); !ok {
		return code
	}
	live := *ifaces != ""
	switch {
	case live && *read:
		return usageError(e.stderr, "sense", "give either --iface or --read, not both")
	case !live && !*read:
		return usageError(e.stderr, "sense", "say where to read packets: --iface eth0 for live capture, or --read FILE for a capture file")
	case *read && fs.NArg() == 0:
		return usageError(e.stderr, "sense", "--read needs capture files or directories as arguments")
	case live && fs.NArg() > 0:
		return usageError(e.stderr, "sense", "unexpected arguments %q (did you mean --read?)", fs.Args())
	case *assetsInt <= 0 || *statsInt <= 0 || *saveEvery <= 0:
		return usageError(e.stderr, "sense", "--asset-interval, --stats-interval and --baseline-save-every must be positive")
	}
	baseFileSet := false
	fs.Visit(func(f *flag.Flag) { baseFileSet = baseFileSet || f.Name == "baseline-file" })
	if live && !baseFileSet && !sf.noDetect && sf.engines.baselineOn() {
		// A live sensor keeps what it learnt across restarts by default
		// (a week of learning lost at every restart would never end); a
		// replay of captures keeps it only when asked.
		sf.engines.baseFile = filepath.Join(*dataDir, "baseline.json")
		if err := os.MkdirAll(*dataDir, 0o700); err != nil {
			return usageError(e.stderr, "sense", "--data: %v", err)
		}
	}
	sink := &eventSink{}
	set, err := sf.build(sink, e.log)
	if err != nil {
		return usageError(e.stderr, "sense", "%v", err)
	}
	toNode := *creds != "" || *node != ""
	if toNode && *creds == "" {
		return usageError(e.stderr, "sense", "--node needs --sensor-creds: issue credentials on the node with 'heir sensor add NAME'")
	}
	outSet := false
	fs.Visit(func(f *flag.Flag) { outSet = outSet || f.Name == "out" })
	var w io.Writer = io.Discard
	if !toNode || outSet {
		ow, closeOut, err := openOutput(*out, e.stdout)
		if err != nil {
			return usageError(e.stderr, "sense", "output: %v", err)
		}
		defer closeOut()
		w = ow
	}
	var pub *bus.Publisher
	if toNode {
		c, err := bus.ReadCredentials(*creds, *sensorNm)
		if err != nil {
			return usageError(e.stderr, "sense", "--sensor-creds: %v", err)
		}
		var urls []string
		if *node != "" {
			urls = strings.Split(*node, ",")
		}
		pub, err = bus.NewPublisher(bus.PublisherConfig{Creds: c, URLs: urls, SpoolDir: filepath.Join(*dataDir, "spool"),
			SpoolMaxBytes: *spoolMax, Logger: e.log})
		if err != nil {
			fmt.Fprintf(e.stderr, "heir sense: %v\n", err)
			return ExitUsage
		}
	}

	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	var src capture.Source
	if live {
		src, err = openLive(ctx, strings.Split(*ifaces, ","), *snaplen, *promisc)
	} else {
		src, err = capture.OpenFiles(fs.Args())
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "heir sense: %v\n", err)
		return ExitUsage
	}
	defer src.Close()

	jl := newJSONLines(w)
	sink.jl, sink.pub = jl, pub
	outs := []sensor.Output{set.inventory, jl}
	outs = append(outs, set.outputs()...)
	if pub != nil {
		outs = append(outs, busOutput{pub})
	}
	s := sensor.New(set.config, set.dissectors, sensor.Tee(outs...))
	var mu sync.Mutex // the sensor, inventory and writer are single-threaded
	emitAssets := func() {
		for _, a := range set.inventory.Changed() {
			jl.write(&a)
			if pub != nil {
				pub.Publish(event.TypeAsset, &a)
			}
		}
	}
	emitStats := func(final bool) {
		rec := &statsRecord{V: event.Version, Type: event.TypeStats, Time: time.Now().UTC(), Final: final,
			Sensor: s.Stats(), Inputs: src.Stats()}
		if pub != nil {
			st := pub.Stats()
			rec.Bus = &st
		}
		if set.detect != nil {
			st := set.detect.Stats()
			rec.Detect = &st
		}
		if set.baseline != nil {
			st := set.baseline.Stats()
			rec.Baseline = &st
		}
		if set.ml != nil {
			st := set.ml.Stats()
			rec.ML = &st
		}
		jl.write(rec)
		if pub != nil {
			pub.Publish(event.TypeStats, rec)
		}
	}
	// The publisher outlives the capture: it drains the spool at the end.
	pubCtx, pubCancel := context.WithCancel(e.ctx)
	defer pubCancel()
	pubDone := make(chan error, 1)
	if pub != nil {
		go func() { pubDone <- pub.Run(pubCtx) }()
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer cancel() // the end of a replay stops the ticker
		for {
			p, err := src.Next(gctx)
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				if errors.Is(err, context.Canceled) {
					return nil
				}
				return err
			}
			mu.Lock()
			s.Packet(p)
			mu.Unlock()
		}
	})
	g.Go(func() error {
		tick := time.NewTicker(tickEvery)
		defer tick.Stop()
		lastAssets, lastStats, lastSave := time.Now(), time.Now(), time.Now()
		for {
			select {
			case <-gctx.Done():
				return nil
			case now := <-tick.C:
				mu.Lock()
				if live {
					// Replays run on capture time; only live capture
					// ages flows (and closes quiet alerts) by the wall
					// clock.
					s.Tick(now)
					set.tick(now)
				}
				if now.Sub(lastAssets) >= *assetsInt {
					emitAssets()
					lastAssets = now
				}
				if now.Sub(lastStats) >= *statsInt {
					emitStats(false)
					lastStats = now
				}
				var snap []byte
				var snapErr error
				if now.Sub(lastSave) >= *saveEvery {
					snap, snapErr = set.snapshotBaseline()
					lastSave = now
				}
				err := jl.flush()
				mu.Unlock()
				if err != nil {
					return fmt.Errorf("write events: %w", err)
				}
				// The file is written outside the lock: capture goes on.
				if snapErr == nil {
					snapErr = set.saveBaseline(snap)
				}
				if snapErr != nil {
					// Not fatal: the sensor goes on and tries again.
					e.log.Warn("baseline not saved", "err", snapErr)
				}
			}
		}
	})
	if set.detect != nil {
		// Rules and indicator lists reload without a restart: on SIGHUP,
		// and when a file changes. A broken file is refused (logged with
		// file:line:column) and the rules in force stay.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		g.Go(func() error {
			for {
				select {
				case <-gctx.Done():
					return nil
				case <-hup:
					if err := set.detect.ReloadFiles(set.files); err != nil {
						fmt.Fprintf(e.stderr, "heir sense: rules not reloaded, the previous ones stay: %v\n", err)
					}
				}
			}
		})
		if set.files.Rules != "" || len(set.files.Indicators) > 0 {
			g.Go(func() error {
				if err := set.detect.WatchFiles(gctx, set.files, 2*time.Second); !errors.Is(err, context.Canceled) {
					return err
				}
				return nil
			})
		}
	}
	runErr := g.Wait()
	mu.Lock()
	s.Finish()
	set.flush()
	emitAssets()
	emitStats(true)
	flushErr := jl.flush()
	snap, saveErr := set.snapshotBaseline()
	mu.Unlock()
	if saveErr == nil {
		saveErr = set.saveBaseline(snap)
	}
	if saveErr != nil {
		fmt.Fprintf(e.stderr, "heir sense: %v\n", saveErr)
	}
	if pub != nil {
		if !live {
			dctx, dcancel := context.WithTimeout(e.ctx, *drainWait)
			if err := pub.Drain(dctx); err != nil {
				fmt.Fprintf(e.stderr, "heir sense: %v; undelivered events stay in %s for the next run\n", err, filepath.Join(*dataDir, "spool"))
			}
			dcancel()
		}
		pubCancel()
		<-pubDone
	}
	if runErr != nil {
		fmt.Fprintf(e.stderr, "heir sense: %v\n", runErr)
		return ExitInternal
	}
	if flushErr != nil {
		fmt.Fprintf(e.stderr, "heir sense: write events: %v\n", flushErr)
		return ExitInternal
	}
	return ExitOK
}
