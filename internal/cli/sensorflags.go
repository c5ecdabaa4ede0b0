package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/flow"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/sensor"
)

// deviceInventory is what the commands need of the device inventory.
type deviceInventory interface {
	sensor.Output
	// Assets returns every device.
	Assets() []event.Asset
	// Changed returns the devices changed since the previous call.
	Changed() []event.Asset
}

// sensorFlags are the flags shared by the commands that run the sensor.
type sensorFlags struct {
	filter      string
	homeNet     string
	maxFlows    int
	features    bool
	credentials string
	noDefaults  bool
	ouiPath     string
	rules       string
	indicators  fileList
	noDetect    bool
}

// fileList is a repeatable flag of file names (also comma-separated).
type fileList []string

func (l *fileList) String() string { return strings.Join(*l, ",") }

func (l *fileList) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func (sf *sensorFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&sf.filter, "filter", "", "only analyse packets matching `EXPR` (e.g. 'host 10.1.2.3 and port 104'; see docs/filter.md)")
	fs.StringVar(&sf.homeNet, "home-net", "", "the hospital's own networks, comma-separated `CIDRS` (default: the private address ranges)")
	fs.IntVar(&sf.maxFlows, "max-flows", flow.DefaultConfig.MaxFlows, "most flows tracked at once; the least recently seen is ended early when full")
	fs.BoolVar(&sf.features, "flow-features", false, "add packet-size and timing features to flow records")
	fs.StringVar(&sf.credentials, "credentials", "", "extra known-default credentials, a CSV `FILE` in the format of docs/credentials.md")
	fs.BoolVar(&sf.noDefaults, "no-default-credentials", false, "do not check logins against known default credentials")
	fs.StringVar(&sf.rules, "rules", "", "detection rules `FILE` (YAML, docs/rules.md) instead of heir's shipped rules; reloaded on SIGHUP and when it changes (heir sense)")
	fs.Var(&sf.indicators, "indicators", "known-bad indicator list `FILE`: IPs, CIDRs, domains, certificate SHA-1s, abuse.ch SSLBL CSV or STIX 2.1 bundle (repeatable; docs/detections.md)")
	fs.BoolVar(&sf.noDetect, "no-detect", false, "run no detection rules (no alerts or findings)")
	fs.StringVar(&sf.ouiPath, "oui", "", "a newer IEEE registry (oui.csv, or a folder such as /usr/share/ieee-data) over heir's embedded one, for MAC vendors")
}

// setup is a wired sensor.
type setup struct {
	config     sensor.Config
	dissectors []proto.Dissector
	inventory  deviceInventory
	// detect is the detection engine (nil with --no-detect); it must be
	// given the sensor's output (sensor.Tee) and is its packet observer.
	detect *detect.Engine
	files  detect.Files
}

// build wires the sensor. Alerts and findings go to sink (nil: no
// detection).
func (sf *sensorFlags) build(sink detect.Sink, log *slog.Logger) (*setup, error) {
	cfg := sensor.Config{Flow: flow.DefaultConfig}
	if sf.maxFlows <= 0 {
		return nil, fmt.Errorf("--max-flows must be positive, got %d", sf.maxFlows)
	}
	cfg.Flow.MaxFlows = sf.maxFlows
	cfg.Flow.Features = sf.features
	if sf.filter != "" {
		m, err := parseFilter(sf.filter)
		if err != nil {
			return nil, err
		}
		cfg.Filter = m
	}
	var nets []netip.Prefix
	if sf.homeNet != "" {
		for _, s := range strings.Split(sf.homeNet, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("--home-net: %q is not a CIDR prefix such as 10.0.0.0/8: %v", s, err)
			}
			nets = append(nets, p.Masked())
		}
	}
	opts := registry.Options{}
	if !sf.noDefaults {
		creds, err := loadCredentials(sf.credentials)
		if err != nil {
			return nil, err
		}
		opts.Defaults = creds
	}
	inv, err := newInventory(nets, sf.ouiPath)
	if err != nil {
		return nil, err
	}
	set := &setup{inventory: inv}
	if !sf.noDetect && sink != nil {
		set.files = detect.Files{Rules: sf.rules, Indicators: sf.indicators}
		rs, ind, err := set.files.Load()
		if err != nil {
			// "rules.yaml:12:24: count must be a whole number …"
			return nil, err
		}
		set.detect, err = detect.New(detect.Config{Rules: rs, Indicators: ind, Logger: log}, sink)
		if err != nil {
			return nil, err
		}
		opts.HTTPInspector = set.detect.Inspector()
		cfg.Packets = set.detect
	} else if sf.rules != "" || len(sf.indicators) > 0 {
		return nil, fmt.Errorf("--rules and --indicators need detection (drop --no-detect)")
	}
	set.config, set.dissectors = cfg, registry.All(opts)
	return set, nil
}

// runSource feeds src through s until it ends, updating the progress bar.
func runSource(ctx context.Context, s *sensor.Sensor, src capture.Source, bar *progress) error {
	var n uint64
	var done int64
	for {
		p, err := src.Next(ctx)
		if err != nil {
			s.Finish()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		s.Packet(p)
		done += int64(len(p.Data)) + 16
		if n++; n&0x3fff == 0 {
			bar.update(done)
		}
	}
}

// tickEvery is how often long-running commands do periodic work.
const tickEvery = time.Second
