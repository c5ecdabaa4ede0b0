package rama

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestSite(t *testing.T) {
	s, err := ParseSite("site.yaml", []byte(`
version: 1
rules:
  - match: {}
    flat_network: true
  - match: {role: infusion-pump}
    life_sustaining: true
  - match: {net: 10.20.0.0/16}
    flat_network: false
    controls: [{kind: segmentation}, {kind: nac, strength: 0.5}]
  - match: {id: mac-1}
    function: therapy
    phi: false
    internet: true
    controls: [{kind: virtual-patching, covers: [CVE-2019-0708]}]
  - match: {name: "pacs*", net: 10.20.1.5}
    phi: true
`))
	if err != nil {
		t.Fatal(err)
	}
	pump := &Device{ID: "mac-1", Role: "infusion-pump", PHI: true}
	s.Apply(pump, []netip.Addr{netip.MustParseAddr("10.20.3.4")})
	if !pump.LifeSustaining || pump.Exposure.FlatNetwork || !pump.Exposure.Internet || pump.Function != FunctionTherapy || pump.PHI ||
		len(pump.Controls) != 3 || pump.Controls[2].Covers[0] != "CVE-2019-0708" || pump.Controls[1].Strength != 0.5 {
		t.Errorf("pump %+v", pump)
	}
	pacs := &Device{ID: "mac-2", Name: "pacs01", Role: "pacs"}
	s.Apply(pacs, []netip.Addr{netip.MustParseAddr("::ffff:10.20.1.5")})
	if !pacs.PHI || pacs.LifeSustaining || len(pacs.Controls) != 2 || pacs.Exposure.FlatNetwork {
		t.Errorf("pacs %+v", pacs)
	}
	other := &Device{ID: "mac-3", Name: "pacs02", Role: "pacs"}
	s.Apply(other, []netip.Addr{netip.MustParseAddr("192.168.1.1")})
	if other.PHI || !other.Exposure.FlatNetwork || len(other.Controls) != 0 {
		t.Errorf("other %+v", other)
	}
	if e, err := ParseSite("empty", nil); err != nil || len(e.Rules) != 0 {
		t.Errorf("empty: %v", err)
	}
}

func TestSiteErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"bad net", "version: 1\nrules:\n  - match: {net: 10.20.0.0/33}\n", `line 3: rules[0].match.net: "10.20.0.0/33" is not an address or CIDR prefix`},
		{"bad function", "version: 1\nrules:\n  - function: surgery\n", `line 3: rules[0].function: "surgery" is not a clinical function`},
		{"control without kind", "version: 1\nrules:\n  - controls: [{strength: 0.5}]\n", `line 3: rules[0].controls[0].kind: missing`},
		{"strength", "version: 1\nrules:\n  - controls: [{kind: nac, strength: 2}]\n", `line 3: rules[0].controls[0].strength: 2 is outside [0, 1]`},
		{"bad pattern", "version: 1\nrules:\n  - match: {name: \"[\"}\n", `rules[0].match.name: "[" is not a valid pattern`},
		{"unknown key", "version: 1\nrules:\n  - lifesustaining: true\n", `line 3: rules[0].lifesustaining: unknown field`},
		{"no version", "rules: []\n", "version: 0 is not a known version (1)"},
	}
	for _, c := range cases {
		_, err := ParseSite("site.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "rama site site.yaml") {
			t.Errorf("%s: %v\nwant %q", c.name, err, c.want)
		}
	}
	_, err := ParseSite("site.yaml", []byte("version: 2\nrules:\n  - function: x\n"))
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Issues) != 2 {
		t.Errorf("%v", err)
	}
}

func FuzzParseSite(f *testing.F) {
	f.Add([]byte("version: 1\nrules:\n  - match: {role: infusion-pump, net: 10.0.0.0/8, name: 'pump-*'}\n    life_sustaining: true\n    controls: [{kind: segmentation, covers: [CVE-1]}]\n"))
	f.Add([]byte("version: 1\nrules: [{match: {id: x}, phi: true, internet: false, flat_network: true, function: therapy}]\n"))
	f.Add([]byte("rules:\n  - match: {net: '::1'}\n"))
	addrs := []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("fd00::1")}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSite("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "rama site fuzz.yaml") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		d := &Device{ID: "x", Name: "pump-1", Role: "infusion-pump"}
		s.Apply(d, addrs)
		n := 0
		for _, r := range s.Rules {
			n += len(r.Controls)
		}
		if len(d.Controls) > n || (d.Function != "" && !slices.Contains(functions[:], d.Function)) {
			t.Fatalf("applied %+v from %+v", d, s)
		}
	})
}
