// Package mlsense runs a trained flow classifier (internal/ml) on the
// sensor's finished flow records and reports the flows it takes for
// attacks as alerts: one alert per device and predicted class, with
// counts and a time span, updated while it lasts and final after a quiet
// period, like the rule engine's incidents (internal/incidents keeps them).
//
// A Scorer is a sensor.Output. Flow records need the flow engine's packet
// features (heir sense --flow-features), which internal/ml/features maps
// to the model's columns; records without them are counted and skipped.
// It calls internal/ml's public API only (PredictProba) and allocates
// nothing per flow once its incidents exist.
//
// Like the sensor it is single-threaded: call every method from the
// goroutine that runs the sensor, and it runs on capture time (Tick for
// quiet live periods). docs/ml.md, "Running a model live", documents it.
package mlsense

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/incidents"
	"github.com/heir-emd/heir/internal/ml"
	"github.com/heir-emd/heir/internal/ml/features"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/taxonomy"
)

// Rule is the rule id of every alert a Scorer raises; the predicted class
// is in Samples["class"] and the model in Alert.Model.
const Rule = "ml-flow-class"

// Config tunes a Scorer. Zero fields take the defaults.
type Config struct {
	// Model is the trained classifier; its features must be columns
	// internal/ml/features can compute.
	Model *ml.Model
	// ModelID names the model in alerts (Alert.Model), e.g. "gbdt
	// model.json"; default the model's kind.
	ModelID string
	// Threshold is the least probability of the predicted class for a
	// flow to count (default 0.9): below it the model is not sure enough.
	Threshold float64
	// Benign lists the classes that are normal traffic; nil means every
	// class named "benign" or "normal" (any case).
	Benign []string
	// Quiet is how long an incident must have no flow before its alert
	// is final (default 1m); Update how often an open alert that changed
	// is emitted again (default 10s); MaxSpan the longest an incident
	// lasts before a new alert starts (default 24h).
	Quiet, Update, MaxSpan time.Duration
	// MaxIncidents bounds the alerts open at once (default 4096); when
	// full, new incidents are counted in Stats.IncidentsFull, not opened.
	MaxIncidents int
	// Catalogue tags alerts; nil means taxonomy.New().
	Catalogue *taxonomy.Catalogue
	// Logger receives limits reached; nil discards.
	Logger *slog.Logger
}

// DefaultThreshold is Config.Threshold's default.
const DefaultThreshold = 0.9

// Stats count the scorer's work.
type Stats struct {
	Model string `json:"model"`
	Flows uint64 `json:"flows"`
	// NoFeatures are flow records without packet features (not scored).
	NoFeatures uint64 `json:"no_features"`
	Scored     uint64 `json:"scored"`
	Benign     uint64 `json:"benign"`
	// Unsure were predicted an attack class below the threshold.
	Unsure  uint64            `json:"unsure"`
	Attacks uint64            `json:"attacks"`
	ByClass map[string]uint64 `json:"by_class,omitempty"`

	AlertsOpened  uint64 `json:"alerts_opened"`
	AlertUpdates  uint64 `json:"alert_updates"`
	AlertsFinal   uint64 `json:"alerts_final"`
	IncidentsFull uint64 `json:"incidents_full"`
}

// Scorer classifies flow records and raises alerts through a detect.Sink.
type Scorer struct {
	cfg    Config
	model  *ml.Model
	mapper *features.Mapper
	log    *slog.Logger

	classes []classInfo
	x       []float32
	probs   []float64

	now, nextSweep time.Time
	keyed          map[key]*incident
	open           incidents.Table[*incident]
	byClass        []uint64
	stats          Stats
}

var _ sensor.Output = (*Scorer)(nil)

// classInfo is what a model class means for alerts.
type classInfo struct {
	name     string
	benign   bool
	mapping  string // internal/taxonomy class
	category string // Alert.Category
	byTarget bool   // incidents keyed by the target (floods), else by the source
	tags     []event.Tag
	remedy   string
}

// New returns a scorer for cfg.Model reporting to sink. A model whose
// features heir cannot compute is an error naming the feature.
func New(cfg Config, sink detect.Sink) (*Scorer, error) {
	if sink == nil {
		return nil, errors.New("mlsense: nil sink")
	}
	if cfg.Model == nil {
		return nil, errors.New("mlsense: no model")
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = DefaultThreshold
	}
	if math.IsNaN(cfg.Threshold) || cfg.Threshold < 0 || cfg.Threshold > 1 {
		return nil, fmt.Errorf("mlsense: threshold must be a probability between 0 and 1, got %v", cfg.Threshold)
	}
	if cfg.Quiet == 0 {
		cfg.Quiet = time.Minute
	}
	if cfg.Update == 0 {
		cfg.Update = 10 * time.Second
	}
	if cfg.MaxSpan == 0 {
		cfg.MaxSpan = 24 * time.Hour
	}
	if cfg.Quiet < 0 || cfg.Update < 0 || cfg.MaxSpan < 0 {
		return nil, errors.New("mlsense: Quiet, Update and MaxSpan must be positive")
	}
	if cfg.MaxIncidents == 0 {
		cfg.MaxIncidents = 4096
	}
	if cfg.ModelID == "" {
		cfg.ModelID = string(cfg.Model.Kind)
	}
	if cfg.Catalogue == nil {
		cfg.Catalogue = taxonomy.New()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mp, err := features.NewMapper(cfg.Model.Features)
	if err != nil {
		return nil, err
	}
	s := &Scorer{cfg: cfg, model: cfg.Model, mapper: mp, log: log, keyed: map[key]*incident{},
		x: make([]float32, mp.Len()), probs: make([]float64, len(cfg.Model.Classes)),
		byClass: make([]uint64, len(cfg.Model.Classes))}
	s.open = incidents.Table[*incident]{Sink: sink, Alert: s.alert, Closed: s.closed,
		Timing: func(in *incident) (time.Time, time.Duration, time.Duration) { return in.end, s.cfg.Quiet, s.cfg.Update }}
	benign := 0
	for _, c := range cfg.Model.Classes {
		ci, err := s.classInfo(c)
		if err != nil {
			return nil, err
		}
		if ci.benign {
			benign++
		}
		s.classes = append(s.classes, ci)
	}
	if benign == 0 {
		return nil, fmt.Errorf("mlsense: no benign class among the model's classes %v (name it in Benign)", cfg.Model.Classes)
	}
	if benign == len(s.classes) {
		return nil, fmt.Errorf("mlsense: every class of the model is benign (%v): nothing to alert on", cfg.Model.Classes)
	}
	s.stats.Model = cfg.ModelID
	return s, nil
}

func (s *Scorer) isBenign(c string) bool {
	if s.cfg.Benign != nil {
		for _, b := range s.cfg.Benign {
			if b == c {
				return true
			}
		}
		return false
	}
	l := strings.ToLower(c)
	return l == "benign" || l == "normal"
}

func (s *Scorer) classInfo(c string) (classInfo, error) {
	ci := classInfo{name: c, benign: s.isBenign(c)}
	if ci.benign {
		return ci, nil
	}
	ci.mapping = MappingOf(c)
	m, ok := s.cfg.Catalogue.Mapping(ci.mapping)
	if !ok {
		return ci, fmt.Errorf("mlsense: class %q: no taxonomy mapping %q", c, ci.mapping)
	}
	for _, t := range m.Tags {
		t.Reason = "flow classifier predicted " + c + ": " + t.Reason
		ci.tags = append(ci.tags, t)
	}
	ci.category, ci.byTarget = categoryOf(ci.mapping)
	ci.remedy = "Look at the flows given as evidence before acting: the model (" + s.cfg.ModelID +
		") learned from another network's traffic and flags, it does not decide (docs/ml.md). " + remedyOf(ci.mapping)
	return ci, nil
}

// MappingOf returns the internal/taxonomy class of a model class: the
// CICIoMT2024 classes and categories (ml.CICIoMT2024Stems) by what they
// are; any other attack class is "attack-flow".
func MappingOf(class string) string {
	switch class {
	case "Recon-Ping_Sweep":
		return "host-sweep"
	case "Recon-Port_Scan", "Recon":
		return "port-scan"
	case "Recon-OS_Scan", "Recon-VulScan":
		return "service-discovery"
	case "ARP_Spoofing", "Spoofing":
		return "arp-spoofing"
	case "MQTT-Malformed_Data":
		return "malformed-input"
	}
	switch {
	case strings.HasPrefix(class, "MQTT"):
		return "service-flood"
	case strings.HasPrefix(class, "DDoS"), strings.HasPrefix(class, "DoS"):
		return "network-flood"
	}
	return "attack-flow"
}

// categoryOf gives an alert category and whether incidents are per target
// (floods: many sources, one victim) or per source (scans: one source,
// many targets).
func categoryOf(mapping string) (string, bool) {
	switch mapping {
	case "network-flood", "service-flood", "malformed-input":
		return "denial-of-service", true
	case "port-scan", "host-sweep", "service-discovery":
		return "reconnaissance", false
	case "arp-spoofing":
		return "spoofing", false
	}
	return "attack", false
}

func remedyOf(mapping string) string {
	switch mapping {
	case "network-flood", "service-flood", "malformed-input":
		return "If the target is being flooded, rate-limit or block the sources at the segment's firewall and check the device still works."
	case "port-scan", "host-sweep", "service-discovery":
		return "Find out who runs the source; scans from an unknown host precede intrusions. Block it if nobody owns it."
	case "arp-spoofing":
		return "Check the switch's ARP and MAC tables; enable dynamic ARP inspection on the segment."
	}
	return "Check what the source did with the hosts it talked to."
}

// --- clock ---

func (s *Scorer) advance(t time.Time) {
	if t.After(s.now) {
		s.now = t
	}
	if !s.now.Before(s.nextSweep) {
		if !s.nextSweep.IsZero() {
			s.sweep()
		}
		s.nextSweep = s.now.Truncate(time.Second).Add(time.Second)
	}
}

// Tick advances the clock to now when no event does (a quiet live
// network), so that alerts are updated and closed on time.
func (s *Scorer) Tick(now time.Time) { s.advance(now) }

// Flush ends every open alert, as at the end of a capture.
func (s *Scorer) Flush() { s.open.Flush(s.now) }

func (s *Scorer) sweep() { s.open.Sweep(s.now) }

// Stats returns the counters so far.
func (s *Scorer) Stats() Stats {
	st := s.stats
	o := s.open.Stats()
	st.AlertsOpened, st.AlertUpdates, st.AlertsFinal = o.Opened, o.Updates, o.Final
	st.ByClass = map[string]uint64{}
	for c, n := range s.byClass {
		if n > 0 {
			st.ByClass[s.classes[c].name] = n
		}
	}
	return st
}

// --- sensor.Output ---

// FlowStart advances the clock; flows are scored when they end.
func (s *Scorer) FlowStart(_ *proto.Conn, t time.Time) { s.advance(t) }

// Observe advances the clock.
func (s *Scorer) Observe(o *event.Observation) { s.advance(o.Time) }

// ARP advances the clock.
func (s *Scorer) ARP(a *sensor.ARP) { s.advance(a.Time) }

// Flow scores a finished (or continuing) flow record.
func (s *Scorer) Flow(f *event.Flow) {
	s.stats.Flows++
	s.advance(f.End)
	if err := s.mapper.Map(f, nil, s.x); err != nil {
		s.stats.NoFeatures++
		return
	}
	s.stats.Scored++
	s.model.PredictProba(s.x, s.probs)
	best := 0
	for c, p := range s.probs {
		if p > s.probs[best] {
			best = c
		}
	}
	s.byClass[best]++
	ci := &s.classes[best]
	if ci.benign {
		s.stats.Benign++
		return
	}
	p := s.probs[best]
	if p < s.cfg.Threshold {
		s.stats.Unsure++
		return
	}
	s.stats.Attacks++
	k := key{class: best, addr: f.Client.IP}
	if ci.byTarget {
		k.addr = f.Server.IP
	}
	in := s.keyed[k]
	if in != nil && f.End.Sub(in.start) >= s.cfg.MaxSpan {
		s.open.Close(in, s.now)
		in = nil
	}
	if in == nil {
		if s.open.Len() >= s.cfg.MaxIncidents {
			s.stats.IncidentsFull++
			return
		}
		in = &incident{k: k, ci: ci, source: event.Endpoint{IP: f.Client.IP, MAC: f.Client.MAC}, start: f.Start, end: f.End}
		in.add(f, p)
		s.keyed[k] = in
		s.open.Add(in, s.now)
		return
	}
	in.add(f, p)
}

// --- incidents ---

type key struct {
	class int
	addr  netip.Addr
}

const (
	maxTargets  = 16
	maxSources  = 16
	maxEvidence = 8
	maxCounted  = 4096 // distinct targets and sources counted
)

type incident struct {
	k      key
	ci     *classInfo
	id     string
	source event.Endpoint
	start  time.Time
	end    time.Time

	flows, packets, bytes uint64
	pMax, pSum            float64

	targets  []event.Endpoint
	sources  []netip.Addr
	seenT    map[event.Endpoint]struct{}
	seenS    map[netip.Addr]struct{}
	evidence []event.Reference

	incidents.Life // its place in Scorer.open
}

func (in *incident) add(f *event.Flow, p float64) {
	in.flows++
	in.packets += f.Counts[0].Packets + f.Counts[1].Packets
	in.bytes += f.Counts[0].Bytes + f.Counts[1].Bytes
	in.pSum += p
	in.pMax = max(in.pMax, p)
	if f.Start.Before(in.start) {
		in.start = f.Start
	}
	if f.End.After(in.end) {
		in.end = f.End
	}
	t := event.Endpoint{IP: f.Server.IP, Port: f.Server.Port}
	if in.seenT == nil {
		in.seenT, in.seenS = map[event.Endpoint]struct{}{}, map[netip.Addr]struct{}{}
	}
	if _, ok := in.seenT[t]; !ok && len(in.seenT) < maxCounted {
		in.seenT[t] = struct{}{}
		if len(in.targets) < maxTargets {
			in.targets = append(in.targets, t)
		}
	}
	if _, ok := in.seenS[f.Client.IP]; !ok && len(in.seenS) < maxCounted {
		in.seenS[f.Client.IP] = struct{}{}
		if len(in.sources) < maxSources {
			in.sources = append(in.sources, f.Client.IP)
		}
	}
	if len(in.evidence) < maxEvidence {
		in.evidence = append(in.evidence, event.Reference{Flow: f.ID, Time: f.End.UTC(), What: protoOr(f) + " flow"})
	}
	in.Changed()
}

func protoOr(f *event.Flow) string {
	if f.Proto != "" {
		return f.Proto
	}
	return f.Transport
}

// closed forgets an incident that has left s.open.
func (s *Scorer) closed(in *incident) {
	if s.keyed[in.k] == in {
		delete(s.keyed, in.k)
	}
}

// severity grades an incident: medium, high once it has more than 100
// flows at a mean probability of 0.99 (a sustained, confident verdict).
func (in *incident) severity() string {
	if in.flows > 100 && in.pSum/float64(in.flows) >= 0.99 {
		return event.SeverityHigh
	}
	return event.SeverityMedium
}

func (s *Scorer) alert(in *incident, final bool) *event.Alert {
	ci := in.ci
	if in.id == "" {
		in.id = incidents.ID(in.start, Rule, ci.name, in.k.addr.String())
	}
	a := &event.Alert{
		V: event.Version, Type: event.TypeAlert, ID: in.id, Rule: Rule, Model: s.cfg.ModelID,
		Score: math.Round(in.pMax*1000) / 1000, Category: ci.category, Severity: in.severity(),
		Source: in.source, Start: in.start.UTC(), End: in.end.UTC(), Count: in.flows, Final: final,
		Targets: append([]event.Endpoint{}, in.targets...), TargetCount: len(in.seenT),
		Counts:   map[string]uint64{"flows": in.flows, "packets": in.packets, "bytes": in.bytes, "sources": uint64(len(in.seenS))},
		Evidence: append([]event.Reference(nil), in.evidence...),
		Tags:     append([]event.Tag{}, ci.tags...),
		Samples: map[string]string{
			"class":            ci.name,
			"probability_max":  strconv.FormatFloat(in.pMax, 'f', 3, 64),
			"probability_mean": strconv.FormatFloat(in.pSum/float64(in.flows), 'f', 3, 64),
			"threshold":        strconv.FormatFloat(s.cfg.Threshold, 'f', -1, 64),
		},
		Remediation: ci.remedy,
	}
	if len(in.seenS) > 1 {
		var b strings.Builder
		for i, ip := range in.sources {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(ip.String())
		}
		if len(in.seenS) > len(in.sources) {
			b.WriteString(",…")
		}
		a.Samples["sources"] = b.String()
	}
	who := in.source.IP.String()
	if ci.byTarget {
		a.Title = fmt.Sprintf("%s predicted against %s", ci.name, in.k.addr)
		if len(in.seenS) > 1 {
			who = strconv.Itoa(len(in.seenS)) + " sources"
		}
		a.Description = fmt.Sprintf("the flow classifier took %d flows from %s to %s for %s (probability up to %.3f, threshold %g)",
			in.flows, who, in.k.addr, ci.name, in.pMax, s.cfg.Threshold)
	} else {
		a.Title = fmt.Sprintf("%s predicted from %s", ci.name, in.k.addr)
		a.Description = fmt.Sprintf("the flow classifier took %d flows from %s to %d endpoints for %s (probability up to %.3f, threshold %g)",
			in.flows, who, len(in.seenT), ci.name, in.pMax, s.cfg.Threshold)
	}
	return a
}
