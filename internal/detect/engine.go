package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/heir-emd/heir/internal/detect/indicator"
	"github.com/heir-emd/heir/internal/detect/webattack"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/incidents"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto"
	httpproto "github.com/heir-emd/heir/internal/proto/http"
	"github.com/heir-emd/heir/internal/sensor"
)

// Sink receives what the engine finds. Each record is a fresh value the
// sink may keep; an alert with the same ID replaces the previous one (it
// is an update of the same incident), and so does a finding.
type Sink interface {
	Alert(a *event.Alert)
	Finding(f *event.Finding)
}

// Limits bound the engine's state. When one is reached, new state is not
// created (and counted in Stats); existing state goes on.
type Limits struct {
	// MaxHosts bounds the per-address table of scanners, sweepers and
	// flood targets; when full, the least recently active address without
	// an open alert is forgotten (Stats.HostsEvicted).
	MaxHosts int
	// MaxPairs bounds the table of distinct probes (source, host, port)
	// behind scan and sweep counts; when full, new probes are not counted
	// (Stats.PairsFull).
	MaxPairs int
	// MaxProbesPerSource bounds the probes one source may hold in it, so
	// that one large scan cannot fill it.
	MaxProbesPerSource int
	// MaxGroups bounds the groups each field rule keeps.
	MaxGroups int
	// MaxIncidents bounds the alerts open at once.
	MaxIncidents int
	// MaxFindings bounds the findings kept.
	MaxFindings int
	// MaxBindings bounds the ARP address bindings kept.
	MaxBindings int
	// MaxSessions bounds the DICOM query/retrieve peers followed.
	MaxSessions int
}

// DefaultLimits are sized for a hospital network segment of some
// thousands of devices, in well under 100 MB.
func DefaultLimits() Limits {
	return Limits{
		MaxHosts: 1 << 16, MaxPairs: 1 << 16, MaxProbesPerSource: 4096, MaxGroups: 10000,
		MaxIncidents: 4096, MaxFindings: 1 << 16, MaxBindings: 1 << 16, MaxSessions: 4096,
	}
}

func (l *Limits) defaults() {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.MaxHosts, d.MaxHosts)
	set(&l.MaxPairs, d.MaxPairs)
	set(&l.MaxProbesPerSource, d.MaxProbesPerSource)
	set(&l.MaxGroups, d.MaxGroups)
	set(&l.MaxIncidents, d.MaxIncidents)
	set(&l.MaxFindings, d.MaxFindings)
	set(&l.MaxBindings, d.MaxBindings)
	set(&l.MaxSessions, d.MaxSessions)
}

// Config configures an Engine.
type Config struct {
	// Rules is the rule set; nil means DefaultRules().
	Rules *RuleSet
	// Indicators are the known-bad indicators to match; nil means none.
	Indicators *indicator.Set
	// Logger receives reloads and limits reached; nil discards.
	Logger *slog.Logger
	Limits Limits
	// FindingUpdate is how often (in event time) a changed finding is
	// emitted again; new findings are emitted at once. Default 10 minutes.
	FindingUpdate time.Duration
	// AssetID, if set, names the inventory device of an endpoint for
	// Finding.Asset.
	AssetID func(ep event.Endpoint) string
}

// Stats count the engine's work and every bound that bit.
type Stats struct {
	Packets      uint64 `json:"packets"`
	FlowStarts   uint64 `json:"flow_starts"`
	Flows        uint64 `json:"flows"`
	Observations uint64 `json:"observations"`
	ARP          uint64 `json:"arp"`
	RuleMatches  uint64 `json:"rule_matches"`

	AlertsOpened    uint64 `json:"alerts_opened"`
	AlertUpdates    uint64 `json:"alert_updates"`
	AlertsFinal     uint64 `json:"alerts_final"`
	Weaknesses      uint64 `json:"weaknesses"`
	FindingsEmitted uint64 `json:"findings_emitted"`
	// UnmatchedWeaknesses are weaknesses no finding rule took.
	UnmatchedWeaknesses uint64 `json:"unmatched_weaknesses"`

	GroupsFull    uint64 `json:"groups_full"`
	IncidentsFull uint64 `json:"incidents_full"`
	FindingsFull  uint64 `json:"findings_full"`
	HostsEvicted  uint64 `json:"hosts_evicted"`
	HostsFull     uint64 `json:"hosts_full"`
	PairsFull     uint64 `json:"pairs_full"`
	BindingsFull  uint64 `json:"bindings_full"`
	SessionsFull  uint64 `json:"sessions_full"`

	Reloads      uint64 `json:"reloads"`
	ReloadErrors uint64 `json:"reload_errors"`
	RuleSet      string `json:"rule_set"`
	Indicators   int    `json:"indicators"`

	Web webattack.Stats `json:"web"`
}

// swap is a rule set and indicator list waiting to be applied.
type swap struct {
	rs  *RuleSet
	ind *indicator.Set
}

// Engine runs the rules and detectors over what the sensor produces. It
// implements sensor.Output and sensor.PacketObserver and, like the sensor,
// is single-threaded: every method but Reload, ReloadFiles and WatchFiles
// must be called from the goroutine that runs the sensor (or under the
// same lock). It runs on event time (capture time); Tick lets a live
// sensor close quiet alerts when no packet comes.
type Engine struct {
	cfg  Config
	lim  Limits
	sink Sink
	log  *slog.Logger
	rc   *reflectCache

	pending    atomic.Pointer[swap]
	reloadErrs atomic.Uint64 // counted on the reloading goroutine
	cur        *active
	ind        *indicator.Set
	web        *webattack.Inspector

	now, nextSweep time.Time
	open           incidents.Table[*incident]
	keyed          map[string]*incident
	findings       map[findingKey]*findingState
	findingOrder   []findingKey
	changed        []*findingState // findings changed since emitted
	nextExpiry     time.Time

	keybuf, keybuf2 []byte
	hosts           hostTable
	pairs           pairTable
	arp             arpState
	exfil           exfilState
	ig              indicatorGetters
	pkt             pktInfo

	stats Stats
}

var (
	_ sensor.Output         = (*Engine)(nil)
	_ sensor.PacketObserver = (*Engine)(nil)
)

// New returns an engine reporting to sink.
func New(cfg Config, sink Sink) (*Engine, error) {
	if sink == nil {
		return nil, errors.New("detect: nil sink")
	}
	if cfg.Rules == nil {
		cfg.Rules = DefaultRules()
	}
	cfg.Limits.defaults()
	if cfg.FindingUpdate <= 0 {
		cfg.FindingUpdate = 10 * time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		cfg: cfg, lim: cfg.Limits, sink: sink, log: log, rc: newReflectCache(),
		keyed:    map[string]*incident{},
		findings: map[findingKey]*findingState{},
		web:      webattack.New(webattack.Config{}),
	}
	e.open = incidents.Table[*incident]{Sink: sink, Alert: (*incident).alert, Timing: (*incident).timing,
		Closed: func(inc *incident) {
			if inc.onFinal != nil {
				inc.onFinal(inc)
			}
		}}
	e.hosts.init(e.lim.MaxHosts)
	e.pairs.init(e.lim.MaxPairs)
	e.arp.init()
	e.exfil.init()
	e.ig = newIndicatorGetters()
	e.ind = cfg.Indicators
	e.apply(&swap{rs: cfg.Rules, ind: cfg.Indicators})
	return e, nil
}

// Inspector returns the web-attack inspector to give the HTTP dissector
// (httpproto.WithInspector). It follows the engine's rules: the classes
// of the enabled web-attack rules.
func (e *Engine) Inspector() httpproto.RequestInspector { return e.web }

// Reload replaces the rule set and the indicators (nil keeps the current
// one). It may be called from any goroutine; the change takes effect at
// the next event. State of rules whose detection settings did not change
// is kept; alerts of removed or changed rules are closed.
func (e *Engine) Reload(rs *RuleSet, ind *indicator.Set) {
	if rs == nil && ind == nil {
		return
	}
	e.pending.Store(&swap{rs: rs, ind: ind})
}

// Files names the user's rule and indicator files.
type Files struct {
	// Rules is a rule file; "" means the shipped rules.
	Rules string
	// Indicators are indicator lists (plain, CSV, STIX 2.1).
	Indicators []string
}

// Load reads the files. Errors name file:line:column.
func (f Files) Load() (*RuleSet, *indicator.Set, error) {
	rs := DefaultRules()
	if f.Rules != "" {
		var err error
		if rs, err = LoadRules(f.Rules); err != nil {
			return nil, nil, err
		}
	}
	var ind *indicator.Set
	if len(f.Indicators) > 0 {
		var err error
		if ind, _, err = indicator.LoadAll(f.Indicators); err != nil {
			return nil, nil, fmt.Errorf("indicators: %w", err)
		}
	} else {
		ind = indicator.NewSet()
	}
	return rs, ind, nil
}

// ReloadFiles reads the files and, if they are valid, swaps them in. On
// error the rules and indicators in force stay and the error says what
// is wrong where.
func (e *Engine) ReloadFiles(f Files) error {
	rs, ind, err := f.Load()
	if err != nil {
		e.reloadErrs.Add(1)
		e.log.Warn("rules not reloaded; the rules in force stay", "error", err)
		return err
	}
	e.log.Info("rules reloaded", "rules", rs.Name, "hash", rs.Hash, "indicators", ind.Len())
	e.Reload(rs, ind)
	return nil
}

// WatchFiles reloads the files when their modification time or size
// changes, checking every interval, until ctx ends. A broken file is
// logged and the rules in force stay. It returns ctx's error.
func (e *Engine) WatchFiles(ctx context.Context, f Files, every time.Duration) error {
	if every <= 0 {
		every = 2 * time.Second
	}
	paths := append([]string(nil), f.Indicators...)
	if f.Rules != "" {
		paths = append(paths, f.Rules)
	}
	state := func() string {
		s := ""
		for _, p := range paths {
			if st, err := os.Stat(p); err == nil {
				s += fmt.Sprintf("%s:%d:%d;", p, st.ModTime().UnixNano(), st.Size())
			} else {
				s += p + ":missing;"
			}
		}
		return s
	}
	last := state()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if now := state(); now != last {
				last = now
				_ = e.ReloadFiles(f)
			}
		}
	}
}

// Stats returns the counters so far.
func (e *Engine) Stats() Stats {
	s := e.stats
	o := e.open.Stats()
	s.AlertsOpened, s.AlertUpdates, s.AlertsFinal = o.Opened, o.Updates, o.Final
	s.ReloadErrors = e.reloadErrs.Load()
	s.RuleSet = e.cur.rs.Name + "@" + e.cur.rs.Hash
	s.Indicators = e.ind.Len()
	s.Web = e.web.Stats()
	return s
}

// check applies a pending reload.
func (e *Engine) check() {
	if p := e.pending.Load(); p != nil && e.pending.CompareAndSwap(p, nil) {
		e.apply(p)
		e.stats.Reloads++
	}
}

// advance moves event time forward and runs the periodic work once per
// second of it.
func (e *Engine) advance(t time.Time) {
	if t.After(e.now) {
		e.now = t
	}
	if !e.now.Before(e.nextSweep) {
		if !e.nextSweep.IsZero() {
			e.sweep()
		}
		e.nextSweep = e.now.Truncate(time.Second).Add(time.Second)
	}
}

// Tick advances the engine's clock to now when no event does (a quiet
// live network), so that alerts close and findings update on time.
func (e *Engine) Tick(now time.Time) {
	e.check()
	e.advance(now)
}

// Flush ends every open alert (as at the end of a capture) and emits
// every finding changed since it was last emitted.
func (e *Engine) Flush() {
	e.check()
	e.open.Flush(e.now)
	for _, k := range e.findingOrder {
		if fs := e.findings[k]; fs != nil && fs.dirty {
			e.emitFinding(fs, e.now)
		}
	}
}

// sweep closes quiet alerts, emits due updates and expires counting state.
func (e *Engine) sweep() {
	now := e.now
	e.open.Sweep(now)
	keep := e.changed[:0]
	for _, fs := range e.changed {
		switch {
		case !fs.dirty:
			fs.queued = false
		case now.Sub(fs.lastEmit) >= e.cfg.FindingUpdate:
			e.emitFinding(fs, now)
			fs.queued = false
		default:
			keep = append(keep, fs)
		}
	}
	clear(e.changed[len(keep):])
	e.changed = keep
	if !now.Before(e.nextExpiry) {
		// Idle groups of field rules go every 10 s, so that the groups
		// kept are the active ones, not MaxGroups per rule forever.
		for _, st := range e.cur.states {
			e.expireGroups(st, now)
		}
		e.nextExpiry = now.Add(10 * time.Second)
	}
	e.sweepProbes(now)
	e.arp.sweep(e, now)
}

// openIncident registers and emits a new alert.
func (e *Engine) openIncident(inc *incident) bool {
	if e.open.Len() >= e.lim.MaxIncidents {
		e.stats.IncidentsFull++
		return false
	}
	e.open.Add(inc, e.now)
	return true
}

// closeIncident emits an alert's final update and forgets it.
func (e *Engine) closeIncident(inc *incident) { e.open.Close(inc, e.now) }

// keyedIncident returns the open incident of rule r for key, or a new
// one (with source src) that openKeyed registers.
func (e *Engine) keyedIncident(r *rule, key string, t time.Time, src event.Endpoint) *incident {
	if inc := e.keyed[r.id+"\x00"+key]; inc != nil {
		return inc
	}
	return newIncident(r, key, t, src)
}

// openKeyed opens a new keyed incident; it is forgotten when it ends.
func (e *Engine) openKeyed(inc *incident) bool {
	if !e.openIncident(inc) {
		return false
	}
	full := inc.r.id + "\x00" + inc.key
	e.keyed[full] = inc
	prev := inc.onFinal
	inc.onFinal = func(x *incident) {
		if e.keyed[full] == inc {
			delete(e.keyed, full)
		}
		if prev != nil {
			prev(x)
		}
	}
	return true
}

// --- sensor.Output ---

// Observe takes a dissector's observation: field rules, findings from its
// weaknesses, and the detectors that read messages.
func (e *Engine) Observe(o *event.Observation) {
	e.check()
	e.stats.Observations++
	e.advance(o.Time)
	c := evctx{on: OnObservation, obs: o, t: o.Time, rc: e.rc}
	for _, st := range e.cur.obsRules {
		e.ruleEvent(st, &c)
	}
	for i := range o.Weaknesses {
		e.weakness(o, &o.Weaknesses[i])
		if len(e.cur.weakRules) > 0 {
			wc := evctx{on: OnWeakness, obs: o, weak: &o.Weaknesses[i], t: o.Time, rc: e.rc}
			for _, st := range e.cur.weakRules {
				e.ruleEvent(st, &wc)
			}
		}
	}
	switch o.Proto {
	case "dicom":
		e.exfilObserve(o, &c)
	case "http":
		e.webObserve(o)
	}
	e.indicatorObserve(o, &c)
}

// FlowStart sees a new flow as it starts: scans and indicator matches need
// it at once, not when the flow ends.
func (e *Engine) FlowStart(c *proto.Conn, t time.Time) {
	e.check()
	e.stats.FlowStarts++
	e.advance(t)
	e.probe(c, t)
	if e.ind.Len() > 0 && e.cur.indicator != nil {
		e.indicatorFlow(c, t)
	}
	if len(e.cur.flowStartRules) > 0 {
		ctx := evctx{on: OnFlowStart, conn: c, t: t, rc: e.rc}
		for _, st := range e.cur.flowStartRules {
			e.ruleEvent(st, &ctx)
		}
	}
}

// Flow sees a flow record when the flow ends.
func (e *Engine) Flow(f *event.Flow) {
	e.check()
	e.stats.Flows++
	e.advance(f.End)
	if len(e.cur.flowRules) == 0 {
		return
	}
	c := evctx{on: OnFlow, flow: f, t: f.End, rc: e.rc}
	for _, st := range e.cur.flowRules {
		e.ruleEvent(st, &c)
	}
}

// ARP sees each ARP message: sweeps, spoofing, storms.
func (e *Engine) ARP(a *sensor.ARP) {
	e.check()
	e.stats.ARP++
	e.advance(a.Time)
	e.arpMessage(a)
	if len(e.cur.arpRules) > 0 {
		c := evctx{on: OnARP, arp: a, t: a.Time, rc: e.rc}
		for _, st := range e.cur.arpRules {
			e.ruleEvent(st, &c)
		}
	}
}

// Packet sees every IP packet the sensor keeps, before the flow engine:
// floods are counted here, and refused probes.
func (e *Engine) Packet(p *packet.Packet, ts time.Time, wireLen int) {
	e.check()
	e.stats.Packets++
	e.advance(ts)
	e.pkt = pktInfo{t: ts, proto: p.Proto, flags: p.TCPFlags, icmpType: p.ICMPType, icmpCode: p.ICMPCode,
		src: p.Src, dst: p.Dst, dport: p.DstPort, valid: true, srcMAC: p.SrcMAC, hasMAC: p.HasEth}
	e.packet(p, ts)
}
