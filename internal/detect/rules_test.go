package detect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/taxonomy"
)

// A rule file to build broken variants of.
const okRule = `version: 1
rules:
  - id: brute
    title: Guessing against {target}
    category: credential-access
    severity: high
    mapping: brute-force
    on: observation
    where: {kind: login, detail.outcome: failure}
    group_by: [src.ip, dst.ip]
    window: 2m
    threshold: {count: 5}
    remediation: block it
`

func TestParseRulesOK(t *testing.T) {
	rs, err := ParseRules("ok.yaml", []byte(okRule))
	if err != nil {
		t.Fatal(err)
	}
	ri := rs.Rules()
	if len(ri) != 1 || ri[0].ID != "brute" || ri[0].On != OnObservation || len(ri[0].Tags) == 0 || !ri[0].Enabled {
		t.Fatalf("rules %+v", ri)
	}
}

// Every broken file is refused with the file, line and column of the
// problem and a message that says what is wrong.
func TestParseRulesErrors(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"yaml syntax", "version: 1\nrules:\n  - id: x\n    title: [unclosed\n", "bad.yaml:4:"},
		{"not a mapping", "- a\n- b\n", "bad.yaml:1:1: a rule file is a mapping"},
		{"version", strings.Replace(okRule, "version: 1", "version: 2", 1), "bad.yaml:1:10: version must be 1"},
		{"unknown top key", okRule + "extra: 1\n", "bad.yaml:14:1: unknown key \"extra\" in the rule file"},
		{"unknown rule key", strings.Replace(okRule, "    window: 2m", "    windw: 2m", 1), "bad.yaml:11:5: unknown key \"windw\" in a rule"},
		{"severity", strings.Replace(okRule, "severity: high", "severity: urgent", 1), "bad.yaml:6:15: severity must be low, medium, high or critical"},
		{"duration", strings.Replace(okRule, "window: 2m", "window: 2 minutes", 1), "bad.yaml:11:13: window: \"2 minutes\" is not a duration"},
		{"unknown field", strings.Replace(okRule, "kind: login", "knd: login", 1), "bad.yaml:9:13: unknown field \"knd\" for observation events"},
		{"unknown operator", strings.Replace(okRule, "detail.outcome: failure", "detail.outcome: {like: fail}", 1), "bad.yaml:9:43: unknown operator \"like\""},
		{"count", strings.Replace(okRule, "count: 5", "count: many", 1), "bad.yaml:12:24: count must be a whole number"},
		{"duplicate id", okRule + strings.SplitN(okRule, "rules:\n", 2)[1], "bad.yaml:14:9: rule id \"brute\" is used twice (first at line 3)"},
		{"bad id", strings.Replace(okRule, "id: brute", "id: Brute Force", 1), "bad.yaml:3:9: rule id \"Brute Force\" must be lower-case"},
		{"unknown mapping", strings.Replace(okRule, "mapping: brute-force", "mapping: bruteforce", 1), "bad.yaml:7:14: unknown mapping \"bruteforce\""},
		{"no tags", strings.Replace(okRule, "    mapping: brute-force\n", "", 1), "bad.yaml:3:5: rule \"brute\" has no taxonomy tags"},
		{"unknown ENISA id", strings.Replace(okRule, "    mapping: brute-force\n", "    tags: [{taxonomy: enisa-etl-2018, id: 16, reason: x}]\n", 1), "bad.yaml:7:43: enisa-etl-2018 has no entry \"16\""},
		{"unknown taxonomy", strings.Replace(okRule, "    mapping: brute-force\n", "    tags: [{taxonomy: owasp-2017, id: A1, reason: x}]\n", 1), "bad.yaml:7:23: unknown taxonomy \"owasp-2017\""},
		{"tag without reason", strings.Replace(okRule, "    mapping: brute-force\n", "    tags: [{taxonomy: attack, id: T1110}]\n", 1), "bad.yaml:7:13: missing reason"},
		{"template", strings.Replace(okRule, "Guessing against {target}", "Guessing against {victim}", 1), "bad.yaml:4:12: title: unknown placeholder {victim}"},
		{"unknown detector", strings.Replace(okRule, "    on: observation\n", "    detector: portscan\n", 1), "bad.yaml:8:15: unknown detector \"portscan\""},
		{"detector param", "version: 1\nrules:\n  - id: ps\n    title: scan\n    category: reconnaissance\n    severity: low\n    mapping: port-scan\n    remediation: x\n    detector: port-scan\n    params: {min_ports: -3}\n", "bad.yaml:10:25: min_ports must be a whole number from 1, found the number -3"},
		{"detector unknown param", "version: 1\nrules:\n  - id: ps\n    title: scan\n    category: reconnaissance\n    severity: low\n    mapping: port-scan\n    remediation: x\n    detector: port-scan\n    params: {min_portz: 3}\n", "bad.yaml:10:14: unknown param \"min_portz\" for detector port-scan"},
		{"anchor", strings.Replace(okRule, "remediation: block it", "remediation: &r block it", 1), "bad.yaml:13:18: YAML anchors and aliases are not allowed"},
		{"cidr", strings.Replace(okRule, "kind: login", "src.ip: {cidr: 10.0.0.0/33}", 1), "bad.yaml:9:28: \"10.0.0.0/33\" is not an address or CIDR block"},
		{"regexp", strings.Replace(okRule, "kind: login", "detail.user: {matches: \"(\"}", 1), "bad.yaml:9:36: bad regular expression"},
		{"finding with threshold", "version: 1\nrules:\n  - id: f\n    type: finding\n    title: x\n    severity: low\n    mapping: smbv1\n    remediation: x\n    on: weakness\n    threshold: {count: 2}\n", "bad.yaml:10:17: threshold does not apply to a finding rule"},
		{"empty", "", "bad.yaml:1:1: a rule file is a mapping"},
	}
	for _, c := range cases {
		_, err := ParseRules("bad.yaml", []byte(c.file))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error\n  %v\nwant it to contain\n  %s", c.name, err, c.want)
		}
		var re *RuleError
		var res RuleErrors
		if !errors.As(err, &re) && !errors.As(err, &res) {
			t.Errorf("%s: error of type %T", c.name, err)
		}
	}
}

// Several problems are all reported, each with its place.
func TestParseRulesReportsEveryError(t *testing.T) {
	f := strings.Replace(strings.Replace(okRule, "severity: high", "severity: urgent", 1), "window: 2m", "window: soon", 1)
	_, err := ParseRules("bad.yaml", []byte(f))
	var res RuleErrors
	if !errors.As(err, &res) || len(res) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
}

// The shipped rules: every rule maps to at least one ENISA threat and to
// an OWASP category where one applies (the mapping says when none does),
// every tag exists in its catalogue, every built-in detector and every
// weakness kind the dissectors report is covered.
func TestShippedRulesTaxonomy(t *testing.T) {
	rs := DefaultRules()
	cat := taxonomy.New()
	detectors := map[string]bool{}
	for _, r := range rs.Rules() {
		has := map[string]bool{}
		for _, tag := range r.Tags {
			has[tag.Taxonomy] = true
			e, ok := cat.Lookup(tag.Taxonomy, tag.ID)
			if !ok || e.Name != tag.Name || tag.Reason == "" {
				t.Errorf("%s: tag %+v not in the catalogue or without reason", r.ID, tag)
			}
		}
		if !has[taxonomy.ENISA] {
			t.Errorf("%s: no ENISA threat", r.ID)
		}
		m, ok := cat.Mapping(r.Mapping)
		if !ok {
			t.Errorf("%s: no mapping class", r.ID)
		} else if !has[taxonomy.OWASP] && m.NoOWASP == "" {
			t.Errorf("%s: no OWASP category and its mapping does not say why none applies", r.ID)
		}
		if r.Remediation == "" || r.Title == "" {
			t.Errorf("%s: no title or remediation", r.ID)
		}
		if r.Type == TypeAlert && r.Category == "" {
			t.Errorf("%s: alert without category", r.ID)
		}
		detectors[r.Detector] = true
	}
	for d := range detectorSpecs() {
		if !detectors[d] {
			t.Errorf("built-in detector %s has no shipped rule", d)
		}
	}
	// Each weakness kind of docs/events.md becomes a finding.
	e, c := newTestEngine(t, Config{})
	for _, k := range []event.WeaknessKind{event.WeakCleartextPHI, event.WeakCleartextCredentials, event.WeakDefaultCredentials,
		event.WeakObsoleteTLS, event.WeakCipher, event.WeakCertificate, event.WeakSMBv1, event.WeakCleartextLogin, event.WeakUnauthenticated} {
		o := obs(t0, "10.0.0.1", 40000, "10.0.0.2", 443, "tls", "x", nil)
		o.Weaknesses = []event.Weakness{{Kind: k, About: event.AboutDst, Detail: "d"}}
		e.Observe(o)
	}
	if st := e.Stats(); st.UnmatchedWeaknesses != 0 || len(c.Findings()) != 9 {
		t.Errorf("unmatched %d, findings %d", st.UnmatchedWeaknesses, len(c.Findings()))
	}
}

// DefaultRulesYAML is what DefaultRules compiles, so users can start from
// it.
func TestDefaultRulesText(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(p, []byte(DefaultRulesYAML()), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := LoadRules(p)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Hash != DefaultRules().Hash || len(rs.Rules()) < 30 {
		t.Errorf("hash %s vs %s, %d rules", rs.Hash, DefaultRules().Hash, len(rs.Rules()))
	}
}
