package vuln

import (
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// RiskVuln is one vulnerability of a device as RAMA reads it; its fields
// are those of rama.Vulnerability (plus the match's confidence), so the
// composition root copies them one to one.
type RiskVuln struct {
	CVE            string   `json:"cve"`
	CVSS           float64  `json:"cvss,omitempty"` // base score; 0 when not scored
	Vector         string   `json:"vector,omitempty"`
	EPSS           *float64 `json:"epss,omitempty"`
	EPSSPercentile *float64 `json:"epss_percentile,omitempty"`
	KEV            bool     `json:"kev,omitempty"`
	Ransomware     bool     `json:"ransomware,omitempty"` // KEV: known ransomware use
	// Status is event.StateOpen, or the analyst's decision
	// (event.StateAccepted, event.StateFalsePositive).
	Status     string  `json:"status"`
	Component  string  `json:"component,omitempty"` // what on the device matched
	Confidence float64 `json:"confidence"`          // how sure the match is, (0, 1]
}

// RiskEOL is one end-of-life check of a device.
type RiskEOL struct {
	Name        string    `json:"name"` // the device's text: "Windows 7 Professional SP1"
	Product     string    `json:"product"`
	Cycle       string    `json:"cycle"`
	EOL         time.Time `json:"eol,omitzero"`
	Unsupported bool      `json:"unsupported"`
}

// DeviceRisk is what RAMA needs from matching for one device: each
// vulnerability once (its best match), those a VEX or CSAF statement
// declares not affecting the device left out, and the end-of-life checks.
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
		if m.Suppressed != nil {
			continue
		}
		rv := RiskVuln{CVE: m.CVE, CVSS: m.CVSS, Vector: m.CVSSVector, KEV: m.KEV, Ransomware: m.Ransomware,
			Status: event.StateOpen, Confidence: m.Confidence}
		if len(m.Evidence) > 0 {
			rv.Component = m.Evidence[0].DeviceValue
		}
		if m.Decision != nil {
			switch m.Decision.State {
			case DecisionAccepted:
				rv.Status = event.StateAccepted
			case DecisionFalsePositive:
				rv.Status = event.StateFalsePositive
			}
		}
		if m.EPSS != nil {
			s, p := m.EPSS.Score, m.EPSS.Percentile
			rv.EPSS, rv.EPSSPercentile = &s, &p
		}
		if j, ok := idx[m.CVE]; ok {
			// The open match of highest confidence speaks for the CVE.
			cur := out.Vulns[j]
			if (cur.Status != event.StateOpen && rv.Status == event.StateOpen) || (cur.Status == rv.Status && rv.Confidence > cur.Confidence) {
				out.Vulns[j] = rv
			}
			continue
		}
		idx[m.CVE] = len(out.Vulns)
		out.Vulns = append(out.Vulns, rv)
	}
	for _, e := range r.EOL {
		out.EOL = append(out.EOL, RiskEOL{Name: e.Value, Product: e.Product, Cycle: e.Cycle, EOL: e.EOL, Unsupported: e.Unsupported})
	}
	return out
}
