package taxonomy

import (
	"regexp"
	"strconv"
	"testing"
)

// The published sizes and id shapes of each list: a catalogue that lost or
// gained an item, or mistyped an id, fails here.
func TestCatalogueShapes(t *testing.T) {
	c := New()
	cases := []struct {
		tax  string
		n    int
		id   *regexp.Regexp
		want map[string]string // spot checks against the published lists
	}{
		{ENISA, 15, regexp.MustCompile(`^([1-9]|1[0-5])$`), map[string]string{
			"1": "Malware", "5": "Denial of service", "11": "Information leakage", "15": "Cyber espionage"}},
		{OWASP, 10, regexp.MustCompile(`^A(0[1-9]|10)$`), map[string]string{
			"A02": "Cryptographic Failures", "A03": "Injection", "A07": "Identification and Authentication Failures"}},
		{OWASP2025, 10, regexp.MustCompile(`^A(0[1-9]|10)$`), map[string]string{
			"A02": "Security Misconfiguration", "A03": "Software Supply Chain Failures", "A05": "Injection",
			"A10": "Mishandling of Exceptional Conditions"}},
		{OWASPIoT, 10, regexp.MustCompile(`^I([1-9]|10)$`), map[string]string{
			"I1": "Weak, Guessable, or Hardcoded Passwords", "I7": "Insecure Data Transfer and Storage"}},
		{ATTACK, -1, regexp.MustCompile(`^T[01]\d{3}(\.\d{3})?$`), map[string]string{
			"T1046": "Network Service Discovery", "T1110": "Brute Force", "T1557.002": "Adversary-in-the-Middle: ARP Cache Poisoning",
			"T0846": "Remote System Discovery"}},
	}
	for _, tc := range cases {
		es := c.Entries(tc.tax)
		if tc.n >= 0 && len(es) != tc.n {
			t.Errorf("%s: %d entries, want %d", tc.tax, len(es), tc.n)
		}
		seen := map[string]bool{}
		for i, e := range es {
			if !tc.id.MatchString(e.ID) {
				t.Errorf("%s: bad id %q", tc.tax, e.ID)
			}
			if seen[e.ID] {
				t.Errorf("%s: duplicate id %q", tc.tax, e.ID)
			}
			seen[e.ID] = true
			if e.Name == "" {
				t.Errorf("%s %s: no name", tc.tax, e.ID)
			}
			// ENISA ids are the published rank: the order is the list.
			if tc.tax == ENISA && e.ID != strconv.Itoa(i+1) {
				t.Errorf("ENISA entry %d has id %s", i+1, e.ID)
			}
		}
		for id, name := range tc.want {
			e, ok := c.Lookup(tc.tax, id)
			if !ok || e.Name != name {
				t.Errorf("%s %s = %q, %v; want %q", tc.tax, id, e.Name, ok, name)
			}
		}
	}
}

func TestTagRefusesUnknown(t *testing.T) {
	c := New()
	if _, err := c.Tag(ENISA, "16", ""); err == nil {
		t.Error("ENISA 16 accepted")
	}
	if _, err := c.Tag("owasp-2017", "A01", ""); err == nil {
		t.Error("unknown taxonomy accepted")
	}
	if _, err := c.Tag(ATTACK, "T9999", ""); err == nil {
		t.Error("unknown technique accepted")
	}
	tag, err := c.Tag(ATTACK, "t1046", "why")
	if err != nil || tag.ID != "T1046" || tag.Name != "Network Service Discovery" || tag.Reason != "why" {
		t.Errorf("Tag(t1046) = %+v, %v", tag, err)
	}
}

// Every mapping names at least one ENISA threat, an OWASP 2021 category
// (with its 2025 counterpart) unless it says why none applies, only ids
// that exist, and a reason for every tag.
func TestMappings(t *testing.T) {
	c := New()
	ms := c.Mappings()
	if len(ms) < 15 {
		t.Fatalf("only %d mappings", len(ms))
	}
	for _, m := range ms {
		has := map[string]int{}
		for _, tag := range m.Tags {
			has[tag.Taxonomy]++
			e, ok := c.Lookup(tag.Taxonomy, tag.ID)
			if !ok || e.Name != tag.Name {
				t.Errorf("%s: tag %s/%s %q not in the catalogue", m.Class, tag.Taxonomy, tag.ID, tag.Name)
			}
			if tag.Reason == "" {
				t.Errorf("%s: tag %s/%s has no reason", m.Class, tag.Taxonomy, tag.ID)
			}
		}
		if has[ENISA] == 0 {
			t.Errorf("%s: no ENISA threat", m.Class)
		}
		switch {
		case m.NoOWASP == "" && has[OWASP] == 0:
			t.Errorf("%s: no OWASP 2021 category and no reason why none applies", m.Class)
		case m.NoOWASP != "" && (has[OWASP] > 0 || has[OWASP2025] > 0):
			t.Errorf("%s: says no OWASP category applies but has one", m.Class)
		case has[OWASP] > 0 && has[OWASP2025] == 0:
			t.Errorf("%s: OWASP 2021 without its 2025 counterpart", m.Class)
		}
	}
	if _, ok := c.Mapping("no-such-class"); ok {
		t.Error("unknown class found")
	}
	// Mapping returns a copy: changing it does not change the catalogue.
	m, _ := c.Mapping("port-scan")
	m.Tags[0].ID = "99"
	if again, _ := c.Mapping("port-scan"); again.Tags[0].ID == "99" {
		t.Error("Mapping shares its tags")
	}
}

// The starting table of the design notes, row by row: the mapping keeps
// every tag it asked for, except the corrections docs/taxonomy.md lists.
func TestMappingKeepsDesignTable(t *testing.T) {
	c := New()
	want := map[string][]string{
		"cleartext-phi":       {"enisa-etl-2018/11", "enisa-etl-2018/8", "owasp-2021/A02", "owasp-iot-2018/I7", "owasp-iot-2018/I6", "attack/T1040"},
		"default-credentials": {"enisa-etl-2018/12", "owasp-2021/A07", "owasp-iot-2018/I1", "owasp-iot-2018/I9", "attack/T1078.001"},
		"cleartext-login":     {"enisa-etl-2018/11", "owasp-2021/A02", "owasp-2021/A07", "owasp-iot-2018/I2", "owasp-iot-2018/I7", "attack/T1040"},
		"weak-tls":            {"enisa-etl-2018/11", "owasp-2021/A02", "owasp-iot-2018/I5", "owasp-iot-2018/I7", "attack/T1557"},
		"smbv1":               {"enisa-etl-2018/1", "enisa-etl-2018/14", "owasp-2021/A06", "owasp-iot-2018/I5", "owasp-iot-2018/I4", "attack/T1210"},
		"port-scan":           {"enisa-etl-2018/15", "owasp-iot-2018/I2", "attack/T1046", "attack/T0846"},
		"brute-force":         {"enisa-etl-2018/12", "owasp-2021/A07", "owasp-iot-2018/I1", "attack/T1110.001"},
		"network-flood":       {"enisa-etl-2018/5", "enisa-etl-2018/7", "owasp-iot-2018/I2", "attack/T1498.001"},
		"service-flood":       {"enisa-etl-2018/5", "enisa-etl-2018/7", "owasp-iot-2018/I2", "attack/T1499.002"},
		"web-injection":       {"enisa-etl-2018/3", "owasp-2021/A03", "owasp-iot-2018/I3", "attack/T1190"},
		"known-bad-peer":      {"enisa-etl-2018/1", "enisa-etl-2018/7", "attack/T1071"},
		"dicom-exfiltration":  {"enisa-etl-2018/8", "enisa-etl-2018/15", "owasp-2021/A01", "owasp-iot-2018/I3"},
	}
	for class, tags := range want {
		m, ok := c.Mapping(class)
		if !ok {
			t.Errorf("no mapping %s", class)
			continue
		}
		have := map[string]bool{}
		for _, tag := range m.Tags {
			have[tag.Taxonomy+"/"+tag.ID] = true
		}
		for _, w := range tags {
			if !have[w] {
				t.Errorf("%s lacks %s", class, w)
			}
		}
	}
}
