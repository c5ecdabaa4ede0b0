package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/flow"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/proto/registry"
	"github.com/heir-emd/heir/internal/sensor"
)

// inventory is what the commands need of the device inventory.
type inventory interface {
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
}

func (sf *sensorFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&sf.filter, "filter", "", "only analyse packets matching `EXPR` (e.g. 'host 10.1.2.3 and port 104'; see docs/filter.md)")
	fs.StringVar(&sf.homeNet, "home-net", "", "the hospital's own networks, comma-separated `CIDRS` (default: the private address ranges)")
	fs.IntVar(&sf.maxFlows, "max-flows", flow.DefaultConfig.MaxFlows, "most flows tracked at once; the least recently seen is ended early when full")
	fs.BoolVar(&sf.features, "flow-features", false, "add packet-size and timing features to flow records")
	fs.StringVar(&sf.credentials, "credentials", "", "extra known-default credentials, a CSV `FILE` in the format of docs/credentials.md")
	fs.BoolVar(&sf.noDefaults, "no-default-credentials", false, "do not check logins against known default credentials")
	fs.StringVar(&sf.ouiPath, "oui", "", "a newer IEEE registry (oui.csv, or a folder such as /usr/share/ieee-data) over heir's embedded one, for MAC vendors")
}

// setup is a wired sensor.
type setup struct {
	config     sensor.Config
	dissectors []proto.Dissector
	inventory  inventory
}

func (sf *sensorFlags) build() (*setup, error) {
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
	return &setup{config: cfg, dissectors: registry.All(opts), inventory: inv}, nil
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
