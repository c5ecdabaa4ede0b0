package rama

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
)

// Site holds what the hospital declares about its devices and the sensor
// cannot see: clinical functions, life-sustaining devices, patient data,
// exposure and compensating controls. It is a YAML file (docs/rama.md):
//
//	version: 1
//	rules:
//	  - match: {role: infusion-pump}
//	    life_sustaining: true
//	  - match: {net: 10.20.0.0/16}
//	    flat_network: false
//	    controls: [{kind: segmentation}, {kind: nac}]
//	  - match: {id: mac-024d4c000032}
//	    controls: [{kind: virtual-patching, covers: [CVE-2019-0708]}]
//
// Every rule whose match holds applies, in file order: a later rule's
// values override an earlier one's, controls add up.
type Site struct {
	Version int        `yaml:"version"`
	Rules   []SiteRule `yaml:"rules"`
}

// SiteRule is one declaration and the devices it is about.
type SiteRule struct {
	Match          SiteMatch `yaml:"match"`
	Function       Function  `yaml:"function"`
	LifeSustaining *bool     `yaml:"life_sustaining"`
	PHI            *bool     `yaml:"phi"`
	Internet       *bool     `yaml:"internet"`
	FlatNetwork    *bool     `yaml:"flat_network"`
	Controls       []Control `yaml:"controls"`
}

// SiteMatch selects devices; every field given must hold, and an empty
// match holds for every device. Name is a shell pattern (path.Match); Net
// an address or CIDR prefix one of the device's addresses is in (a Site
// must come from ParseSite for Net to work).
type SiteMatch struct {
	ID   string `yaml:"id"`
	Role string `yaml:"role"`
	Name string `yaml:"name"`
	Net  string `yaml:"net"`

	prefix netip.Prefix
}

// maxSiteBytes bounds a site file.
const maxSiteBytes = 4 << 20

// LoadSite reads and validates a site file.
func LoadSite(file string) (*Site, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("rama site: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSiteBytes+1))
	if err != nil {
		return nil, fmt.Errorf("rama site %s: %w", file, err)
	}
	return ParseSite(file, data)
}

// ParseSite parses and validates a site file; name labels errors.
func ParseSite(name string, data []byte) (*Site, error) {
	if len(data) > maxSiteBytes {
		return nil, fmt.Errorf("rama site %s: larger than %d bytes", name, maxSiteBytes)
	}
	if err := checkYAML(data); err != nil {
		return nil, fmt.Errorf("rama site %s: %w", name, err)
	}
	var s Site
	if len(bytes.TrimSpace(data)) > 0 {
		if err := decodeYAML(data, &s); err != nil {
			return nil, fmt.Errorf("rama site %s: %s", name, decodeMessage(data, err))
		}
	} else {
		s.Version = 1
	}
	v := &validator{}
	if s.Version != 1 {
		v.add("version", "%d is not a known version (1)", s.Version)
	}
	for i := range s.Rules {
		r := &s.Rules[i]
		p := fmt.Sprintf("rules[%d]", i)
		if r.Match.Net != "" {
			pf, err := netip.ParsePrefix(r.Match.Net)
			if err != nil {
				if a, aerr := netip.ParseAddr(r.Match.Net); aerr == nil {
					pf = netip.PrefixFrom(a, a.BitLen())
				} else {
					v.add(p+".match.net", "%q is not an address or CIDR prefix", r.Match.Net)
				}
			}
			r.Match.prefix = pf.Masked()
		}
		if r.Match.Name != "" {
			if _, err := path.Match(r.Match.Name, ""); err != nil {
				v.add(p+".match.name", "%q is not a valid pattern: %v", r.Match.Name, err)
			}
		}
		if r.Function != "" && !knownFunction(r.Function) {
			v.add(p+".function", "%q is not a clinical function (life-sustaining, therapy, diagnosis, monitoring, support)", r.Function)
		}
		for j, c := range r.Controls {
			cp := fmt.Sprintf("%s.controls[%d]", p, j)
			if c.Kind == "" {
				v.add(cp+".kind", "missing")
			}
			if c.Strength < 0 || c.Strength > 1 || c.Strength != c.Strength {
				v.add(cp+".strength", "%v is outside [0, 1]", c.Strength)
			}
		}
	}
	if len(v.issues) > 0 {
		ce := &ConfigError{Name: name, Issues: v.issues}
		ce.locate(data)
		return nil, &SiteError{ce}
	}
	return &s, nil
}

// SiteError lists every problem of a site file.
type SiteError struct{ *ConfigError }

func (e *SiteError) Error() string {
	msg := e.ConfigError.Error()
	return "rama site" + msg[len("rama config"):]
}

// Unwrap lets errors.As find the *ConfigError.
func (e *SiteError) Unwrap() error { return e.ConfigError }

// Apply applies the site's declarations to d, whose addresses are addrs.
// It checks nothing against the scoring config: a control kind the config
// does not know is listed in the device's explanation as ignored.
func (s *Site) Apply(d *Device, addrs []netip.Addr) {
	for i := range s.Rules {
		r := &s.Rules[i]
		if !r.Match.holds(d, addrs) {
			continue
		}
		if r.Function != "" {
			d.Function = r.Function
		}
		if r.LifeSustaining != nil {
			d.LifeSustaining = *r.LifeSustaining
		}
		if r.PHI != nil {
			d.PHI = *r.PHI
		}
		if r.Internet != nil {
			d.Exposure.Internet = *r.Internet
		}
		if r.FlatNetwork != nil {
			d.Exposure.FlatNetwork = *r.FlatNetwork
		}
		d.Controls = append(d.Controls, r.Controls...)
	}
}

func (m *SiteMatch) holds(d *Device, addrs []netip.Addr) bool {
	if m.ID != "" && m.ID != d.ID {
		return false
	}
	if m.Role != "" && m.Role != d.Role {
		return false
	}
	if m.Name != "" {
		if ok, _ := path.Match(m.Name, d.Name); !ok {
			return false
		}
	}
	if m.Net != "" {
		if !m.prefix.IsValid() {
			return false
		}
		in := false
		for _, a := range addrs {
			if m.prefix.Contains(a.Unmap()) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	return true
}
