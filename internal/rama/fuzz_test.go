package rama

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// FuzzParseConfig: any input is either refused with a message naming the
// config, or gives a config the scorer accepts and whose scores stay in
// [0, 100].
func FuzzParseConfig(f *testing.F) {
	f.Add(DefaultYAML())
	for _, s := range []string{
		"",
		"vulnerabilities:\n  kev_floor: 80\n",
		"findings:\n  kinds:\n    smbv1: {weight: 0.8, enisa: [1, 14]}\n",
		"impact:\n  roles:\n    robot: {function: therapy, phi: true}\n",
		"alerts:\n  half_life: 72h\n  horizon: 0s\n",
		"controls:\n  firewall: {vulnerabilities: 0.4, network_only: true}\n",
		"bands: {medium: 1, high: 2, critical: 3}\n",
		"hospital: {top_k: 1, share_weight: 1, share_saturation: 1}\n",
		"max_part: 1e-300\n",
		"a: &x [*x]\n",
		"eol:\n  enisa: &e [1]\nvulnerabilities:\n  enisa: *e\n",
		"eol:\n  enisa: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
		"- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - x\n",
		"bands: {medium: '#[', high: \"{\\\"\", critical: 90} # [[[\n",
		"findings:\n  kinds:\n    ? [a]\n    : 1\n",
		"status: {open: 0.5}\nexposure: {peers: {weight: 1, saturation: 1, enisa: []}}\n",
	} {
		f.Add([]byte(s))
	}
	dev := &Device{ID: "d", Role: "robot", Vulnerabilities: []Vulnerability{{ID: "CVE-A", CVSS: 9.8, KEV: true}},
		Findings: []Finding{{Kind: "smbv1"}, {Kind: "x"}}, EOL: []EOLComponent{{Name: "os", EOL: testAt.AddDate(-1, 0, 0)}},
		Alerts:   []Alert{{Time: testAt, Category: "malware", Severity: "high"}},
		Exposure: Exposure{Internet: true, FlatNetwork: true, Peers: 40}, Controls: []Control{{Kind: "firewall"}, {Kind: "segmentation"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "rama config fuzz.yaml") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		s, err := NewScorer(c)
		if err != nil {
			t.Fatalf("parsed config refused by the scorer: %v", err)
		}
		r := s.Score(dev, testAt)
		if !(r.Residual >= 0 && r.Residual <= r.Inherent && r.Inherent <= 100) {
			t.Fatalf("scores %v %v", r.Inherent, r.Residual)
		}
		b := s.Explain(dev, testAt)
		var sum float64
		for _, it := range b.Items {
			sum += it.ResidualPoints
		}
		if math.Abs(sum-max(b.ResidualFormula, b.ResidualFloor)) > 1e-6 {
			t.Fatalf("points %v, residual %v", sum, b.ResidualFormula)
		}
	})
}

// FuzzScoreDevice: any device (as JSON) scores within bounds, with points
// adding up.
func FuzzScoreDevice(f *testing.F) {
	for _, d := range variedDevices(20, 99) {
		b, _ := json.Marshal(d)
		f.Add(b)
	}
	f.Add([]byte(`{"id":"x","vulnerabilities":[{"id":"a","cvss":1e308,"epss":-1,"kev":true}],"exposure":{"peers":-5}}`))
	s, err := NewScorer(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Device
		if json.Unmarshal(data, &d) != nil {
			return
		}
		r := s.Score(&d, testAt)
		if !(r.Residual >= 0 && r.Residual <= r.Inherent && r.Inherent <= 100) {
			t.Fatalf("scores %v %v", r.Inherent, r.Residual)
		}
		b := s.Explain(&d, testAt)
		if b.Residual != r.Residual || b.Inherent != r.Inherent {
			t.Fatalf("explain %v/%v, score %v/%v", b.Inherent, b.Residual, r.Inherent, r.Residual)
		}
		var sum float64
		for _, it := range b.Items {
			sum += it.ResidualPoints
		}
		if math.Abs(sum-max(b.ResidualFormula, b.ResidualFloor)) > 1e-6 {
			t.Fatalf("points %v, residual %v", sum, b.ResidualFormula)
		}
	})
}
