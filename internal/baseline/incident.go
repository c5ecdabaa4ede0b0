package baseline

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/incidents"
)

// Bounds of one incident.
const (
	maxValues   = 8  // new values listed
	maxTargets  = 16 // counterparts listed
	maxEvidence = 8
	maxFeatures = 4 // numeric features listed
)

// ref is what an alert's evidence is built from, only when it is needed
// (building a Reference's text on every event would allocate).
type ref struct {
	flow        string
	frame       uint64
	t           time.Time
	what, what2 string
}

func (r ref) reference() event.Reference {
	w := r.what
	if r.what2 != "" {
		w += "/" + r.what2
	}
	return event.Reference{Flow: r.flow, Frame: r.frame, Time: r.t.UTC(), What: w}
}

// incident is one alert in the making: one device and one feature kind,
// from its first deviation to its last. It is emitted when it opens,
// again at most every Update while it changes, and a last time (Final)
// when it has been quiet for Quiet or has lasted MaxSpan.
type incident struct {
	k     kind
	dev   *device
	id    string
	start time.Time
	end   time.Time
	count uint64

	// New values (categorical kinds).
	values  []string
	nValues int // distinct new values in all
	learned int // values the baseline held when the last new one came

	// The worst deviation (numeric kinds), in the feature's unit.
	feature          string
	observed, centre float64
	usual            float64 // largest (or, for rhythm, smallest) value accepted as normal
	unit             string
	low              bool // anomalous because too small (rhythm)
	score            float64
	features         []string

	targets     []event.Endpoint
	targetCount int
	evidence    []event.Reference

	class, classWhy string // closest cause (a taxonomy mapping class)
	severity        string
	sensitive       bool
	threshold       float64
	role            string
	note            string

	incidents.Life // its place in Baseline.open
}

var baseSeverity = [numKinds]string{
	kNewDevice: event.SeverityMedium, kNewPeer: event.SeverityLow, kNewService: event.SeverityLow,
	kNewMessage: event.SeverityMedium, kNewMAC: event.SeverityLow,
	kFlowSize: event.SeverityLow, kFlowRhythm: event.SeverityLow, kBurst: event.SeverityLow, kVolume: event.SeverityLow,
}

var severities = [...]string{"", event.SeverityLow, event.SeverityMedium, event.SeverityHigh, event.SeverityCritical}

func (in *incident) raise(s string) {
	if detect.SeverityRank(s) > detect.SeverityRank(in.severity) {
		in.severity = s
	}
}

func (in *incident) addValue(v string) {
	in.nValues++
	if len(in.values) < maxValues {
		in.values = append(in.values, v)
	}
}

func (in *incident) addTarget(ep event.Endpoint) {
	if !ep.IP.IsValid() {
		return
	}
	for _, t := range in.targets {
		if t.IP == ep.IP && t.Port == ep.Port {
			return
		}
	}
	in.targetCount++
	if len(in.targets) < maxTargets {
		in.targets = append(in.targets, event.Endpoint{IP: ep.IP, Port: ep.Port})
	}
}

func (in *incident) addEvidence(r ref) {
	if len(in.evidence) >= maxEvidence {
		return
	}
	for _, e := range in.evidence {
		if e.Flow == r.flow && r.flow != "" {
			return
		}
	}
	in.evidence = append(in.evidence, r.reference())
}

func (in *incident) setClass(class, why string) {
	if in.class == "" {
		in.class, in.classWhy = class, why
	}
}

// deviation records a value above the learned range; the worst one is
// the alert's headline.
func (in *incident) deviation(feature string, observed, centre, usual, score float64, unit string) {
	in.addFeature(feature)
	if score > in.score {
		in.feature, in.observed, in.centre, in.usual, in.score, in.unit, in.low = feature, observed, centre, usual, score, unit, false
	}
	in.raise(in.scoreSeverity(score))
}

// deviationLow records a value below the learned range.
func (in *incident) deviationLow(feature string, observed, centre, usual, score float64, unit string) {
	in.deviation(feature, observed, centre, usual, score, unit)
	if in.feature == feature && in.score == score {
		in.low = true
	}
}

func (in *incident) addFeature(f string) {
	for _, x := range in.features {
		if x == f {
			return
		}
	}
	if len(in.features) < maxFeatures {
		in.features = append(in.features, f)
	}
}

// scoreSeverity grades a numeric deviation: low up to twice the
// threshold, medium up to four times, high beyond. The threshold is
// carried by the baseline; the incident stores the ratio's bands.
func (in *incident) scoreSeverity(score float64) string {
	switch t := in.threshold; {
	case score >= 4*t:
		return event.SeverityHigh
	case score >= 2*t:
		return event.SeverityMedium
	}
	return event.SeverityLow
}

// --- the baseline's side ---

// incidentFor returns the open incident of a device and kind, or a new
// one that hitOpen registers (nil when MaxIncidents are open).
func (b *Baseline) incidentFor(d *device, k kind, t time.Time) *incident {
	if in := d.inc[k]; in != nil && in.Open() {
		if t.Sub(in.start) < b.cfg.MaxSpan {
			return in
		}
		b.closeIncident(in)
	}
	if b.open.Len() >= b.cfg.Limits.MaxIncidents {
		b.stats.IncidentsFull++
		return nil
	}
	in := &incident{k: k, dev: d, start: t, end: t, severity: baseSeverity[k], threshold: b.cfg.Threshold}
	if b.cfg.Role != nil {
		in.role = b.cfg.Role(d.addr)
		in.sensitive = b.cfg.sensitive(in.role)
	}
	d.inc[k] = in
	return in
}

// hitOpen counts a deviation and registers and emits a new incident.
func (b *Baseline) hitOpen(in *incident, t time.Time) {
	b.extend(in, t)
	if in.Open() {
		return
	}
	b.byRule[in.k]++
	if in.k == kNewDevice {
		b.newDevicesOpen++
	}
	b.open.Add(in, b.now)
}

// extend counts one more event of an incident.
func (b *Baseline) extend(in *incident, t time.Time) {
	in.count++
	if t.After(in.end) {
		in.end = t
	}
	in.Changed()
}

// closeIncident emits an incident's final alert and forgets it.
func (b *Baseline) closeIncident(in *incident) { b.open.Close(in, b.now) }

// closed forgets an incident that has left b.open.
func (b *Baseline) closed(in *incident) {
	if in.k == kNewDevice {
		b.newDevicesOpen--
	}
	if in.dev.inc[in.k] == in {
		in.dev.inc[in.k] = nil
	}
}

// alert renders an incident (a fresh value the sink may keep).
func (b *Baseline) alert(in *incident, final bool) *event.Alert {
	d := in.dev
	rule := ruleIDs[in.k]
	if in.id == "" {
		in.id = incidents.ID(in.start, rule, d.addr.String())
	}
	sev := in.severity
	if in.sensitive {
		sev = severities[min(detect.SeverityRank(sev)+1, 4)]
	}
	a := &event.Alert{
		V: event.Version, Type: event.TypeAlert, ID: in.id, Rule: rule, Model: "baseline",
		Category: categoryAnomaly, Severity: sev, Source: event.Endpoint{IP: d.addr, MAC: d.mac},
		Start: in.start.UTC(), End: in.end.UTC(), Count: in.count, Final: final,
		Targets: append([]event.Endpoint{}, in.targets...), TargetCount: in.targetCount,
		Evidence: append([]event.Reference(nil), in.evidence...),
		Counts:   map[string]uint64{"events": in.count},
		Samples:  map[string]string{},
		Tags:     b.tags(in),
	}
	dev := d.addr.String()
	if in.role != "" {
		dev += " (" + in.role + ")"
		a.Samples["role"] = in.role
	}
	if in.note != "" {
		a.Samples["note"] = in.note
	}
	if in.k.numeric() {
		a.Score = round2(in.score)
		a.Samples["feature"] = in.feature
		a.Samples["observed"] = fmtUnit(in.observed, in.unit)
		a.Samples["learned_median"] = fmtUnit(in.centre, in.unit)
		if in.low {
			a.Samples["learned_min"] = fmtUnit(in.usual, in.unit)
		} else {
			a.Samples["learned_max"] = fmtUnit(in.usual, in.unit)
		}
		a.Samples["score"] = strconv.FormatFloat(round2(in.score), 'f', -1, 64)
		if len(in.features) > 1 {
			a.Samples["features"] = strings.Join(in.features, "; ")
		}
	} else if in.k != kNewDevice {
		a.Score = float64(in.nValues)
		v := strings.Join(in.values, ", ")
		if in.nValues > len(in.values) {
			v += ", …"
		}
		a.Samples["new_values"] = v
		a.Counts["new_values"] = uint64(in.nValues)
		a.Counts["learned_values"] = uint64(in.learned)
	}
	a.Title, a.Description = b.text(in, dev)
	a.Remediation = remediation[in.k]
	return a
}

// text writes an alert's title and description.
func (b *Baseline) text(in *incident, dev string) (title, desc string) {
	vals := strings.Join(in.values, ", ")
	if in.nValues > len(in.values) {
		vals += fmt.Sprintf(" and %d more", in.nValues-len(in.values))
	}
	plural := func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + many
	}
	switch in.k {
	case kNewDevice:
		title = "New device " + in.dev.addr.String()
		desc = fmt.Sprintf("%s appeared after the network's learning period and talked to %s in %d events; it learns its own baseline now",
			dev, plural(in.targetCount, "peer", "peers"), in.count)
	case kNewPeer:
		title = dev + " talks to " + plural(in.nValues, "new peer", "new peers")
		desc = fmt.Sprintf("%s exchanged %d flows with %s never seen in its baseline of %s: %s",
			dev, in.count, plural(in.nValues, "peer", "peers"), plural(in.learned, "peer", "peers"), vals)
	case kNewService:
		title = dev + " uses " + plural(in.nValues, "new service", "new services")
		desc = fmt.Sprintf("%s used or offered %s never seen in its baseline of %s: %s",
			dev, plural(in.nValues, "service", "services"), plural(in.learned, "service", "services"), vals)
	case kNewMessage:
		title = dev + " exchanges " + plural(in.nValues, "new kind of message", "new kinds of message")
		desc = fmt.Sprintf("%s showed %s never seen in its baseline of %s: %s",
			dev, plural(in.nValues, "message kind", "message kinds"), plural(in.learned, "kind", "kinds"), vals)
	case kNewMAC:
		title = dev + " seen with a new hardware address"
		desc = fmt.Sprintf("%s was seen with %s: %s", dev, plural(in.nValues, "new MAC address", "new MAC addresses"), vals)
	default:
		what := map[kind]string{kFlowSize: "unusual flow size", kFlowRhythm: "unusual flow rhythm",
			kBurst: "burst of flows", kVolume: "unusual traffic volume"}[in.k]
		title = dev + ": " + what
		bound := "largest learned"
		if in.low {
			bound = "smallest learned"
		}
		desc = fmt.Sprintf("%s: %s was %s; learned median %s, %s %s; %.1f robust deviations",
			dev, in.feature, fmtUnit(in.observed, in.unit), fmtUnit(in.centre, in.unit), bound,
			fmtUnit(in.usual, in.unit), in.score)
	}
	if in.note != "" {
		desc += " (" + in.note + ")"
	}
	return title, desc
}

var remediation = [numKinds]string{
	kNewDevice:  "Identify the device: a new device on a clinical network should be in the inventory; if nobody installed it, isolate it.",
	kNewPeer:    "Check whether the device should talk to these peers (a new workstation, a new integration); if not, find out who the peer is and block it at the segment's firewall.",
	kNewService: "Check whether the service was enabled on purpose (a maintenance session, a firmware update); close what is not needed.",
	kNewMessage: "Check whether the new messages belong to a configuration change; queries and retrievals from an unknown peer may be data theft.",
	kNewMAC:     "Check whether the device was replaced; two machines claiming one address may be spoofing.",
	kFlowSize:   "Check what was transferred and to whom; a device sending far more than usual may be leaking data.",
	kFlowRhythm: "Check the peer: a device contacted far more often than usual may be flooded or polled by a new tool.",
	kBurst:      "Check the peers of the burst: far more connections than usual point to a flood, a scan or a misbehaving client.",
	kVolume:     "Check what was transferred and to whom; far more traffic than usual may be data theft or a flood.",
}

// kindClass is the taxonomy mapping of each kind's alerts when no closer
// cause is known (internal/taxonomy; docs/baselines.md).
var kindClass = [numKinds]string{
	kNewDevice: "new-device", kNewPeer: "behaviour-change", kNewService: "behaviour-change",
	kNewMessage: "behaviour-change", kNewMAC: "address-change", kFlowSize: "traffic-anomaly",
	kFlowRhythm: "behaviour-change", kBurst: "traffic-anomaly", kVolume: "traffic-anomaly",
}

// RuleMappings returns the taxonomy mapping class each rule's alerts are
// tagged with when no closer cause is known, for tests and docs that
// check every rule maps.
func RuleMappings() map[string]string {
	out := make(map[string]string, numKinds)
	for k, id := range ruleIDs {
		out[id] = kindClass[k]
	}
	return out
}

// tags returns the taxonomy tags of the incident's closest cause, or of
// its kind when it has none.
func (b *Baseline) tags(in *incident) []event.Tag {
	out := []event.Tag{}
	class, why := in.class, in.classWhy
	if class == "" {
		class, why = kindClass[in.k], "no closer cause known"
	}
	m, ok := b.cat.Mapping(class)
	if !ok {
		return out
	}
	for _, t := range m.Tags {
		t.Reason = "baseline deviation (" + why + "): " + t.Reason
		out = append(out, t)
	}
	return out
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// fmtUnit writes a value with its unit: bytes with k/M/G, milliseconds as
// a duration, counts as whole numbers.
func fmtUnit(x float64, unit string) string {
	switch unit {
	case "bytes":
		switch {
		case x >= 1e9:
			return strconv.FormatFloat(x/1e9, 'f', 1, 64) + " GB"
		case x >= 1e6:
			return strconv.FormatFloat(x/1e6, 'f', 1, 64) + " MB"
		case x >= 1e4:
			return strconv.FormatFloat(x/1e3, 'f', 0, 64) + " kB"
		case x >= 1e3:
			return strconv.FormatFloat(x/1e3, 'f', 1, 64) + " kB"
		}
		return strconv.FormatFloat(math.Round(x), 'f', 0, 64) + " B"
	case "ms":
		switch {
		case x >= 1000:
			return time.Duration(x * float64(time.Millisecond)).Round(time.Millisecond).String()
		case x >= 1:
			return strconv.FormatFloat(x, 'f', 1, 64) + " ms"
		}
		return strconv.FormatFloat(x*1000, 'f', 0, 64) + " µs"
	}
	if x == 1 && strings.HasSuffix(unit, "s") {
		unit = unit[:len(unit)-1]
	}
	return strconv.FormatFloat(math.Round(x*10)/10, 'f', -1, 64) + " " + unit
}

// fmtDur writes a duration without trailing zero units ("12h", "1h30m").
func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
