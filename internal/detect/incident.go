package detect

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/incidents"
)

// Bounds of one incident.
const (
	maxTargets    = 16   // endpoints listed in an alert
	maxTargetSet  = 4096 // distinct targets counted
	maxEvidence   = 8    // references kept
	maxSampleVals = 8    // distinct values per sample
	maxSampleLen  = 64   // bytes per sample value
	maxCounters   = 12
	maxSamples    = 8
	// maxDistinct bounds the distinct values a rule counts per group.
	maxDistinct = 4096
)

type counter struct {
	name string
	v    uint64
}

type sample struct {
	name string
	vals [maxSampleVals]string
	n    int
	more bool
}

// incident is one alert in the making: what a rule or detector counted
// for one source (or group), from the first event to the last. One
// incident is one alert ID; it is emitted when it opens, updated at most
// every rule.update while it lasts, and emitted a last time (Final) when
// it has been quiet for rule.quiet.
type incident struct {
	r      *rule
	key    string
	id     string
	start  time.Time
	end    time.Time
	count  uint64
	source event.Endpoint
	proto  string

	// Lists grow to their bounds and no further, so an open incident
	// stops allocating after its first few events.
	targets     []event.Endpoint
	nTargets    int
	targetSet   map[targetKey]struct{}
	targetCount int // set by detectors that count targets themselves

	counts   []counter
	nCounts  int
	samples  []sample
	nSamples int
	evidence []event.Reference
	nEv      int

	severity  string
	extraTags []event.Tag

	incidents.Life // its place in Engine.open
	// onFinal lets a detector forget the incident (and learn from it).
	onFinal func(inc *incident)
}

type targetKey struct {
	ip   netip.Addr
	port uint16
}

func newIncident(r *rule, key string, t time.Time, src event.Endpoint) *incident {
	return &incident{r: r, key: key, start: t, end: t, source: src, severity: r.severity}
}

// hit records one more event at time t.
func (in *incident) hit(t time.Time) {
	in.count++
	if t.After(in.end) {
		in.end = t
	}
	if t.Before(in.start) {
		in.start = t
	}
	in.Changed()
}

// timing is what the engine's incidents.Table needs to update and close
// the incident: the rule says.
func (in *incident) timing() (last time.Time, quiet, update time.Duration) {
	return in.end, in.r.quiet, in.r.update
}

// addTarget records a target endpoint (port only for services).
func (in *incident) addTarget(ep event.Endpoint) {
	if !ep.IP.IsValid() {
		return
	}
	k := targetKey{ep.IP, ep.Port}
	for i := 0; i < in.nTargets; i++ {
		if in.targets[i].IP == ep.IP && in.targets[i].Port == ep.Port {
			return
		}
	}
	if in.nTargets < maxTargets {
		in.targets = append(in.targets, ep)
		in.nTargets++
	}
	if in.targetCount > 0 {
		return
	}
	if in.targetSet == nil {
		in.targetSet = map[targetKey]struct{}{}
	}
	if len(in.targetSet) < maxTargetSet {
		in.targetSet[k] = struct{}{}
	}
}

// setCount sets a named counter.
func (in *incident) setCount(name string, v uint64) {
	for i := 0; i < in.nCounts; i++ {
		if in.counts[i].name == name {
			in.counts[i].v = v
			return
		}
	}
	if in.nCounts < maxCounters {
		in.counts = append(in.counts, counter{name, v})
		in.nCounts++
	}
}

// addCount adds to a named counter.
func (in *incident) addCount(name string, d uint64) {
	for i := 0; i < in.nCounts; i++ {
		if in.counts[i].name == name {
			in.counts[i].v += d
			return
		}
	}
	in.setCount(name, d)
}

func (in *incident) getCount(name string) uint64 {
	for i := 0; i < in.nCounts; i++ {
		if in.counts[i].name == name {
			return in.counts[i].v
		}
	}
	return 0
}

// addSample records a distinct example value (no patient data: only
// fields of observations, which carry none).
func (in *incident) addSample(name, v string) {
	if v == "" {
		return
	}
	var s *sample
	for i := 0; i < in.nSamples; i++ {
		if in.samples[i].name == name {
			s = &in.samples[i]
			break
		}
	}
	if s == nil {
		if in.nSamples == maxSamples {
			return
		}
		in.samples = append(in.samples, sample{name: name})
		s = &in.samples[in.nSamples]
		in.nSamples++
	}
	for i := 0; i < s.n; i++ {
		if s.vals[i] == v {
			return
		}
	}
	if s.n == maxSampleVals {
		s.more = true
		return
	}
	if len(v) > maxSampleLen {
		v = shorten(v, maxSampleLen)
	}
	s.vals[s.n] = v
	s.n++
}

// setSample replaces a sample with one value.
func (in *incident) setSample(name, v string) {
	for i := 0; i < in.nSamples; i++ {
		if in.samples[i].name == name {
			in.samples[i].n = 0
			in.samples[i].more = false
		}
	}
	in.addSample(name, v)
}

// addEvidence records a reference, one per flow.
func (in *incident) addEvidence(ref event.Reference) {
	for i := 0; i < in.nEv; i++ {
		if in.evidence[i].Flow == ref.Flow && ref.Flow != "" {
			return
		}
	}
	if in.nEv < maxEvidence {
		in.evidence = append(in.evidence, ref)
		in.nEv++
	}
}

func (in *incident) addTag(t event.Tag) {
	for _, x := range in.r.tags {
		if x.Taxonomy == t.Taxonomy && x.ID == t.ID {
			return
		}
	}
	for _, x := range in.extraTags {
		if x.Taxonomy == t.Taxonomy && x.ID == t.ID {
			return
		}
	}
	in.extraTags = append(in.extraTags, t)
}

// alert renders the incident as an alert record (a fresh value the sink
// may keep).
func (in *incident) alert(final bool) *event.Alert {
	r := in.r
	if in.id == "" {
		in.id = incidents.ID(in.start, r.id, in.key)
	}
	a := &event.Alert{
		V: event.Version, Type: event.TypeAlert, ID: in.id, Rule: r.id, Category: r.category,
		Severity: in.severity, Source: in.source, Start: in.start.UTC(), End: in.end.UTC(), Count: in.count,
		Remediation: r.remediation, Final: final,
	}
	a.Targets = make([]event.Endpoint, in.nTargets)
	copy(a.Targets, in.targets[:in.nTargets])
	a.TargetCount = in.targetCount
	if a.TargetCount == 0 {
		a.TargetCount = len(in.targetSet)
	}
	if in.nCounts > 0 {
		a.Counts = make(map[string]uint64, in.nCounts)
		for _, c := range in.counts[:in.nCounts] {
			a.Counts[c.name] = c.v
		}
	}
	if in.nSamples > 0 {
		a.Samples = make(map[string]string, in.nSamples)
		for _, s := range in.samples[:in.nSamples] {
			v := strings.Join(s.vals[:s.n], ",")
			if s.more {
				v += ",…"
			}
			a.Samples[s.name] = v
		}
	}
	if in.nEv > 0 {
		a.Evidence = make([]event.Reference, in.nEv)
		copy(a.Evidence, in.evidence[:in.nEv])
		for i := range a.Evidence {
			a.Evidence[i].Time = a.Evidence[i].Time.UTC()
		}
	}
	a.Tags = make([]event.Tag, 0, len(r.tags)+len(in.extraTags))
	a.Tags = append(append(a.Tags, r.tags...), in.extraTags...)
	vars := func(name string) string {
		switch name {
		case "source":
			if in.source.IP.IsValid() {
				return in.source.IP.String()
			}
			return in.source.MAC
		case "target":
			if in.nTargets == 0 {
				return "-"
			}
			t := in.targets[0]
			if t.Port != 0 {
				return netip.AddrPortFrom(t.IP, t.Port).String()
			}
			return t.IP.String()
		case "targets":
			return strconv.Itoa(a.TargetCount)
		case "count":
			return strconv.FormatUint(in.count, 10)
		case "window":
			return r.window.String()
		case "proto":
			if in.proto == "" {
				return "-"
			}
			return in.proto
		case "rule":
			return r.id
		}
		if c, ok := strings.CutPrefix(name, "counts."); ok {
			if c == "events" {
				return strconv.FormatUint(in.count, 10)
			}
			return strconv.FormatUint(a.Counts[c], 10)
		}
		if s, ok := strings.CutPrefix(name, "samples."); ok {
			if v := a.Samples[s]; v != "" {
				return v
			}
			return "-"
		}
		return ""
	}
	a.Title = r.titleT.render(vars)
	a.Description = r.descT.render(vars)
	if a.Description == "" {
		a.Description = a.Title
	}
	return a
}
