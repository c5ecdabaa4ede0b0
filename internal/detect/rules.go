package detect

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/taxonomy"
)

// defaultRulesYAML is heir's shipped rule set (docs/rules.md,
// docs/detections.md). A string, so it cannot change at run time.
//
//go:embed default.yaml
var defaultRulesYAML string

// DefaultRulesYAML returns the text of the shipped rule set, for users who
// want to start their own file from it.
func DefaultRulesYAML() string { return defaultRulesYAML }

// Rule types.
const (
	TypeAlert   = "alert"
	TypeFinding = "finding"
)

// MaxRuleFile bounds the size of a rule file.
const MaxRuleFile = 4 << 20

// RuleSet is a validated, compiled rule file. It is immutable and may be
// shared between engines.
type RuleSet struct {
	// Name is the file it came from ("default" for the shipped set).
	Name  string
	rules []*rule
	byID  map[string]*rule
	// Hash identifies the source text.
	Hash string
}

// Rules returns the rules' ids, titles, types and detectors, in file order.
func (rs *RuleSet) Rules() []RuleInfo {
	out := make([]RuleInfo, 0, len(rs.rules))
	for _, r := range rs.rules {
		out = append(out, RuleInfo{ID: r.id, Title: r.title, Type: r.typ, Category: r.category, Severity: r.severity,
			Detector: r.detector, On: r.on, Enabled: r.enabled, Mapping: r.mapping, Tags: slices.Clone(r.tags),
			Remediation: r.remediation})
	}
	return out
}

// RuleInfo describes one rule.
type RuleInfo struct {
	ID, Title, Type, Category, Severity string
	// Detector names the built-in detector, "" for a rule over event fields.
	Detector string
	// On is the event type a field rule looks at.
	On          string
	Enabled     bool
	Mapping     string
	Tags        []event.Tag
	Remediation string
}

// rule is one compiled rule.
type rule struct {
	id, title, typ, category, severity string
	description, remediation           string
	enabled                            bool
	mapping                            string
	tags                               []event.Tag
	line                               int
	// sig identifies the settings a rule's state depends on: a reload
	// keeps the state of a rule whose sig did not change.
	sig string

	// field rules
	on         string
	where      condSet
	groupBy    []fieldRef
	source     endpointRef
	target     endpointRef
	window     time.Duration
	quiet      time.Duration
	update     time.Duration
	count      int
	distinct   []distinctSpec
	sums       []sumSpec
	samples    []fieldRef
	titleT     *tmpl
	descT      *tmpl
	protoField getter
	// protos and kinds, when set, are the only observation protocols and
	// kinds the rule's where can match: a quick test before the rest.
	protos, kinds []string

	// built-in detectors
	detector string
	params   params
}

type fieldRef struct {
	name string
	get  getter
}

type endpointRef struct {
	name string
	pick func(c *evctx) *event.Endpoint
}

type distinctSpec struct {
	as     string
	fields []fieldRef
	min    int
}

type sumSpec struct {
	as    string
	field fieldRef
	min   float64
}

// Defaults for rule timing.
const (
	defaultWindow = time.Minute
	defaultUpdate = 10 * time.Second
	// maxWindow bounds windows and quiet periods: state is kept that long.
	maxWindow = 24 * time.Hour
)

// DefaultRules returns the shipped rule set.
func DefaultRules() *RuleSet {
	rs, err := ParseRules("default", []byte(defaultRulesYAML))
	if err != nil {
		// The shipped file is tested; failing here is a build error.
		panic("detect: shipped rules do not load: " + err.Error())
	}
	return rs
}

// LoadRules reads and compiles the rule file at path.
func LoadRules(path string) (*RuleSet, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if st.Size() > MaxRuleFile {
		return nil, fmt.Errorf("rules %s: larger than %d MiB", path, MaxRuleFile>>20)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return ParseRules(path, data)
}

// ParseRules compiles a rule file. Every problem found is reported as
// file:line:column: what is wrong; the returned error joins them (at most
// 20).
func ParseRules(name string, data []byte) (*RuleSet, error) {
	if len(data) > MaxRuleFile {
		return nil, &RuleError{name, 1, 1, fmt.Sprintf("larger than %d MiB", MaxRuleFile>>20)}
	}
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	p := &ruleParser{file: name, cat: taxonomy.New()}
	rs := p.file_(root)
	if len(p.errs) > 0 {
		return nil, p.err()
	}
	sum := sha256.Sum256(data)
	rs.Name = name
	rs.Hash = hex.EncodeToString(sum[:8])
	return rs, nil
}

// RuleErrors is every problem of a rule file.
type RuleErrors []*RuleError

func (es RuleErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

type ruleParser struct {
	file string
	cat  *taxonomy.Catalogue
	errs RuleErrors
}

const maxErrors = 20

func (p *ruleParser) add(err error) {
	if err == nil || len(p.errs) >= maxErrors {
		return
	}
	if re, ok := err.(*RuleError); ok {
		p.errs = append(p.errs, re)
		return
	}
	p.errs = append(p.errs, &RuleError{p.file, 1, 1, err.Error()})
}

func (p *ruleParser) err() error {
	if len(p.errs) == 1 {
		return p.errs[0]
	}
	return p.errs
}

func (p *ruleParser) errf(n *ynode, format string, args ...any) {
	p.add(n.errf(p.file, format, args...))
}

// keys checks that a mapping has only allowed keys.
func (p *ruleParser) keys(n *ynode, what string, allowed ...string) {
	for _, k := range n.keys {
		if !slices.Contains(allowed, k.str) {
			p.errf(k, "unknown key %q in %s (allowed: %s)", k.str, what, strings.Join(allowed, ", "))
		}
	}
}

func (p *ruleParser) file_(root *ynode) *RuleSet {
	rs := &RuleSet{byID: map[string]*rule{}}
	if root.kind != yMap {
		p.errf(root, "a rule file is a mapping with version: 1 and rules: […], found %s", root.describe())
		return rs
	}
	p.keys(root, "the rule file", "version", "rules")
	v := root.get("version")
	switch {
	case v == nil:
		p.errf(root, "missing version: 1")
	case !v.isInt || v.num != 1:
		p.errf(v, "version must be 1 (the only rule format so far), found %s", v.describe())
	}
	rules := root.get("rules")
	if rules == nil {
		p.errf(root, "missing rules: […]")
		return rs
	}
	if rules.kind != ySeq {
		p.errf(rules, "rules must be a list, found %s", rules.describe())
		return rs
	}
	for _, rn := range rules.items {
		r := p.rule(rn)
		if r == nil {
			continue
		}
		if prev, dup := rs.byID[r.id]; dup {
			p.errf(rn.get("id"), "rule id %q is used twice (first at line %d)", r.id, prev.line)
			continue
		}
		rs.byID[r.id] = r
		rs.rules = append(rs.rules, r)
	}
	return rs
}

// validID says whether s is a rule id or category: lower-case letters,
// digits and '-', starting with a letter or digit, at most 64 bytes.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (p *ruleParser) str(n *ynode, key string, required bool) (string, *ynode) {
	v := n.get(key)
	if v == nil || v.kind == yNull {
		if required {
			p.errf(n, "missing %s", key)
		}
		return "", nil
	}
	if v.kind != yScalar || !v.isStr {
		p.errf(v, "%s must be text, found %s", key, v.describe())
		return "", v
	}
	return v.str, v
}

func (p *ruleParser) duration(n *ynode, key string, def time.Duration) time.Duration {
	v := n.get(key)
	if v == nil {
		return def
	}
	d, err := parseDuration(v)
	if err != nil {
		p.errf(v, "%s: %v", key, err)
		return def
	}
	return d
}

func parseDuration(v *ynode) (time.Duration, error) {
	if v.kind != yScalar || !v.isStr {
		return 0, fmt.Errorf("a duration such as 30s, 5m or 1h is needed, found %s", v.describe())
	}
	d, err := time.ParseDuration(v.str)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 30s, 5m or 1h", v.str)
	}
	if d <= 0 || d > maxWindow {
		return 0, fmt.Errorf("%s is out of range (more than 0, at most %s)", v.str, maxWindow)
	}
	return d, nil
}

func severities() []string {
	return []string{event.SeverityLow, event.SeverityMedium, event.SeverityHigh, event.SeverityCritical}
}

func (p *ruleParser) rule(n *ynode) *rule {
	if n.kind != yMap {
		p.errf(n, "a rule is a mapping (id:, title: …), found %s", n.describe())
		return nil
	}
	p.keys(n, "a rule", "id", "title", "type", "category", "severity", "enabled", "description", "remediation",
		"mapping", "tags", "on", "where", "group_by", "source", "target", "window", "quiet", "update", "threshold",
		"samples", "detector", "params")
	before := len(p.errs)
	r := &rule{line: n.line, enabled: true}
	var idn *ynode
	r.id, idn = p.str(n, "id", true)
	if idn != nil && !validID(r.id) {
		p.errf(idn, "rule id %q must be lower-case letters, digits and '-' (at most 64)", r.id)
	}
	var titleN *ynode
	r.title, titleN = p.str(n, "title", true)
	r.typ, _ = p.str(n, "type", false)
	if r.typ == "" {
		r.typ = TypeAlert
	}
	if r.typ != TypeAlert && r.typ != TypeFinding {
		p.errf(n.get("type"), "type must be alert or finding, found %q", r.typ)
	}
	var catN *ynode
	r.category, catN = p.str(n, "category", r.typ == TypeAlert)
	if catN != nil && !validID(r.category) {
		p.errf(catN, "category %q must be lower-case words joined by '-' (reconnaissance, credential-access …)", r.category)
	}
	var sevN *ynode
	r.severity, sevN = p.str(n, "severity", true)
	if sevN != nil && !slices.Contains(severities(), r.severity) {
		p.errf(sevN, "severity must be %s, found %q", words(severities()), r.severity)
	}
	if e := n.get("enabled"); e != nil {
		if e.kind != yScalar || !e.isBool {
			p.errf(e, "enabled must be true or false, found %s", e.describe())
		} else {
			r.enabled = e.b
		}
	}
	var descN *ynode
	r.description, descN = p.str(n, "description", false)
	r.remediation, _ = p.str(n, "remediation", r.typ == TypeFinding || r.typ == TypeAlert)
	p.tags(n, r)

	det, detN := p.str(n, "detector", false)
	r.detector = det
	if det != "" {
		p.builtin(n, detN, r)
	} else {
		p.fieldRule(n, r)
	}
	vars := alertVars()
	if r.typ == TypeFinding {
		vars = findingVars()
	}
	extra := r.templateNames()
	if titleN != nil {
		t, err := parseTemplate(r.title, vars, extra)
		if err != nil {
			p.errf(titleN, "title: %v", err)
		}
		r.titleT = t
	}
	if descN != nil {
		t, err := parseTemplate(r.description, vars, extra)
		if err != nil {
			p.errf(descN, "description: %v", err)
		}
		r.descT = t
	}
	if len(p.errs) > before {
		return nil
	}
	r.sig = signature(n)
	return r
}

// signature is a digest of the settings that shape a rule's state (not
// its wording, severity or tags).
func signature(n *ynode) string {
	h := sha256.New()
	var dump func(n *ynode)
	dump = func(n *ynode) {
		switch n.kind {
		case yScalar:
			fmt.Fprintf(h, "s%q", n.str)
		case ySeq:
			h.Write([]byte("["))
			for _, it := range n.items {
				dump(it)
			}
			h.Write([]byte("]"))
		case yMap:
			h.Write([]byte("{"))
			for i, k := range n.keys {
				switch k.str {
				case "title", "description", "remediation", "severity", "tags", "mapping", "category", "samples", "update":
					continue
				}
				fmt.Fprintf(h, "%q:", k.str)
				dump(n.vals[i])
			}
			h.Write([]byte("}"))
		}
	}
	dump(n)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// tags reads mapping: (a class of internal/taxonomy) and tags: (explicit
// tags, which add to or override the mapping's).
func (p *ruleParser) tags(n *ynode, r *rule) {
	var mn *ynode
	r.mapping, mn = p.str(n, "mapping", false)
	if mn != nil {
		m, ok := p.cat.Mapping(r.mapping)
		if !ok {
			var names []string
			for _, m := range p.cat.Mappings() {
				names = append(names, m.Class)
			}
			p.errf(mn, "unknown mapping %q (classes: %s)", r.mapping, strings.Join(names, ", "))
		} else {
			r.tags = m.Tags
		}
	}
	tn := n.get("tags")
	if tn != nil {
		if tn.kind != ySeq {
			p.errf(tn, "tags must be a list of {taxonomy, id, reason}, found %s", tn.describe())
			return
		}
		for _, it := range tn.items {
			if it.kind != yMap {
				p.errf(it, "a tag is a mapping {taxonomy: …, id: …, reason: …}, found %s", it.describe())
				continue
			}
			p.keys(it, "a tag", "taxonomy", "id", "reason")
			tax, taxN := p.str(it, "taxonomy", true)
			var id string
			idN := it.get("id")
			switch {
			case idN == nil:
				p.errf(it, "missing id")
			case idN.kind != yScalar || idN.isBool:
				p.errf(idN, "id must be a catalogue id (11, A02, I7, T1046), found %s", idN.describe())
				idN = nil
			default:
				id = idN.str // ENISA ids are numbers: id: 11
			}
			reason, _ := p.str(it, "reason", true)
			if taxN == nil || idN == nil {
				continue
			}
			tag, err := p.cat.Tag(tax, id, reason)
			if err != nil {
				at := idN
				if _, ok := p.cat.Taxonomy(tax); !ok {
					at = taxN
				}
				p.errf(at, "%v", err)
				continue
			}
			replaced := false
			for i := range r.tags {
				if r.tags[i].Taxonomy == tag.Taxonomy && r.tags[i].ID == tag.ID {
					r.tags[i] = tag
					replaced = true
				}
			}
			if !replaced {
				r.tags = append(r.tags, tag)
			}
		}
	}
	if len(r.tags) == 0 {
		p.errf(n, "rule %q has no taxonomy tags: give mapping: <class> or tags: […] (docs/taxonomy.md)", r.id)
	}
}

// fieldRule compiles a rule over event fields.
func (p *ruleParser) fieldRule(n *ynode, r *rule) {
	on, onN := p.str(n, "on", true)
	if onN == nil {
		return
	}
	ons := []string{OnObservation, OnWeakness, OnFlow, OnFlowStart, OnARP}
	if !slices.Contains(ons, on) {
		p.errf(onN, "on must be %s, found %q", words(ons), on)
		return
	}
	if n.get("params") != nil {
		p.errf(n.get("params"), "params belong to built-in detectors (detector: …); a field rule uses where/threshold")
	}
	r.on = on
	if r.typ == TypeFinding && on != OnWeakness {
		p.errf(onN, "a finding rule looks at weaknesses: on: weakness")
	}
	where, err := compileWhere(p.file, on, n.get("where"))
	p.add(err)
	r.where = where
	if on == OnObservation || on == OnWeakness {
		for _, c := range where.all {
			if (c.field != "proto" && c.field != "kind") || (c.op != opEq && c.op != opIn) {
				continue
			}
			var vs []string
			for _, v := range c.vals {
				if v.k != vStr {
					vs = nil
					break
				}
				vs = append(vs, v.s)
			}
			if c.field == "proto" {
				r.protos = vs
			} else {
				r.kinds = vs
			}
		}
	}
	if on == OnObservation || on == OnWeakness {
		r.protoField, _ = compileField(on, "proto")
	}
	if on == OnFlow {
		r.protoField, _ = compileField(on, "proto")
	}
	if r.typ == TypeFinding {
		for _, k := range []string{"group_by", "threshold", "window", "quiet", "source", "target", "samples"} {
			if v := n.get(k); v != nil {
				p.errf(v, "%s does not apply to a finding rule: a finding is kept per device, kind and protocol", k)
			}
		}
		return
	}
	// Endpoints.
	def := map[string][2]string{OnObservation: {"src", "dst"}, OnWeakness: {"src", "dst"}, OnFlow: {"client", "server"},
		OnFlowStart: {"client", "server"}, OnARP: {"sender", "target"}}[on]
	r.source = p.endpoint(n, "source", on, def[0], def)
	r.target = p.endpoint(n, "target", on, def[1], def)
	// Grouping.
	if g := n.get("group_by"); g != nil {
		if g.kind != ySeq || len(g.items) == 0 {
			p.errf(g, "group_by must be a list of fields, found %s", g.describe())
		} else {
			for _, it := range g.items {
				if it.kind != yScalar || !it.isStr {
					p.errf(it, "group_by takes field names, found %s", it.describe())
					continue
				}
				get, err := compileField(on, it.str)
				if err != nil {
					p.errf(it, "%v", err)
					continue
				}
				r.groupBy = append(r.groupBy, fieldRef{it.str, get})
			}
		}
	} else {
		get, _ := compileField(on, r.source.name+".ip")
		r.groupBy = []fieldRef{{r.source.name + ".ip", get}}
	}
	r.window = p.duration(n, "window", defaultWindow)
	r.quiet = p.duration(n, "quiet", r.window)
	r.update = p.duration(n, "update", defaultUpdate)
	// Threshold.
	r.count = 1
	if t := n.get("threshold"); t != nil {
		p.threshold(t, on, r)
	}
	// Samples.
	if s := n.get("samples"); s != nil {
		if s.kind != yMap {
			p.errf(s, "samples must be a mapping name: field, found %s", s.describe())
		} else {
			for i, k := range s.keys {
				v := s.vals[i]
				if v.kind != yScalar || !v.isStr {
					p.errf(v, "sample %s must name a field, found %s", k.str, v.describe())
					continue
				}
				get, err := compileField(on, v.str)
				if err != nil {
					p.errf(v, "%v", err)
					continue
				}
				if !validID(strings.ReplaceAll(k.str, "_", "-")) {
					p.errf(k, "sample name %q must be a lower-case word", k.str)
				}
				r.samples = append(r.samples, fieldRef{k.str, get})
			}
		}
	}
}

func (p *ruleParser) endpoint(n *ynode, key, on, def string, choices [2]string) endpointRef {
	name := def
	if v := n.get(key); v != nil {
		s, _ := p.str(n, key, false)
		if s != choices[0] && s != choices[1] {
			p.errf(v, "%s must be %s or %s for %s events, found %s", key, choices[0], choices[1], on, v.describe())
			return endpointRef{name: def, pick: endpointOf(on, def)}
		}
		name = s
	}
	if on == OnARP {
		return endpointRef{name: name, pick: arpEndpoint(name)}
	}
	return endpointRef{name: name, pick: endpointOf(on, name)}
}

// arpEndpoint makes an endpoint of an ARP message's sender or target.
func arpEndpoint(name string) func(c *evctx) *event.Endpoint {
	return func(c *evctx) *event.Endpoint {
		if name == "sender" {
			return &event.Endpoint{IP: c.arp.SenderIP, MAC: macText(c.arp.SenderMAC)}
		}
		return &event.Endpoint{IP: c.arp.TargetIP, MAC: macText(c.arp.TargetMAC)}
	}
}

func (p *ruleParser) threshold(t *ynode, on string, r *rule) {
	if t.kind != yMap {
		p.errf(t, "threshold must be a mapping (count:, distinct:, sum:), found %s", t.describe())
		return
	}
	p.keys(t, "threshold", "count", "distinct", "sum")
	if c := t.get("count"); c != nil {
		if !c.isInt || c.num < 1 || c.num > 1e9 {
			p.errf(c, "count must be a whole number from 1, found %s", c.describe())
		} else {
			r.count = int(c.num)
		}
	}
	list := func(v *ynode) []*ynode {
		if v.kind == ySeq {
			return v.items
		}
		return []*ynode{v}
	}
	if d := t.get("distinct"); d != nil {
		for _, it := range list(d) {
			if it.kind != yMap {
				p.errf(it, "distinct is {field: …, min: …, as: …}, found %s", it.describe())
				continue
			}
			p.keys(it, "distinct", "field", "fields", "min", "as")
			spec := distinctSpec{}
			var names []*ynode
			if f := it.get("field"); f != nil {
				names = append(names, f)
			}
			if fs := it.get("fields"); fs != nil {
				if fs.kind != ySeq {
					p.errf(fs, "fields must be a list")
				} else {
					names = append(names, fs.items...)
				}
			}
			if len(names) == 0 {
				p.errf(it, "distinct needs field: (or fields: […])")
			}
			for _, f := range names {
				if f.kind != yScalar || !f.isStr {
					p.errf(f, "a field name is needed, found %s", f.describe())
					continue
				}
				get, err := compileField(on, f.str)
				if err != nil {
					p.errf(f, "%v", err)
					continue
				}
				spec.fields = append(spec.fields, fieldRef{f.str, get})
			}
			spec.min = 1
			if m := it.get("min"); m != nil {
				if !m.isInt || m.num < 1 || m.num > maxDistinct {
					p.errf(m, "min must be a whole number from 1 to %d, found %s", maxDistinct, m.describe())
				} else {
					spec.min = int(m.num)
				}
			}
			spec.as, _ = p.str(it, "as", false)
			if spec.as == "" && len(spec.fields) > 0 {
				spec.as = defaultName(spec.fields[len(spec.fields)-1].name) + "s"
			}
			r.distinct = append(r.distinct, spec)
		}
	}
	if s := t.get("sum"); s != nil {
		for _, it := range list(s) {
			if it.kind != yMap {
				p.errf(it, "sum is {field: …, min: …, as: …}, found %s", it.describe())
				continue
			}
			p.keys(it, "sum", "field", "min", "as")
			spec := sumSpec{}
			if f := it.get("field"); f == nil || f.kind != yScalar || !f.isStr {
				p.errf(it, "sum needs field: <name>")
			} else if get, err := compileField(on, f.str); err != nil {
				p.errf(f, "%v", err)
			} else {
				spec.field = fieldRef{f.str, get}
			}
			if m := it.get("min"); m == nil || !m.isNum || m.num <= 0 {
				p.errf(it, "sum needs min: <positive number>")
			} else {
				spec.min = m.num
			}
			spec.as, _ = p.str(it, "as", false)
			if spec.as == "" {
				spec.as = defaultName(spec.field.name)
			}
			r.sums = append(r.sums, spec)
		}
	}
}

// defaultName is the last part of a field path ("detail.user" → "user").
func defaultName(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// templateNames are the counts and samples a rule defines, for templates.
func (r *rule) templateNames() []string {
	out := []string{"counts.events"}
	for _, d := range r.distinct {
		out = append(out, "counts."+d.as)
	}
	for _, s := range r.sums {
		out = append(out, "counts."+s.as)
	}
	for _, s := range r.samples {
		out = append(out, "samples."+s.name)
	}
	if r.detector != "" {
		for _, c := range detectorCounts(r.detector) {
			out = append(out, "counts."+c)
		}
		for _, s := range detectorSamples(r.detector) {
			out = append(out, "samples."+s)
		}
	}
	return out
}

// --- built-in detectors ---

// paramKind is the type of a detector parameter.
type paramKind uint8

const (
	pInt paramKind = iota
	pDuration
	pCIDRs
	pStrings
	pString
)

type paramSpec struct {
	kind   paramKind
	def    any
	choice []string // allowed values for pString / pStrings
	doc    string
}

// params are a detector's parameter values, filled with defaults.
type params map[string]any

func (ps params) int(k string) int              { v, _ := ps[k].(int); return v }
func (ps params) dur(k string) time.Duration    { v, _ := ps[k].(time.Duration); return v }
func (ps params) cidrs(k string) []netip.Prefix { v, _ := ps[k].([]netip.Prefix); return v }
func (ps params) strs(k string) []string        { v, _ := ps[k].([]string); return v }
func (ps params) string_(k string) string       { v, _ := ps[k].(string); return v }

// detectorSpecs lists the built-in detectors and their parameters.
func detectorSpecs() map[string]map[string]paramSpec {
	ignore := paramSpec{kind: pCIDRs, def: []netip.Prefix(nil), doc: "sources never reported (vulnerability scanners, monitoring)"}
	return map[string]map[string]paramSpec{
		"port-scan": {
			"min_ports":      {kind: pInt, def: 20, doc: "distinct host:port pairs probed within the window"},
			"min_failed":     {kind: pInt, def: 10, doc: "probes refused (TCP RST, ICMP unreachable) within the window"},
			"min_probes_any": {kind: pInt, def: 500, doc: "distinct host:port pairs that make a scan whatever the answers"},
			"ignore_sources": ignore,
		},
		"host-sweep": {
			"min_hosts":      {kind: pInt, def: 25, doc: "distinct addresses pinged or ARPed without answer within the window"},
			"arp_wait":       {kind: pDuration, def: time.Second, doc: "how long an ARP request waits for its answer before it counts"},
			"ignore_sources": ignore,
		},
		"flood": {
			"packets":        {kind: pString, def: "syn", choice: []string{"syn", "udp", "icmp"}, doc: "what is counted"},
			"rate":           {kind: pInt, def: 1000, doc: "packets per second to one host"},
			"ignore_sources": ignore,
		},
		"arp-spoofing": {},
		"arp-storm":    {"min_gratuitous": {kind: pInt, def: 50, doc: "gratuitous ARPs from one MAC within the window"}},
		"dicom-exfiltration": {
			"min_records": {kind: pInt, def: 10, doc: "patient matches (C-FIND) plus instances (C-GET/C-MOVE) a new peer received"},
			"learn":       {kind: pDuration, def: time.Duration(0), doc: "time from start during which every query/retrieve peer is learnt as usual"},
			"known_peers": {kind: pCIDRs, def: []netip.Prefix(nil), doc: "peers that are always usual (viewing stations, the RIS)"},
		},
		"indicator": {
			"match": {kind: pStrings, def: []string{"flow", "dns", "sni", "http-host", "cert"},
				choice: []string{"flow", "dns", "sni", "http-host", "cert"}, doc: "what is matched against the indicator lists"},
		},
		"indicator-certificate": {},
		"web-attack": {
			"classes": {kind: pStrings, def: []string(nil), choice: []string{"sqli", "xss", "path-traversal", "command-injection", "jndi-injection"},
				doc: "attack classes reported by this rule"},
		},
	}
}

// detectorType says whether a detector makes alerts or findings.
func detectorType(d string) string {
	if d == "indicator-certificate" {
		return TypeFinding
	}
	return TypeAlert
}

// detectorCounts and detectorSamples name what each detector puts in an
// alert's counts and samples (for templates and docs).
func detectorCounts(d string) []string {
	switch d {
	case "port-scan":
		return []string{"probes", "hosts", "ports", "failed", "syn", "fin", "null", "xmas", "udp"}
	case "host-sweep":
		return []string{"hosts"}
	case "flood":
		return []string{"peak_pps"}
	case "arp-spoofing":
		return []string{"claims_old", "claims_new"}
	case "arp-storm":
		return []string{"gratuitous"}
	case "dicom-exfiltration":
		return []string{"queries", "matches", "instances"}
	case "indicator":
		return []string{"flows", "lookups"}
	case "web-attack":
		return []string{"requests"}
	}
	return nil
}

func detectorSamples(d string) []string {
	switch d {
	case "port-scan":
		return []string{"ports", "scan_type"}
	case "arp-spoofing":
		return []string{"old_mac", "new_mac"}
	case "arp-storm":
		return []string{"mac"}
	case "dicom-exfiltration":
		return []string{"calling_ae", "query_level", "wildcard"}
	case "indicator":
		return []string{"indicator", "type", "listing", "source", "seen_in"}
	case "web-attack":
		return []string{"class", "params", "patterns", "where"}
	case "flood":
		return []string{"packet_type"}
	}
	return nil
}

func (p *ruleParser) builtin(n, detN *ynode, r *rule) {
	specs, ok := detectorSpecs()[r.detector]
	if !ok {
		var names []string
		for k := range detectorSpecs() {
			names = append(names, k)
		}
		slices.Sort(names)
		p.errf(detN, "unknown detector %q (detectors: %s)", r.detector, strings.Join(names, ", "))
		return
	}
	if want := detectorType(r.detector); r.typ != want {
		p.errf(detN, "detector %s makes %ss: set type: %s", r.detector, want, want)
	}
	for _, k := range []string{"on", "where", "group_by", "threshold", "source", "target", "samples"} {
		if v := n.get(k); v != nil {
			p.errf(v, "%s belongs to field rules; detector %s takes params: (see docs/detections.md)", k, r.detector)
		}
	}
	r.window = p.duration(n, "window", defaultWindow)
	r.quiet = p.duration(n, "quiet", r.window)
	r.update = p.duration(n, "update", defaultUpdate)
	r.params = params{}
	for k, s := range specs {
		r.params[k] = s.def
	}
	pn := n.get("params")
	if pn == nil {
		p.checkParams(r, detN)
		return
	}
	if pn.kind != yMap {
		p.errf(pn, "params must be a mapping, found %s", pn.describe())
		return
	}
	for i, k := range pn.keys {
		v := pn.vals[i]
		s, ok := specs[k.str]
		if !ok {
			var names []string
			for name := range specs {
				names = append(names, name)
			}
			slices.Sort(names)
			if len(names) == 0 {
				p.errf(k, "detector %s takes no params", r.detector)
			} else {
				p.errf(k, "unknown param %q for detector %s (params: %s)", k.str, r.detector, strings.Join(names, ", "))
			}
			continue
		}
		switch s.kind {
		case pInt:
			if !v.isInt || v.num < 1 || v.num > 1e9 {
				p.errf(v, "%s must be a whole number from 1, found %s", k.str, v.describe())
				continue
			}
			r.params[k.str] = int(v.num)
		case pDuration:
			if v.kind == yScalar && v.isStr && v.str == "0s" {
				r.params[k.str] = time.Duration(0)
				continue
			}
			d, err := parseDuration(v)
			if err != nil {
				p.errf(v, "%s: %v", k.str, err)
				continue
			}
			r.params[k.str] = d
		case pCIDRs:
			var nets []netip.Prefix
			items := []*ynode{v}
			if v.kind == ySeq {
				items = v.items
			}
			for _, it := range items {
				if it.kind != yScalar {
					p.errf(it, "%s takes addresses or CIDR blocks", k.str)
					continue
				}
				pfx, err := parsePrefix(it.str)
				if err != nil {
					p.errf(it, "%s: %v", k.str, err)
					continue
				}
				nets = append(nets, pfx)
			}
			r.params[k.str] = nets
		case pString:
			if v.kind != yScalar || !v.isStr || (len(s.choice) > 0 && !slices.Contains(s.choice, v.str)) {
				p.errf(v, "%s must be %s, found %s", k.str, words(s.choice), v.describe())
				continue
			}
			r.params[k.str] = v.str
		case pStrings:
			items := []*ynode{v}
			if v.kind == ySeq {
				items = v.items
			}
			var out []string
			for _, it := range items {
				if it.kind != yScalar || !it.isStr || (len(s.choice) > 0 && !slices.Contains(s.choice, it.str)) {
					p.errf(it, "%s takes %s, found %s", k.str, words(s.choice), it.describe())
					continue
				}
				out = append(out, it.str)
			}
			r.params[k.str] = out
		}
	}
	p.checkParams(r, detN)
}

func (p *ruleParser) checkParams(r *rule, at *ynode) {
	if r.detector == "web-attack" && len(r.params.strs("classes")) == 0 {
		p.errf(at, "detector web-attack needs params: classes: [sqli, xss, path-traversal, command-injection, jndi-injection]")
	}
}

// --- templates ---

// alertVars and findingVars are the names title and description
// templates may use.
func alertVars() []string {
	return []string{"source", "target", "targets", "count", "window", "proto", "rule"}
}

func findingVars() []string { return []string{"proto", "endpoint", "kind", "detail", "rule"} }

// tmpl is a parsed template: text with {name} placeholders.
type tmpl struct {
	parts []tmplPart
}

type tmplPart struct {
	text string
	name string
}

func parseTemplate(s string, vars, extra []string) (*tmpl, error) {
	t := &tmpl{}
	for len(s) > 0 {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			t.parts = append(t.parts, tmplPart{text: s})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, tmplPart{text: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("unclosed { in %q", shorten(s, 60))
		}
		name := s[i+1 : i+j]
		if !slices.Contains(vars, name) && !slices.Contains(extra, name) {
			all := append(append([]string(nil), vars...), extra...)
			return nil, fmt.Errorf("unknown placeholder {%s} (known: %s)", name, strings.Join(all, ", "))
		}
		t.parts = append(t.parts, tmplPart{name: name})
		s = s[i+j+1:]
	}
	return t, nil
}

func (t *tmpl) render(vars func(name string) string) string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.text)
		} else {
			b.WriteString(vars(p.name))
		}
	}
	return b.String()
}
