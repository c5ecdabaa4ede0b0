package vuln

import "time"

// RiskVuln is one vulnerability of a device as RAMA reads it.
type RiskVuln struct {
	CVE        string  `json:"cve"`
	CVSS       float64 `json:"cvss"`       // base score, 0 when unknown
	CVSSKnown  bool    `json:"cvss_known"` // false: RAMA applies its default
	EPSS       float64 `json:"epss"`
	EPSSKnown  bool    `json:"epss_known"`
	KEV        bool    `json:"kev"`
	Confidence float64 `json:"confidence"` // how sure the match is, (0, 1]
	Accepted   bool    `json:"accepted"`   // an analyst accepted the risk
}

// RiskEOL is one end-of-life component of a device.
type RiskEOL struct {
	Product     string    `json:"product"`
	Cycle       string    `json:"cycle"`
	EOL         time.Time `json:"eol,omitzero"`
	Unsupported bool      `json:"unsupported"`
}

// DeviceRisk is what RAMA needs from matching for one device: each
// vulnerability once (its best match), suppressed and false-positive
// matches left out, and the end-of-life flags.
type DeviceRisk struct {
	Device string     `json:"device"`
	Vulns  []RiskVuln `json:"vulns"`
	EOL    []RiskEOL  `json:"eol,omitempty"`
}

// Risk turns a device's matching result into RAMA's input.
func (r *DeviceResult) Risk() DeviceRisk {
	out := DeviceRisk{Device: r.Device}
	idx := map[string]int{}
	for i := range r.Matches {
		m := &r.Matches[i]
		if !m.Active() {
			continue
		}
		rv := RiskVuln{CVE: m.CVE, CVSS: m.CVSS, CVSSKnown: m.CVSSVector != "", KEV: m.KEV, Confidence: m.Confidence,
			Accepted: m.Decision != nil && m.Decision.State == DecisionAccepted}
		if m.EPSS != nil {
			rv.EPSS, rv.EPSSKnown = m.EPSS.Score, true
		}
		if j, ok := idx[m.CVE]; ok {
			if rv.Confidence > out.Vulns[j].Confidence {
				out.Vulns[j] = rv
			}
			continue
		}
		idx[m.CVE] = len(out.Vulns)
		out.Vulns = append(out.Vulns, rv)
	}
	for _, e := range r.EOL {
		out.EOL = append(out.EOL, RiskEOL{Product: e.Product, Cycle: e.Cycle, EOL: e.EOL, Unsupported: e.Unsupported})
	}
	return out
}
