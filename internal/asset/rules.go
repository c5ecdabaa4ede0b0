package asset

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heir-emd/heir/internal/event"
)

// Rule infers a role from a device's attributes. A device matches when
// every condition of All holds, at least one of Any holds (when Any is
// given) and none of None holds. The match's confidence is Confidence
// times the confidence of the weakest value it relied on.
type Rule struct {
	ID         string      `json:"id"`
	Role       string      `json:"role"`
	Confidence float64     `json:"confidence"`
	Reason     string      `json:"reason"`
	All        []Condition `json:"all,omitempty"`
	Any        []Condition `json:"any,omitempty"`
	None       []Condition `json:"none,omitempty"`
}

// Condition tests one attribute of a device. It holds when some value of
// Attr satisfies every matcher given: Equals (one of, ignoring case),
// Prefix (one of, ignoring case), Keywords (one of, as words: see
// docs/inventory.md). With no matcher it holds when the attribute has any
// value. Counting attributes (peers, services …) take Min instead.
type Condition struct {
	Attr     string   `json:"attr"`
	Equals   []string `json:"equals,omitempty"`
	Prefix   []string `json:"prefix,omitempty"`
	Keywords []string `json:"keywords,omitempty"`
	Min      *int     `json:"min,omitempty"`
}

// RuleFile is the form of rules.json and of user rule files.
type RuleFile struct {
	Version int `json:"version"`
	// Roles documents the role vocabulary: name → meaning. Rules may only
	// name roles listed here or in the default file.
	Roles map[string]string `json:"roles,omitempty"`
	Rules []Rule            `json:"rules"`
}

// Pseudo-attributes the inventory derives for rules, beside the event
// attributes of facts (event.Attr values such as "server", "mqtt-topic").
const (
	// pseudoServicePort: "tcp/4242" per service the device offers.
	pseudoServicePort = "service-port"
	// pseudoServiceProto: the protocol of each service ("dicom").
	pseudoServiceProto = "service-proto"
	// pseudoProtocol: each protocol the device spoke.
	pseudoProtocol = "protocol"
	// pseudoGateway: "true" when the MAC carries other devices' traffic.
	pseudoGateway = "gateway"
	// pseudoVendor: the MAC vendor from the IEEE registry.
	pseudoVendor = "mac-vendor"
)

// Counting attributes (Condition.Min).
const (
	numPeers         = "peers"
	numRemotePeers   = "remote-peers"
	numServices      = "services"
	numFailed        = "failed-targets"
	numARPUnanswered = "arp-unanswered"
)

var knownAttrs = map[string]bool{
	string(event.AttrHostname): true, string(event.AttrVendor): true, string(event.AttrModel): true,
	string(event.AttrFirmware): true, string(event.AttrSoftware): true, string(event.AttrOS): true,
	string(event.AttrRole): true, string(event.AttrDomain): true, string(event.AttrClient): true,
	string(event.AttrServer): true, string(event.AttrAETitle): true, string(event.AttrHL7App): true,
	string(event.AttrMQTTTopic): true, string(event.AttrDHCPFingerprint): true,
	string(event.AttrVendorClass): true, string(event.AttrCertSubject): true,
	string(event.AttrUserAgent): true, string(event.AttrBanner): true,
	pseudoServicePort: true, pseudoServiceProto: true, pseudoProtocol: true, pseudoGateway: true,
	pseudoVendor: true,
}

var numericAttrs = map[string]bool{
	numPeers: true, numRemotePeers: true, numServices: true, numFailed: true, numARPUnanswered: true,
}

//go:embed rules.json
var defaultRulesJSON []byte

// DefaultRules returns the embedded rules (rules.json).
func DefaultRules() []Rule {
	f, err := ParseRules(bytes.NewReader(defaultRulesJSON), nil)
	if err != nil {
		// rules.json is part of the source; TestDefaultRules keeps it valid.
		panic("asset: embedded rules.json: " + err.Error())
	}
	return f.Rules
}

// DefaultRoles returns the role vocabulary of the embedded rules.
func DefaultRoles() map[string]string {
	var f RuleFile
	if err := json.Unmarshal(defaultRulesJSON, &f); err != nil {
		panic("asset: embedded rules.json: " + err.Error())
	}
	return f.Roles
}

// maxRulesBytes bounds a rule file.
const maxRulesBytes = 4 << 20

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,63}$`)

// ParseRules reads and validates a rule file. Roles a rule names must be
// listed in the file's roles or in extraRoles (pass DefaultRoles() for a
// file that extends the defaults).
func ParseRules(r io.Reader, extraRoles map[string]string) (*RuleFile, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRulesBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	if len(data) > maxRulesBytes {
		return nil, fmt.Errorf("read rules: larger than %d bytes", maxRulesBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f RuleFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("parse rules: version %d, want 1", f.Version)
	}
	roles := map[string]bool{}
	for k := range extraRoles {
		roles[k] = true
	}
	for k := range f.Roles {
		if !idPattern.MatchString(k) {
			return nil, fmt.Errorf("parse rules: role %q: use lower-case letters, digits and dashes", k)
		}
		roles[k] = true
	}
	seen := map[string]bool{}
	for i := range f.Rules {
		if err := validate(&f.Rules[i], roles); err != nil {
			return nil, fmt.Errorf("parse rules: rule %d (%q): %w", i+1, f.Rules[i].ID, err)
		}
		if seen[f.Rules[i].ID] {
			return nil, fmt.Errorf("parse rules: rule %d: id %q used twice", i+1, f.Rules[i].ID)
		}
		seen[f.Rules[i].ID] = true
	}
	return &f, nil
}

func validate(r *Rule, roles map[string]bool) error {
	if !idPattern.MatchString(r.ID) {
		return fmt.Errorf("id: use lower-case letters, digits, dots and dashes")
	}
	if !roles[r.Role] {
		return fmt.Errorf("role %q is not in the role vocabulary (add it to \"roles\")", r.Role)
	}
	if !(r.Confidence > 0 && r.Confidence <= 1) {
		return fmt.Errorf("confidence %v: want (0, 1]", r.Confidence)
	}
	if strings.TrimSpace(r.Reason) == "" {
		return fmt.Errorf("reason missing: it explains the role in the evidence")
	}
	if len(r.All) == 0 && len(r.Any) == 0 {
		return fmt.Errorf("no condition in all or any")
	}
	for _, cs := range [][]Condition{r.All, r.Any, r.None} {
		for j := range cs {
			if err := validateCond(&cs[j]); err != nil {
				return fmt.Errorf("condition on %q: %w", cs[j].Attr, err)
			}
		}
	}
	return nil
}

func validateCond(c *Condition) error {
	if numericAttrs[c.Attr] {
		if c.Min == nil || *c.Min < 0 {
			return fmt.Errorf("a counting attribute needs min >= 0")
		}
		if len(c.Equals)+len(c.Prefix)+len(c.Keywords) > 0 {
			return fmt.Errorf("a counting attribute takes only min")
		}
		return nil
	}
	if !knownAttrs[c.Attr] {
		return fmt.Errorf("unknown attribute")
	}
	if c.Min != nil {
		return fmt.Errorf("min applies to counting attributes only")
	}
	for _, k := range c.Keywords {
		if normalize(k, false) == "" {
			return fmt.Errorf("keyword %q has no letters or digits", k)
		}
	}
	return nil
}

// compiled forms, built once per inventory.
type rule struct {
	Rule
	all, any, none []cond
}

type cond struct {
	attr     string
	num      bool
	min      int
	equals   []string
	prefix   []string
	keywords []string
}

func compile(rs []Rule) []rule {
	// A later rule with an earlier one's id replaces it, so that a user
	// file can retune a default rule.
	pos := map[string]int{}
	var out []rule
	for _, r := range rs {
		c := rule{Rule: r, all: compileConds(r.All), any: compileConds(r.Any), none: compileConds(r.None)}
		if i, ok := pos[r.ID]; ok {
			out[i] = c
			continue
		}
		pos[r.ID] = len(out)
		out = append(out, c)
	}
	return out
}

func compileConds(cs []Condition) []cond {
	out := make([]cond, 0, len(cs))
	for _, c := range cs {
		k := cond{attr: c.Attr, num: numericAttrs[c.Attr]}
		if c.Min != nil {
			k.min = *c.Min
		}
		for _, s := range c.Equals {
			k.equals = append(k.equals, strings.ToLower(s))
		}
		for _, s := range c.Prefix {
			k.prefix = append(k.prefix, strings.ToLower(s))
		}
		for _, s := range c.Keywords {
			k.keywords = append(k.keywords, normalize(s, false))
		}
		out = append(out, k)
	}
	return out
}

// view is what rules see of a device.
type view struct {
	values map[string][]viewValue
	nums   map[string]int
	// numEv is the latest evidence behind a count (the last failed flow).
	numEv map[string]event.Evidence
}

type viewValue struct {
	value string
	lower string
	// norm and camel are the keyword forms, computed on first use.
	norm, camel string
	normed      bool
	conf        float64
	ev          event.Evidence
}

// match is one rule that holds for a device.
type match struct {
	rule  *rule
	score float64
	ev    event.Evidence
}

// evaluate returns the rules that hold, best first (ties keep rule order).
func evaluate(rules []rule, v *view) []match {
	var out []match
	for i := range rules {
		r := &rules[i]
		score, ev, ok := r.holds(v)
		if !ok {
			continue
		}
		out = append(out, match{rule: r, score: r.Confidence * score, ev: ev})
	}
	// insertion sort: few matches, and stable.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].score > out[j-1].score; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (r *rule) holds(v *view) (float64, event.Evidence, bool) {
	score := 1.0
	var ev event.Evidence
	haveEv := false
	for i := range r.all {
		c, e, ok := r.all[i].test(v)
		if !ok {
			return 0, ev, false
		}
		score = math.Min(score, c)
		if !haveEv && !e.Time.IsZero() {
			ev, haveEv = e, true
		}
	}
	if len(r.any) > 0 {
		best, found := 0.0, false
		var bestEv event.Evidence
		for i := range r.any {
			if c, e, ok := r.any[i].test(v); ok && (!found || c > best) {
				best, bestEv, found = c, e, true
			}
		}
		if !found {
			return 0, ev, false
		}
		score = math.Min(score, best)
		if !haveEv {
			ev = bestEv
		}
	}
	for i := range r.none {
		if _, _, ok := r.none[i].test(v); ok {
			return 0, ev, false
		}
	}
	return score, ev, true
}

// test returns the confidence and evidence of the best value satisfying c.
func (c *cond) test(v *view) (float64, event.Evidence, bool) {
	if c.num {
		return 1, v.numEv[c.attr], v.nums[c.attr] >= c.min
	}
	vals := v.values[c.attr]
	best, found := 0.0, false
	var ev event.Evidence
	for i := range vals {
		x := &vals[i]
		if !c.matches(x) {
			continue
		}
		if !found || x.conf > best {
			best, ev, found = x.conf, x.ev, true
		}
	}
	return best, ev, found
}

func (c *cond) matches(x *viewValue) bool {
	if len(c.equals) > 0 && !anyOf(c.equals, func(s string) bool { return x.lower == s }) {
		return false
	}
	if len(c.prefix) > 0 && !anyOf(c.prefix, func(s string) bool { return strings.HasPrefix(x.lower, s) }) {
		return false
	}
	if len(c.keywords) > 0 {
		if !x.normed {
			x.norm, x.camel, x.normed = normalize(x.value, false), normalize(x.value, true), true
		}
		if !anyOf(c.keywords, func(k string) bool { return hasWord(x.norm, k) || hasWord(x.camel, k) }) {
			return false
		}
	}
	return true
}

func anyOf(ss []string, f func(string) bool) bool {
	for _, s := range ss {
		if f(s) {
			return true
		}
	}
	return false
}

// normalize lower-cases s and turns every run of characters other than
// letters and digits into one space, so that "icu3/Infusion_Pump-07" reads
// "icu3 infusion pump 07". With camel, a lower-case letter followed by an
// upper-case one is also split ("PatientMonitor" → "patient monitor");
// both forms are tried, since splitting would break words such as "SpO2".
func normalize(s string, camel bool) string {
	var sb strings.Builder
	sb.Grow(len(s) + 1)
	sb.WriteByte(' ')
	prevLower := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if camel && prevLower && unicode.IsUpper(r) {
				sb.WriteByte(' ')
			}
			sb.WriteRune(unicode.ToLower(r))
			prevLower = unicode.IsLower(r)
		default:
			if b := sb.String(); b[len(b)-1] != ' ' {
				sb.WriteByte(' ')
			}
			prevLower = false
		}
	}
	out := strings.TrimSpace(sb.String())
	return out
}

// hasWord says whether keyword k (normalized) starts at a word boundary of
// text (normalized): "pump" is in "infusion pump 07" and in "pumps", not
// in "sump pump"'s "sump"; "spo2" is in "vitals spo2".
func hasWord(text, k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i+len(k) <= len(text); {
		j := strings.Index(text[i:], k)
		if j < 0 {
			return false
		}
		at := i + j
		if at == 0 || text[at-1] == ' ' {
			return true
		}
		_, n := utf8.DecodeRuneInString(text[at:])
		i = at + n
	}
	return false
}
