package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/baseline"
	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/flow"
	"github.com/heir-emd/heir/internal/ml"
	"github.com/heir-emd/heir/internal/mlsense"
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
	engines     engineFlags
}

// engineFlags configure the detection engines beside the rules: the
// per-device behaviour baselines and a trained flow classifier.
type engineFlags struct {
	// offered: the command runs the engines (heir score does not).
	offered bool
	// optIn: the baseline runs only when asked (heir analyze: one capture
	// has no history, so only the user knows which part of it is normal);
	// otherwise it runs unless --no-baseline (heir sense, heir demo).
	optIn          bool
	noBaseline     bool
	baseFile       string
	baseReset      bool
	learn          time.Duration
	learnFlows     int
	window         time.Duration
	threshold      float64
	noNewDevices   bool
	model          string
	modelThreshold float64
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
	fs.BoolVar(&sf.noDetect, "no-detect", false, "run no detection: no rules, behaviour baselines or model (no alerts or findings)")
	fs.StringVar(&sf.ouiPath, "oui", "", "a newer IEEE registry (oui.csv, or a folder such as /usr/share/ieee-data) over heir's embedded one, for MAC vendors")
}

// registerEngines adds the baseline and model flags; optIn says the
// baseline runs only when --baseline-learn or --baseline-file asks for it.
func (sf *sensorFlags) registerEngines(fs *flag.FlagSet, optIn bool) {
	ef := &sf.engines
	ef.offered, ef.optIn = true, optIn
	d := baseline.DefaultConfig
	if optIn {
		fs.DurationVar(&ef.learn, "baseline-learn", 0, "learn each device's behaviour during the first `DURATION` of capture time (the normal part of the capture), then alert on deviations (docs/baselines.md); off unless given or with --baseline-file")
		fs.IntVar(&ef.learnFlows, "baseline-learn-flows", 1, "fewest flows a device must show before its learning ends")
	} else {
		fs.BoolVar(&ef.noBaseline, "no-baseline", false, "learn no per-device behaviour baselines (no anomaly alerts)")
		fs.DurationVar(&ef.learn, "baseline-learn", d.LearnFor, "learning period of the behaviour baselines, in capture time (docs/baselines.md)")
		fs.IntVar(&ef.learnFlows, "baseline-learn-flows", d.LearnFlows, "fewest flows a device must show before its learning ends")
	}
	fs.StringVar(&ef.baseFile, "baseline-file", "", "load the behaviour baselines from `FILE` at start if it exists, and save them there (heir sense: also periodically) so that learning survives restarts")
	fs.BoolVar(&ef.baseReset, "baseline-reset", false, "ignore what --baseline-file holds (for example a corrupt file) and learn from scratch; the file is replaced at the next save")
	fs.DurationVar(&ef.window, "baseline-window", d.Window, "length of the windows in which the baselines count flows and bytes per device (bursts, volumes)")
	fs.Float64Var(&ef.threshold, "baseline-threshold", d.Threshold, "robust deviations from the learned centre before a size, rhythm, burst or volume is an anomaly")
	fs.BoolVar(&ef.noNewDevices, "baseline-no-new-devices", false, "no alert for devices first seen after the learning period (networks where laptops come and go)")
	fs.StringVar(&ef.model, "model", "", "score every finished flow with a model `FILE` from 'heir ml train' and alert on attacks it predicts (docs/ml.md; turns on --flow-features)")
	fs.Float64Var(&ef.modelThreshold, "model-threshold", mlsense.DefaultThreshold, "least probability of a predicted attack class for a flow to count (0–1)")
}

// baselineOn says whether the flags ask for the behaviour baselines.
func (ef *engineFlags) baselineOn() bool {
	if !ef.offered || ef.noBaseline {
		return false
	}
	return !ef.optIn || ef.learn > 0 || ef.baseFile != ""
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
	// baseline learns each device's behaviour and alerts on deviations
	// (nil when off); baseFile is where it is saved ("" nowhere).
	baseline *baseline.Baseline
	baseFile string
	// ml scores finished flows with a trained model (nil without --model).
	ml *mlsense.Scorer
}

// outputs are the detection engines the sensor must feed (sensor.Tee).
func (set *setup) outputs() []sensor.Output {
	var outs []sensor.Output
	if set.detect != nil {
		outs = append(outs, set.detect)
	}
	if set.baseline != nil {
		outs = append(outs, set.baseline)
	}
	if set.ml != nil {
		outs = append(outs, set.ml)
	}
	return outs
}

// tick advances the engines' clocks on a quiet live network.
func (set *setup) tick(now time.Time) {
	if set.detect != nil {
		set.detect.Tick(now)
	}
	if set.baseline != nil {
		set.baseline.Tick(now)
	}
	if set.ml != nil {
		set.ml.Tick(now)
	}
}

// flush ends every open alert, as at the end of a capture or a run.
func (set *setup) flush() {
	if set.detect != nil {
		set.detect.Flush()
	}
	if set.baseline != nil {
		set.baseline.Flush()
	}
	if set.ml != nil {
		set.ml.Flush()
	}
}

// snapshotBaseline encodes the baseline for saveBaseline; call it from the
// goroutine that feeds the sensor (under the command's lock). Nil when
// nothing is to be saved.
func (set *setup) snapshotBaseline() ([]byte, error) {
	if set.baseline == nil || set.baseFile == "" {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := set.baseline.Save(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// saveBaseline writes a snapshot to the baseline file atomically (a
// temporary file in the same folder, synced, then renamed), so that a
// crash leaves the old file or the new one. It may run outside the lock.
func (set *setup) saveBaseline(data []byte) error {
	if data == nil {
		return nil
	}
	path := set.baseFile
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save baseline %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save baseline %s: %w", path, err)
	}
	return nil
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
	ef := &sf.engines
	if ef.baselineOn() && sink != nil {
		if sf.noDetect {
			if ef.optIn || ef.baseFile != "" {
				return nil, fmt.Errorf("--baseline-learn and --baseline-file need detection (drop --no-detect)")
			}
		} else if err := set.buildBaseline(ef, nets, log, sink); err != nil {
			return nil, err
		}
	}
	if ef.model != "" {
		if sf.noDetect || sink == nil {
			return nil, fmt.Errorf("--model needs detection (drop --no-detect)")
		}
		m, err := ml.LoadFile(ef.model)
		if err != nil {
			return nil, fmt.Errorf("--model: %w", err)
		}
		set.ml, err = mlsense.New(mlsense.Config{Model: m, ModelID: string(m.Kind) + " " + filepath.Base(ef.model),
			Threshold: ef.modelThreshold, Logger: log}, sink)
		if err != nil {
			return nil, fmt.Errorf("--model %s: %w", ef.model, err)
		}
		// The model's packet-length and flag columns come from the flow
		// engine's packet features.
		cfg.Flow.Features = true
	}
	set.config, set.dissectors = cfg, registry.All(opts)
	return set, nil
}

func (set *setup) buildBaseline(ef *engineFlags, nets []netip.Prefix, log *slog.Logger, sink detect.Sink) error {
	switch {
	case ef.learn < 0:
		return fmt.Errorf("--baseline-learn must be positive, got %v", ef.learn)
	case ef.learnFlows < 1:
		return fmt.Errorf("--baseline-learn-flows must be at least 1, got %d", ef.learnFlows)
	case ef.window < time.Millisecond:
		return fmt.Errorf("--baseline-window must be at least 1ms, got %v", ef.window)
	case !(ef.threshold > 0):
		return fmt.Errorf("--baseline-threshold must be a positive number of deviations, got %v", ef.threshold)
	}
	cfg := baseline.Config{HomeNets: nets, LearnFor: ef.learn, LearnFlows: ef.learnFlows, Window: ef.window,
		Threshold: ef.threshold, NoNewDeviceAlerts: ef.noNewDevices, Logger: log}
	b, err := baseline.New(cfg, sink)
	if err != nil {
		return err
	}
	if ef.baseFile != "" && !ef.baseReset {
		err := b.LoadFile(ef.baseFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			log.Info("no saved baseline yet: learning from scratch", "file", ef.baseFile)
		case err != nil:
			return fmt.Errorf("--baseline-file: %w\nFix or remove the file, or give --baseline-reset to learn from scratch (the file is then replaced at the next save)", err)
		default:
			st := b.Stats()
			log.Info("baseline loaded", "file", ef.baseFile, "devices", st.Devices, "learning", st.Learning)
		}
	}
	set.baseline, set.baseFile = b, ef.baseFile
	return nil
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
