package rama

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// An empty site file is the shipped config.
	p, err := ParseConfig("empty", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, c) {
		t.Error("an empty file does not give the shipped config")
	}
	// The shipped values the docs quote.
	if c.Bands != (BandsConfig{40, 70, 90}) || c.Vulnerabilities.KEVFloor != 75 || c.Alerts.HalfLife != "168h" ||
		c.Impact.Functions[FunctionMonitoring] != 0.85 || *c.Findings.Kinds["default-credentials"].Weight != 0.9 {
		t.Errorf("shipped values changed: %+v", c)
	}
	// Every role of the inventory's vocabulary (docs/inventory.md) has a
	// clinical function.
	for _, r := range []string{"network-gateway", "scanner", "pacs", "modality", "dicom-viewer", "hl7-engine", "hl7-sender",
		"fhir-server", "mqtt-broker", "infusion-pump", "patient-monitor", "ventilator", "medical-telemetry",
		"monitoring-station", "dhcp-server", "dns-server", "file-server", "web-server", "it-server", "workstation"} {
		if _, ok := c.Impact.Roles[r]; !ok {
			t.Errorf("role %s has no clinical function", r)
		}
	}
	// Every weakness kind of the sensor has a weight.
	for _, k := range []string{"cleartext-phi", "cleartext-credentials", "default-credentials", "obsolete-tls", "weak-cipher",
		"weak-certificate", "smbv1", "cleartext-login", "unauthenticated-access"} {
		if _, ok := c.Findings.Kinds[k]; !ok {
			t.Errorf("finding kind %s has no weight", k)
		}
	}
	if !strings.Contains(string(DefaultYAML()), "kev_floor: 75") {
		t.Error("DefaultYAML is not the shipped file")
	}
}

// A site file lists only what it changes.
func TestParseConfigOverlay(t *testing.T) {
	c, err := ParseConfig("site.yaml", []byte(`
vulnerabilities:
  kev_floor: 80
findings:
  kinds:
    smbv1: {weight: 0.8, enisa: [1, 14]}
    hardcoded-key: {weight: 0.7, enisa: [12]}
impact:
  roles:
    infusion-pump: {function: life-sustaining, phi: true}
alerts:
  half_life: 72h
`))
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	if c.Vulnerabilities.KEVFloor != 80 || c.Vulnerabilities.DefaultEPSS != def.Vulnerabilities.DefaultEPSS {
		t.Errorf("vulnerabilities %+v", c.Vulnerabilities)
	}
	if *c.Findings.Kinds["smbv1"].Weight != 0.8 || *c.Findings.Kinds["hardcoded-key"].Weight != 0.7 ||
		*c.Findings.Kinds["default-credentials"].Weight != 0.9 || len(c.Findings.Kinds) != len(def.Findings.Kinds)+1 {
		t.Errorf("kinds %v", c.Findings.Kinds)
	}
	if c.Impact.Roles["infusion-pump"].Function != FunctionLifeSustaining || c.Impact.Roles["pacs"].Function != FunctionDiagnosis {
		t.Errorf("roles %v", c.Impact.Roles)
	}
	if c.Alerts.HalfLife != "72h" || c.Alerts.Horizon != def.Alerts.Horizon {
		t.Errorf("alerts %+v", c.Alerts)
	}
	// The changed weights change scores.
	s, err := NewScorer(c)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Score(&Device{Role: "infusion-pump", Findings: []Finding{{Kind: "hardcoded-key"}}}, testAt)
	if r.Function != FunctionLifeSustaining || r.Inherent != 70 { // 100 × 0.7 × 1
		t.Errorf("%+v", r)
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"weight out of range", "findings:\n  kinds:\n    smbv1: {weight: 1.5, enisa: [1]}\n",
			"line 3: findings.kinds.smbv1.weight: 1.5 is outside [0, 1]"},
		{"missing weight in a replaced entry", "findings:\n  kinds:\n    smbv1: {enisa: [1]}\n",
			"line 3: findings.kinds.smbv1.weight: missing (a weight in [0, 1])"},
		{"unknown ENISA threat", "eol:\n  enisa: [1, 16]\n", "line 2: eol.enisa[1]: 16 is not an ENISA ETL 2018 threat (1–15)"},
		{"unknown key", "vulnerabilities:\n  kev_flor: 80\n", `line 2: vulnerabilities.kev_flor: unknown field "kev_flor"`},
		{"wrong type", "hospital:\n  top_k: many\n", `line 2: hospital.top_k: "many" is not a whole number`},
		{"wrong type in a list", "eol:\n  enisa: [1, x]\n", `line 2: eol.enisa[1]: "x" is not a whole number`},
		{"a table for a number", "max_part:\n  a: 1\n", `line 2: max_part: a table of keys is not a number`},
		{"bands out of order", "bands:\n  high: 95\n", "line 2: bands.critical: 90 must be above bands.high (95)"},
		{"impact order", "impact:\n  functions:\n    monitoring: 0.95\n",
			"line 3: impact.functions.monitoring: 0.95 must not exceed diagnosis (0.9)"},
		{"role without phi", "impact:\n  roles:\n    robot: {function: therapy}\n", "line 3: impact.roles.robot.phi: missing (true or false)"},
		{"unknown function", "impact:\n  roles:\n    robot: {function: surgery, phi: false}\n",
			`line 3: impact.roles.robot.function: "surgery" is not a clinical function (life-sustaining, therapy, diagnosis, monitoring, support)`},
		{"negative half-life", "alerts:\n  half_life: -1h\n", "line 2: alerts.half_life: -1h is outside (0, 87600h]"},
		{"bad duration", "alerts:\n  half_life: 7d\n", `line 2: alerts.half_life: "7d" is not a duration (Go syntax with h, m, s: 168h)`},
		{"top_k zero", "hospital:\n  top_k: 0\n", "line 2: hospital.top_k: 0 is outside [1, 100000]"},
		{"version", "version: 2\n", "line 1: version: 2 is not a known version (1)"},
		{"NaN", "vulnerabilities:\n  weight: .nan\n", "line 2: vulnerabilities.weight: NaN is outside [0, 1]"},
		{"max_part 1", "max_part: 1\n", "line 1: max_part: 1 is outside (0, 1)"},
		{"unknown status", "status:\n  wontfix: 1\n", "line 2: status.wontfix: unknown key (known: open, accepted, false-positive, fixed)"},
		{"control effect", "controls:\n  firewall: {vulnerabilities: 2}\n", "line 2: controls.firewall.vulnerabilities: 2 is outside [0, 1]"},
		{"syntax", "bands: [\n", "rama config syntax.yaml"},
		{"duplicate key", "max_part: 0.5\nmax_part: 0.6\n", "duplicate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(strings.ReplaceAll(c.name, " ", "-")+".yaml", []byte(c.yaml))
			if err == nil {
				t.Fatalf("accepted:\n%s", c.yaml)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nlacks %q", err, c.want)
			}
		})
	}
	// Several problems are all reported.
	_, err := ParseConfig("two.yaml", []byte("max_part: 2\nhospital:\n  top_k: 0\n"))
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Issues) != 2 || ce.Issues[0].Line != 1 || ce.Issues[1].Line != 3 {
		t.Errorf("%v", err)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rama.yaml")
	if err := os.WriteFile(p, []byte("hospital:\n  top_k: 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil || c.Hospital.TopK != 5 {
		t.Fatalf("%v %+v", err, c)
	}
	if _, err := LoadConfig(filepath.Join(dir, "none.yaml")); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing file: %v", err)
	}
	big := make([]byte, maxConfigBytes+10)
	for i := range big {
		big[i] = '#'
	}
	if err := os.WriteFile(p, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("large file: %v", err)
	}
}

// Parsing and changing a config never changes the shipped one.
func TestConfigCopies(t *testing.T) {
	c, err := ParseConfig("site", []byte("exposure:\n  internet: {weight: 0.1, enisa: [3]}\nimpact:\n  roles:\n    pacs: {function: support, phi: false}\n"))
	if err != nil {
		t.Fatal(err)
	}
	*c.Findings.Kinds["smbv1"].Weight = 0.01
	*c.Exposure.Peers.Weight = 0.01
	c.Vulnerabilities.ENISA[0] = 9
	*c.Impact.Roles["workstation"].PHI = true
	d := DefaultConfig()
	if *d.Findings.Kinds["smbv1"].Weight != 0.5 || *d.Exposure.Internet.Weight != 0.4 || *d.Exposure.Peers.Weight != 0.15 ||
		d.Vulnerabilities.ENISA[0] != 1 || *d.Impact.Roles["workstation"].PHI || d.Impact.Roles["pacs"].Function != FunctionDiagnosis {
		t.Error("the shipped config changed")
	}
	if !reflect.DeepEqual(d.Clone(), d) {
		t.Error("Clone differs")
	}
}
