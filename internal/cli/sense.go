package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/event"
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
	)
	var sf sensorFlags
	sf.register(fs)
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
	case *assetsInt <= 0 || *statsInt <= 0:
		return usageError(e.stderr, "sense", "--asset-interval and --stats-interval must be positive")
	}
	set, err := sf.build()
	if err != nil {
		return usageError(e.stderr, "sense", "%v", err)
	}
	w, closeOut, err := openOutput(*out, e.stdout)
	if err != nil {
		return usageError(e.stderr, "sense", "output: %v", err)
	}
	defer closeOut()

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
	s := sensor.New(set.config, set.dissectors, sensor.Tee(set.inventory, jl))
	var mu sync.Mutex // the sensor, inventory and writer are single-threaded
	emitAssets := func() {
		for _, a := range set.inventory.Changed() {
			jl.write(&a)
		}
	}
	emitStats := func(final bool) {
		jl.write(&statsRecord{V: event.Version, Type: event.TypeStats, Time: time.Now().UTC(), Final: final,
			Sensor: s.Stats(), Inputs: src.Stats()})
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
		lastAssets, lastStats := time.Now(), time.Now()
		for {
			select {
			case <-gctx.Done():
				return nil
			case now := <-tick.C:
				mu.Lock()
				if live {
					// Replays run on capture time; only live capture
					// ages flows by the wall clock.
					s.Tick(now)
				}
				if now.Sub(lastAssets) >= *assetsInt {
					emitAssets()
					lastAssets = now
				}
				if now.Sub(lastStats) >= *statsInt {
					emitStats(false)
					lastStats = now
				}
				err := jl.flush()
				mu.Unlock()
				if err != nil {
					return fmt.Errorf("write events: %w", err)
				}
			}
		}
	})
	runErr := g.Wait()
	mu.Lock()
	s.Finish()
	emitAssets()
	emitStats(true)
	flushErr := jl.flush()
	mu.Unlock()
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
