package rama

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Breakdown explains one device's score: every likelihood part with the
// points it brings, the impact, and what each control takes off.
type Breakdown struct {
	V      int       `json:"v"`
	Type   string    `json:"type"`
	Device string    `json:"device"`
	Name   string    `json:"name,omitempty"`
	Role   string    `json:"role,omitempty"`
	At     time.Time `json:"at"`
	Result
	// FunctionSource says where the clinical function came from: role,
	// declared, life-sustaining (the flag) or default.
	FunctionSource string `json:"function_source"`
	// FunctionImpact is the function's impact before patient data.
	FunctionImpact float64 `json:"function_impact"`
	// PHISource: role, declared or finding (a cleartext-phi finding);
	// empty when the device is not known to handle patient data.
	PHISource string  `json:"phi_source,omitempty"`
	PHIImpact float64 `json:"phi_impact"`
	// Formula and ResidualFormula are 100 × likelihood × impact before the
	// floor; Floor and ResidualFloor the floor set by known exploitation (a
	// KEV-listed vulnerability, the device attacking others; 0 without).
	Formula         float64 `json:"formula"`
	ResidualFormula float64 `json:"residual_formula"`
	FloorScore      float64 `json:"floor_score"`
	ResidualFloor   float64 `json:"residual_floor"`
	// Items are the likelihood parts, most residual points first.
	Items []Item `json:"items"`
	// Controls lists what each control kind takes off, applied one kind
	// after another in name order; they add up to Inherent − Residual.
	Controls []ControlEffect `json:"controls,omitempty"`
	// Ignored lists inputs that count nothing, and why.
	Ignored []string `json:"ignored,omitempty"`
	// ByENISA holds the residual points per ENISA threat with any.
	ByENISA []ThreatPoints `json:"by_enisa,omitempty"`
}

// Item is one likelihood part of a breakdown.
type Item struct {
	Kind InputKind `json:"kind"`
	// Index is into the device's slice of Kind (or an Exposure constant).
	Index int `json:"index"`
	// Ref names the input: CVE id, finding kind, component, alert
	// category, exposure.
	Ref    string `json:"ref"`
	Detail string `json:"detail,omitempty"`
	// Why is the part's arithmetic before the repeat discount.
	Why string `json:"why"`
	// Base is the part before the repeat discount, Repeat the discount
	// (1 for the strongest of its group), Part = Base × Repeat;
	// ResidualPart applies the controls.
	Base         float64 `json:"base"`
	Repeat       float64 `json:"repeat"`
	Part         float64 `json:"part"`
	ResidualPart float64 `json:"residual_part"`
	// Points and ResidualPoints: the item's share of the inherent and
	// residual score, in proportion to −ln(1 − part); a KEV floor's lift
	// goes to the vulnerability that sets it.
	Points         float64 `json:"points"`
	ResidualPoints float64 `json:"residual_points"`
	ENISA          []int   `json:"enisa,omitempty"`
}

// ControlEffect is what one control kind takes off the score.
type ControlEffect struct {
	Kind   string  `json:"kind"`
	Points float64 `json:"points"`
}

// ThreatPoints is the residual points of one ENISA threat.
type ThreatPoints struct {
	ID     int     `json:"id"`
	Name   string  `json:"name"`
	Points float64 `json:"points"`
}

// Record types of the JSON renderings.
const (
	TypeBreakdown = "rama-breakdown"
	TypeReport    = "rama-report"
)

// Explain scores d at at and explains the result. It goes through the same
// code as Score, so the numbers agree.
func (s *Scorer) Explain(d *Device, at time.Time) *Breakdown {
	sc := &scratch{}
	var o evalOut
	s.eval(d, at, ^uint64(0), sc, &o)
	b := &Breakdown{V: 1, Type: TypeBreakdown, Device: d.ID, Name: d.Name, Role: d.Role, At: at, Result: o.Result,
		FunctionSource: o.fnSrc, FunctionImpact: o.fnImpact, PHISource: o.phiSrc,
		Formula: o.formulaI, ResidualFormula: o.formulaR, FloorScore: o.floorI, ResidualFloor: o.floorR}
	if o.PHI {
		b.PHIImpact = s.phi
	}
	floorDone := false
	for i := range sc.parts {
		pt := &sc.parts[i]
		it := Item{Kind: pt.kind, Index: int(pt.index), Base: pt.p, Part: pt.e, ResidualPart: pt.er, ENISA: pt.mask.ids()}
		if pt.p > 0 {
			it.Repeat = pt.e / pt.p
		}
		if o.sumI > 0 {
			it.Points = o.formulaI * pt.t / o.sumI
		}
		if o.sumR > 0 {
			it.ResidualPoints = o.formulaR * pt.tr / o.sumR
		}
		// The floor's lift goes to the first vulnerability setting it.
		if !floorDone && o.floorI > o.formulaI && pt.floor == o.floorI {
			it.Points += o.floorI - o.formulaI
			floorDone = true
		}
		s.describe(d, at, pt, &it)
		b.Items = append(b.Items, it)
	}
	// The residual floor may come from another vulnerability than the
	// inherent one (a control covering only some): attribute it separately.
	if o.floorR > o.formulaR {
		for i := range b.Items {
			it := &b.Items[i]
			if sc.parts[i].floorR == o.floorR {
				it.ResidualPoints += o.floorR - o.formulaR
				break
			}
		}
	}
	slices.SortStableFunc(b.Items, func(x, y Item) int {
		if c := cmp.Compare(y.ResidualPoints, x.ResidualPoints); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Points, x.Points); c != 0 {
			return c
		}
		if c := cmp.Compare(kindOrder(x.Kind), kindOrder(y.Kind)); c != 0 {
			return c
		}
		return cmp.Compare(x.Index, y.Index)
	})
	for id := 0; id <= NumENISA; id++ {
		if p := float64(o.ENISA[id]); p > 0 {
			b.ByENISA = append(b.ByENISA, ThreatPoints{ID: id, Name: ENISAName(id), Points: p})
		}
	}
	slices.SortStableFunc(b.ByENISA, func(x, y ThreatPoints) int { return cmp.Compare(y.Points, x.Points) })

	// Controls, one kind at a time in name order.
	var mask uint64
	prev := o.inh
	seen := map[string]bool{}
	for _, k := range s.ctrlNames {
		present := false
		for _, c := range d.Controls {
			if c.Kind == k {
				present = true
			}
		}
		if !present {
			continue
		}
		seen[k] = true
		mask |= 1 << uint(s.ctrlIndex[k])
		var step evalOut
		s.eval(d, at, mask, sc, &step)
		b.Controls = append(b.Controls, ControlEffect{Kind: k, Points: prev - step.res})
		prev = step.res
	}
	for _, c := range d.Controls {
		if _, ok := s.ctrlIndex[c.Kind]; !ok && !seen[c.Kind] {
			seen[c.Kind] = true
			b.Ignored = append(b.Ignored, fmt.Sprintf("control %q: not a control kind of the config (%s)", c.Kind, strings.Join(s.ctrlNames, ", ")))
		}
	}
	b.Ignored = append(b.Ignored, s.ignored(d, at)...)
	return b
}

func kindOrder(k InputKind) int {
	switch k {
	case KindVulnerability:
		return 0
	case KindFinding:
		return 1
	case KindEOL:
		return 2
	case KindAlert:
		return 3
	}
	return 4
}

func (s *Scorer) describe(d *Device, at time.Time, pt *part, it *Item) {
	var w []string
	note := ""
	switch pt.kind {
	case KindVulnerability:
		v := &d.Vulnerabilities[pt.index]
		it.Ref, it.Detail = v.ID, v.Component
		if v.CVSS > 0 {
			w = append(w, fmt.Sprintf("CVSS %s/10", num(min(v.CVSS, 10))))
		} else {
			w = append(w, fmt.Sprintf("CVSS %s/10 (not scored: default)", num(s.vDefCVSS)))
		}
		switch {
		case v.KEV:
			w = append(w, fmt.Sprintf("KEV %s", num(s.vKEVExploit)))
		case v.EPSS != nil && *v.EPSS >= 0:
			e := fmt.Sprintf("EPSS %s", num(min(*v.EPSS, 1)))
			if v.EPSSPercentile != nil {
				e += fmt.Sprintf(" (percentile %s)", num(*v.EPSSPercentile))
			}
			w = append(w, e)
		default:
			w = append(w, fmt.Sprintf("EPSS %s (unknown: default)", num(s.vDefEPSS)))
		}
		if s.vWeight != 1 {
			w = append(w, "weight "+num(s.vWeight))
		}
		if sw := s.statusWeight(v.Status); sw != 1 {
			w = append(w, fmt.Sprintf("%s %s", v.Status, num(sw)))
		}
		if v.KEV && pt.floor > 0 {
			note = fmt.Sprintf("; known exploited: score ≥ %s", num(pt.floor))
		}
	case KindFinding:
		f := &d.Findings[pt.index]
		it.Ref, it.Detail = f.Kind, f.Detail
		cp, ok := s.fKinds[f.Kind]
		if !ok {
			cp = s.fOther
			w = append(w, fmt.Sprintf("other kind %s", num(cp.w)))
		} else {
			w = append(w, fmt.Sprintf("weight %s", num(cp.w)))
		}
		sev := strings.ToLower(f.Severity)
		if sev == "" {
			sev = "unrated"
		}
		w = append(w, fmt.Sprintf("%s %s", sev, num(s.findingSeverity(f.Severity))))
		if sw := s.statusWeight(f.Status); sw != 1 {
			w = append(w, fmt.Sprintf("%s %s", f.Status, num(sw)))
		}
	case KindEOL:
		c := &d.EOL[pt.index]
		it.Ref = c.Name
		years := at.Sub(c.EOL).Hours() / (24 * 365.25)
		it.Detail = fmt.Sprintf("end of support %s", c.EOL.Format(time.DateOnly))
		if !c.AsOf.IsZero() {
			it.Detail += fmt.Sprintf(", seen %s", c.AsOf.Format(time.DateOnly))
		}
		if s.eRampYears > 0 && years < s.eRampYears {
			w = append(w, fmt.Sprintf("%s + (%s − %s) × %.1f/%s years past", num(s.eAt), num(s.eMax), num(s.eAt), years, num(s.eRampYears)))
		} else {
			w = append(w, fmt.Sprintf("%.1f years past: %s", years, num(s.eMax)))
		}
	case KindAlert:
		a := &d.Alerts[pt.index]
		it.Ref, it.Detail = a.Category, a.Title
		_, cp, _ := s.alertPart(a, at)
		dir, dw := "target", s.aTarget
		if a.Direction == DirectionSource {
			dir, dw = "source", s.aSource
		}
		sev := strings.ToLower(a.Severity)
		if sev == "" {
			sev = "unrated"
		}
		age := alertAge(a, at)
		w = append(w, fmt.Sprintf("%s %s", sev, num(s.alertSeverity(a.Severity))),
			fmt.Sprintf("category %s", num(cp.w)), fmt.Sprintf("%s %s", dir, num(dw)),
			fmt.Sprintf("½^(%s / %s)", duration(age, s.aHalfLife), duration(s.aHalfLife, s.aHalfLife)))
		if pt.floor > 0 {
			note = fmt.Sprintf("; attacking others: score ≥ %s", num(pt.floor))
		}
	case KindExposure:
		it.Ref = exposureNames[pt.index]
		switch pt.index {
		case ExposureInternet:
			w = append(w, "weight "+num(s.xInternet.w))
		case ExposureFlatNetwork:
			w = append(w, "weight "+num(s.xFlat.w))
		case ExposurePeers:
			it.Detail = fmt.Sprintf("%d peers", d.Exposure.Peers)
			w = append(w, fmt.Sprintf("%s × min(1, ln(1 + %d) / ln(1 + %d))", num(s.xPeersW), d.Exposure.Peers, s.cfg.Exposure.Peers.Saturation))
		}
	}
	it.Why = strings.Join(w, " × ") + note
}

// ignored lists the inputs that count nothing.
func (s *Scorer) ignored(d *Device, at time.Time) []string {
	var out []string
	for _, v := range d.Vulnerabilities {
		if s.statusWeight(v.Status) == 0 {
			out = append(out, fmt.Sprintf("vulnerability %s: %s (counts 0)", v.ID, v.Status))
		}
	}
	for _, f := range d.Findings {
		if s.statusWeight(f.Status) == 0 {
			out = append(out, fmt.Sprintf("finding %s: %s (counts 0)", strings.TrimSpace(f.Kind+" "+f.Detail), f.Status))
		}
	}
	for _, c := range d.EOL {
		if !c.EOL.IsZero() && at.Before(c.EOL) {
			out = append(out, fmt.Sprintf("%s: supported until %s", c.Name, c.EOL.Format(time.DateOnly)))
		}
	}
	for _, a := range d.Alerts {
		if age := alertAge(&a, at); a.Time.IsZero() || age > s.aHorizon {
			out = append(out, fmt.Sprintf("alert %s %s: older than %s", a.Category, a.Time.Format(time.RFC3339), duration(s.aHorizon, s.aHorizon)))
		}
	}
	return out
}

// num formats a number with up to four significant decimals and no
// trailing zeros.
func num(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e9 {
		return fmt.Sprintf("%d", int64(x))
	}
	s := fmt.Sprintf("%.4f", x)
	if math.Abs(x) < 0.01 {
		s = fmt.Sprintf("%.2g", x)
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// duration renders seconds in the unit of unit (days, hours or seconds),
// so that an age and a half-life read alike.
func duration(sec, unit float64) string {
	switch {
	case unit >= 86400:
		return fmt.Sprintf("%.1f d", sec/86400)
	case unit >= 3600:
		return fmt.Sprintf("%.1f h", sec/3600)
	}
	return fmt.Sprintf("%.0f s", sec)
}
