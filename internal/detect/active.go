package detect

import (
	"github.com/heir-emd/heir/internal/detect/webattack"
)

// active is the rule set in force, arranged for dispatch.
type active struct {
	rs   *RuleSet
	byID map[string]*rule

	states                                   map[string]*ruleState
	obsRules, weakRules, flowRules, arpRules []*ruleState
	flowStartRules                           []*ruleState
	findingRules                             []*rule

	portScan, hostSweep      *rule
	flood                    [3]*rule // syn, udp, icmp
	arpSpoof, arpStorm       *rule
	exfil                    *rule
	indicator, indicatorCert *rule
	web                      map[string]*rule // attack class → rule
}

// Flood packet kinds.
const (
	floodSYN = iota
	floodUDP
	floodICMP
)

// apply puts a rule set (and indicators) in force. State of field rules
// whose settings did not change carries over; open alerts of rules that
// are gone, disabled or changed are closed first.
func (e *Engine) apply(s *swap) {
	if s.ind != nil {
		e.ind = s.ind
	}
	rs := s.rs
	if rs == nil {
		if e.cur != nil {
			return
		}
		rs = DefaultRules()
	}
	old := e.cur
	a := &active{rs: rs, byID: rs.byID, states: map[string]*ruleState{}, web: map[string]*rule{}}
	// Close what no longer holds.
	if old != nil {
		for i := e.open.Len() - 1; i >= 0; i-- {
			inc := e.open.At(i)
			nr := rs.byID[inc.r.id]
			if nr == nil || !nr.enabled || nr.sig != inc.r.sig {
				e.closeIncident(inc)
			}
		}
		for i := range e.open.Len() {
			inc := e.open.At(i)
			inc.r = rs.byID[inc.r.id]
		}
		for k, inc := range e.keyed {
			if nr := rs.byID[inc.r.id]; nr != nil {
				inc.r = nr
			} else if !inc.Open() {
				delete(e.keyed, k)
			}
		}
	}
	for _, r := range rs.rules {
		if !r.enabled {
			continue
		}
		if r.detector != "" {
			switch r.detector {
			case "port-scan":
				a.portScan = r
			case "host-sweep":
				a.hostSweep = r
			case "flood":
				switch r.params.string_("packets") {
				case "syn":
					a.flood[floodSYN] = r
				case "udp":
					a.flood[floodUDP] = r
				case "icmp":
					a.flood[floodICMP] = r
				}
			case "arp-spoofing":
				a.arpSpoof = r
			case "arp-storm":
				a.arpStorm = r
			case "dicom-exfiltration":
				a.exfil = r
			case "indicator":
				a.indicator = r
			case "indicator-certificate":
				a.indicatorCert = r
			case "web-attack":
				for _, c := range r.params.strs("classes") {
					if a.web[c] == nil {
						a.web[c] = r
					}
				}
			}
			continue
		}
		if r.typ == TypeFinding {
			a.findingRules = append(a.findingRules, r)
			continue
		}
		var st *ruleState
		if old != nil {
			if prev := old.states[r.id]; prev != nil && prev.r.sig == r.sig {
				st = prev
				st.r = r
				for _, g := range st.groups {
					g.inc.r = r
				}
			}
		}
		if st == nil {
			st = newRuleState(r)
		}
		a.states[r.id] = st
		switch r.on {
		case OnObservation:
			a.obsRules = append(a.obsRules, st)
		case OnWeakness:
			a.weakRules = append(a.weakRules, st)
		case OnFlow:
			a.flowRules = append(a.flowRules, st)
		case OnFlowStart:
			a.flowStartRules = append(a.flowStartRules, st)
		case OnARP:
			a.arpRules = append(a.arpRules, st)
		}
	}
	e.cur = a
	cfg := webattack.Config{Enabled: map[string]bool{}}
	for c := range a.web {
		cfg.Enabled[c] = true
	}
	e.web.SetConfig(cfg)
	e.log.Debug("rules in force", "rules", rs.Name, "hash", rs.Hash, "count", len(rs.rules))
}
