package cli

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/assess"
	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/rama"
	"github.com/heir-emd/heir/internal/report"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/vuln"
	"github.com/heir-emd/heir/internal/vuln/importer"
)

// scoreFlags are the flags heir score and heir explain share.
type scoreFlags struct {
	dataDir string
	config  string
	site    string
	at      string
	asJSON  bool
	sf      sensorFlags
}

func (f *scoreFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dataDir, "data", defaultDataDir(), "heir's data `DIR`: imported knowledge and inventories (heir import)")
	fs.StringVar(&f.config, "config", "", "RAMA weights and parameters, a YAML `FILE` (default: the shipped ones; see docs/rama.md)")
	fs.StringVar(&f.site, "site", "", "the site's declarations, a YAML `FILE`: compensating controls, clinical functions, life-sustaining devices (docs/rama.md)")
	fs.StringVar(&f.at, "at", "", "score as of this `TIME` (RFC 3339 or YYYY-MM-DD; default: the latest capture time, or now)")
	fs.BoolVar(&f.asJSON, "json", false, "print JSON")
	f.sf.register(fs)
}

// assessed is the outcome of reading a score command's inputs.
type assessed struct {
	devices []assess.Device
	engine  *rama.Engine
	at      time.Time
}

// assessInputs reads captures (analysed as heir analyze does) and event
// files (JSON lines of heir sense or heir analyze --events), joins them
// with the imported inventory and knowledge, and scores every device.
func (f *scoreFlags) assessInputs(e *env, cmd string, inputs []string) (*assessed, int) {
	cfg := rama.DefaultConfig()
	if f.config != "" {
		c, err := rama.LoadConfig(f.config)
		if err != nil {
			fmt.Fprintf(e.stderr, "heir %s: %v\n", cmd, err)
			return nil, ExitUsage
		}
		cfg = c
	}
	scorer, err := rama.NewScorer(cfg)
	if err != nil {
		fmt.Fprintf(e.stderr, "heir %s: %v\n", cmd, err)
		return nil, ExitUsage
	}
	var site *rama.Site
	if f.site != "" {
		if site, err = rama.LoadSite(f.site); err != nil {
			fmt.Fprintf(e.stderr, "heir %s: %v\n", cmd, err)
			return nil, ExitUsage
		}
	}
	var captures, eventFiles []string
	for _, in := range inputs {
		switch strings.ToLower(filepath.Ext(in)) {
		case ".jsonl", ".json", ".ndjson":
			eventFiles = append(eventFiles, in)
		default:
			captures = append(captures, in)
		}
	}
	in := assess.Inputs{Severity: report.Severity}
	var latest time.Time
	if len(captures) > 0 {
		res, code := f.analyzeCaptures(e, cmd, captures)
		if code != ExitOK {
			return nil, code
		}
		in.Assets, in.Findings, in.Alerts, in.Detection = res.assets, res.findings, res.alerts, res.detection
		latest = res.last
	}
	for _, p := range eventFiles {
		ev, err := readEvents(p)
		if err != nil {
			fmt.Fprintf(e.stderr, "heir %s: %v\n", cmd, err)
			return nil, ExitUsage
		}
		in.Assets = append(in.Assets, ev.assets...)
		in.Findings = append(in.Findings, ev.findings...)
		in.Alerts = append(in.Alerts, ev.alerts...)
		in.Detection = in.Detection || len(ev.findings) > 0
		if ev.last.After(latest) {
			latest = ev.last
		}
	}
	kb, devs, err := importer.Store{Dir: kbDir(f.dataDir)}.Load()
	if err != nil {
		fmt.Fprintf(e.stderr, "heir %s: read imported knowledge: %v\n", cmd, err)
		return nil, ExitUsage
	}
	in.Knowledge, in.Norm, in.Imported, in.Site = kb, vuln.DefaultNormaliser(), devs.List(), site
	switch {
	case f.at != "":
		t, err := parseTime(f.at)
		if err != nil {
			fmt.Fprintf(e.stderr, "heir %s: --at: %v\n", cmd, err)
			return nil, ExitUsage
		}
		in.At = t
	case !latest.IsZero():
		in.At = latest
	default:
		in.At = time.Now()
	}
	if len(in.Assets) == 0 && len(in.Imported) == 0 {
		fmt.Fprintf(e.stderr, "heir %s: no devices: give captures or event files, or import an inventory first (heir import inventory FILE.csv)\n", cmd)
		return nil, ExitUsage
	}
	devices, err := assess.Build(e.ctx, in)
	if err != nil {
		fmt.Fprintf(e.stderr, "heir %s: %v\n", cmd, err)
		return nil, ExitInternal
	}
	inputs2 := make([]*rama.Device, len(devices))
	for i := range devices {
		inputs2[i] = &devices[i].Input
	}
	eng := rama.NewEngine(scorer)
	if err := eng.Load(e.ctx, inputs2, in.At); err != nil {
		fmt.Fprintf(e.stderr, "heir %s: %v\n", cmd, err)
		return nil, ExitInternal
	}
	return &assessed{devices: devices, engine: eng, at: in.At}, ExitOK
}

type analysed struct {
	assets    []event.Asset
	findings  []event.Finding
	alerts    []event.Alert
	detection bool
	last      time.Time
}

// analyzeCaptures runs captures through the sensor, inventory and
// detection, as heir analyze does, without the report.
func (f *scoreFlags) analyzeCaptures(e *env, cmd string, paths []string) (*analysed, int) {
	collected := detect.NewCollector()
	set, err := f.sf.build(collected, e.log)
	if err != nil {
		fmt.Fprintf(e.stderr, "heir %s: %v\n", cmd, err)
		return nil, ExitUsage
	}
	src, err := capture.OpenFiles(paths)
	if err != nil {
		fmt.Fprintf(e.stderr, "heir %s: %v\n", cmd, err)
		return nil, ExitUsage
	}
	defer src.Close()
	outs := []sensor.Output{set.inventory}
	if set.detect != nil {
		outs = append(outs, set.detect)
	}
	s := sensor.New(set.config, set.dissectors, sensor.Tee(outs...))
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	if err := runSource(e.ctx, s, src, newProgress(e.stderr, "never", 0)); err != nil {
		fmt.Fprintf(e.stderr, "heir %s: %v\n", cmd, err)
		return nil, ExitInternal
	}
	if set.detect != nil {
		set.detect.Flush()
	}
	return &analysed{assets: set.inventory.Assets(), findings: collected.Findings(), alerts: collected.Alerts(),
		detection: set.detect != nil, last: s.Stats().LastPacket}, ExitOK
}

type eventFile struct {
	assets   []event.Asset
	findings []event.Finding
	alerts   []event.Alert
	last     time.Time
}

// readEvents reads a JSON-lines event file, keeping the latest record of
// each asset, finding and alert id (records are updated in place).
func readEvents(path string) (*eventFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	out := &eventFile{}
	assets, findings, alerts := map[string]int{}, map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var head struct {
			V    int    `json:"v"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			return nil, fmt.Errorf("%s:%d: not a JSON event: %v", path, line, err)
		}
		if head.V != event.Version {
			return nil, fmt.Errorf("%s:%d: event version %d, this heir reads version %d", path, line, head.V, event.Version)
		}
		switch head.Type {
		case event.TypeAsset:
			var a event.Asset
			if err := json.Unmarshal(b, &a); err != nil {
				return nil, fmt.Errorf("%s:%d: asset: %v", path, line, err)
			}
			keep(&out.assets, assets, a.ID, a)
			out.last = later(out.last, a.LastSeen)
		case event.TypeFinding:
			var fd event.Finding
			if err := json.Unmarshal(b, &fd); err != nil {
				return nil, fmt.Errorf("%s:%d: finding: %v", path, line, err)
			}
			keep(&out.findings, findings, fd.ID, fd)
			out.last = later(out.last, fd.LastSeen)
		case event.TypeAlert:
			var a event.Alert
			if err := json.Unmarshal(b, &a); err != nil {
				return nil, fmt.Errorf("%s:%d: alert: %v", path, line, err)
			}
			keep(&out.alerts, alerts, a.ID, a)
			out.last = later(out.last, a.End)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", path, line+1, err)
	}
	return out, nil
}

func keep[T any](list *[]T, idx map[string]int, id string, v T) {
	if i, ok := idx[id]; ok {
		(*list)[i] = v
		return
	}
	idx[id] = len(*list)
	*list = append(*list, v)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-11-28T15:00:00Z) nor a date (2026-11-28)", s)
}

// runScore: heir score [flags] [INPUTS…]
func runScore(e *env, args []string) int {
	fs := newFlags("score", "heir score [flags] [CAPTURE|EVENTS.jsonl ...]", `
Score every device's risk (RAMA, 0-100, docs/rama.md) and the hospital's
(Local RAMA), riskiest first. Devices come from captures (analysed as heir
analyze does), from event files written by heir sense or heir analyze
--events, and from imported inventories; vulnerabilities from the knowledge
imported with heir import.`)
	var f scoreFlags
	f.register(fs)
	top := fs.Int("top", 20, "show the `N` riskiest devices (0: all)")
	by := fs.String("by", "", "also break the hospital's score down by role, enisa or both (`role,enisa`)")
	if code, ok := parse(fs, args, e.stderr); !ok {
		return code
	}
	a, code := f.assessInputs(e, "score", fs.Args())
	if a == nil {
		return code
	}
	n := *top
	if n <= 0 {
		n = len(a.devices)
	}
	rep := rama.NewReport(a.engine, n)
	if f.asJSON {
		if err := rama.WriteJSON(e.stdout, rep); err != nil {
			return ExitInternal
		}
		return ExitOK
	}
	if err := rama.WriteTable(e.stdout, rep); err != nil {
		return ExitInternal
	}
	if *by != "" {
		fmt.Fprintln(e.stdout)
		if err := rama.WriteHospital(e.stdout, &rep.Hospital); err != nil {
			return ExitInternal
		}
	}
	return ExitOK
}

// runExplain: heir explain [flags] DEVICE [INPUTS…]
func runExplain(e *env, args []string) int {
	fs := newFlags("explain", "heir explain [flags] DEVICE [CAPTURE|EVENTS.jsonl ...]", `
Explain one device's RAMA score point by point: every vulnerability,
finding, end-of-life component, alert, exposure and control, what it
contributes and why. DEVICE is a device id, an IP or MAC address or a host
name. Inputs are read as for heir score.`)
	var f scoreFlags
	f.register(fs)
	if code, ok := parse(fs, args, e.stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return usageError(e.stderr, "explain", "say which device (an id, address or host name)")
	}
	a, code := f.assessInputs(e, "explain", fs.Args()[1:])
	if a == nil {
		return code
	}
	id, err := resolveDevice(a.devices, fs.Arg(0))
	if err != nil {
		fmt.Fprintf(e.stderr, "heir explain: %v\n", err)
		return ExitUsage
	}
	b, ok := a.engine.Explain(id, a.at)
	if !ok {
		fmt.Fprintf(e.stderr, "heir explain: device %s was not scored\n", id)
		return ExitInternal
	}
	if f.asJSON {
		if err := rama.WriteJSON(e.stdout, b); err != nil {
			return ExitInternal
		}
		return ExitOK
	}
	if err := rama.WriteExplanation(e.stdout, b); err != nil {
		return ExitInternal
	}
	return ExitOK
}

// resolveDevice finds the device an analyst names: by id, address, MAC
// or host name (unique, case-insensitive).
func resolveDevice(devs []assess.Device, name string) (string, error) {
	ip, ipErr := netip.ParseAddr(name)
	var hits []string
	for _, d := range devs {
		id := d.Input.ID
		switch {
		case id == name:
			return id, nil
		case ipErr == nil && containsAddr(d.Addrs, ip):
			hits = append(hits, id)
		case d.MAC != "" && strings.EqualFold(d.MAC, name):
			hits = append(hits, id)
		case d.Input.Name != "" && strings.EqualFold(d.Input.Name, name):
			hits = append(hits, id)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return "", fmt.Errorf("no device %q (give an id, address, MAC or host name as heir score shows them)", name)
	}
	return "", fmt.Errorf("%q names %d devices (%s): give an id", name, len(hits), strings.Join(hits, ", "))
}

func containsAddr(list []netip.Addr, ip netip.Addr) bool {
	for _, a := range list {
		if a == ip {
			return true
		}
	}
	return false
}
