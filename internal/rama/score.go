package rama

import (
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Band is a score's band.
type Band string

const (
	BandLow      Band = "low"
	BandMedium   Band = "medium"
	BandHigh     Band = "high"
	BandCritical Band = "critical"
)

// bandIndex orders bands: 0 low … 3 critical.
func bandIndex(b Band) int {
	switch b {
	case BandMedium:
		return 1
	case BandHigh:
		return 2
	case BandCritical:
		return 3
	}
	return 0
}

var bandNames = [4]Band{BandLow, BandMedium, BandHigh, BandCritical}

// InputKind names a kind of input in a breakdown.
type InputKind string

const (
	KindVulnerability InputKind = "vulnerability"
	KindFinding       InputKind = "finding"
	KindEOL           InputKind = "eol"
	KindAlert         InputKind = "alert"
	KindExposure      InputKind = "exposure"
)

// Exposure inputs, as Ref indices of KindExposure.
const (
	ExposureInternet = iota
	ExposureFlatNetwork
	ExposurePeers
)

var exposureNames = [3]string{"internet", "flat network", "peers"}

// Ref points at one input of a device: Index is into the device's slice of
// that kind, or one of the Exposure constants.
type Ref struct {
	Kind  InputKind
	Index int
}

// Result is one device's score. Scores are rounded to one decimal, which is
// also the resolution of the hospital roll-up.
type Result struct {
	// Inherent ignores compensating controls; Residual applies them.
	Inherent float64 `json:"inherent"`
	Residual float64 `json:"residual"`
	// Band is the residual score's band, InherentBand the inherent one's.
	Band         Band `json:"band"`
	InherentBand Band `json:"inherent_band"`
	// Likelihood and ResidualLikelihood are L = 1 − Π(1 − part).
	Likelihood         float64 `json:"likelihood"`
	ResidualLikelihood float64 `json:"residual_likelihood"`
	// Impact = 1 − (1 − function) × (1 − phi).
	Impact   float64  `json:"impact"`
	Function Function `json:"function"`
	PHI      bool     `json:"phi"`
	// Floor: known exploitation (a KEV-listed vulnerability, or the
	// device seen attacking others) raised the residual score to its floor.
	Floor bool `json:"floor,omitempty"`
	// Top is the input with the most residual points (Kind empty when the
	// score is 0).
	Top Ref `json:"-"`
	// ENISA holds the residual points per ENISA threat: [0] unclassified,
	// [n] threat n. They add up to Residual (before rounding).
	ENISA [NumENISA + 1]float32 `json:"-"`

	inherent10, residual10 uint16
	rawResidual            float64
}

// Scorer computes scores with one compiled Config. It is safe for
// concurrent use and never changes; build a new one when the config does.
type Scorer struct {
	cfg     *Config
	bands10 [3]int // lower bounds of medium, high, critical in tenths
	maxPart float64
	status  [4]float64

	vWeight, vKEVExploit, vDefEPSS, vDefCVSS, vFloor, vRepeat float64
	vMask, vRansomMask                                        enisaMask

	fKinds  map[string]compPart
	fOther  compPart
	fSev    [5]float64 // low, medium, high, critical, unrated
	fRepeat float64

	eAt, eMax, eRampYears, eRepeat float64
	eMask                          enisaMask

	aHalfLife, aHorizon float64 // seconds
	aFloor, aFloorAge   float64
	aRepeat             float64
	aSev                [4]float64
	aTarget, aSource    float64
	aCats               map[string]compPart
	aOther              compPart

	xInternet, xFlat compPart
	xPeersW, xPeersD float64
	xPeersMask       enisaMask

	fnImpact  [len(functions)]float64
	phi       float64
	defaultFn int
	roles     map[string]roleImpact

	ctrlIndex map[string]int
	ctrlNames []string
	ctrlEff   [][numGroups]float64
	ctrlNet   []bool

	hospital HospitalConfig

	pool sync.Pool
}

type compPart struct {
	w     float64
	mask  enisaMask
	group int32
}

type roleImpact struct {
	fn  int
	phi bool
}

// Likelihood groups, which controls act on.
const (
	groupVuln = iota
	groupFinding
	groupEOL
	groupAlert
	groupExposure
	numGroups
)

// NewScorer compiles cfg, which must be valid.
func NewScorer(cfg *Config) (*Scorer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Scorer{cfg: cfg, maxPart: cfg.MaxPart}
	s.bands10 = [3]int{tenthsCeil(cfg.Bands.Medium), tenthsCeil(cfg.Bands.High), tenthsCeil(cfg.Bands.Critical)}
	s.status = [4]float64{cfg.Status[StatusOpen], cfg.Status[StatusAccepted], cfg.Status[StatusFalsePositive], cfg.Status[StatusFixed]}
	v := cfg.Vulnerabilities
	s.vWeight, s.vKEVExploit, s.vDefEPSS, s.vDefCVSS, s.vFloor, s.vRepeat = v.Weight, v.KEVExploit, v.DefaultEPSS, v.DefaultCVSS, v.KEVFloor, v.Repeat
	s.vMask, s.vRansomMask = maskOf(v.ENISA), maskOf(v.RansomwareENISA)

	f := cfg.Findings
	s.fKinds = map[string]compPart{}
	for i, k := range sortedKeys(f.Kinds) {
		p := f.Kinds[k]
		s.fKinds[k] = compPart{w: *p.Weight, mask: maskOf(p.ENISA), group: int32(i)}
	}
	s.fOther = compPart{w: *f.Other.Weight, mask: maskOf(f.Other.ENISA), group: int32(len(f.Kinds))}
	s.fSev = [5]float64{f.Severity["low"], f.Severity["medium"], f.Severity["high"], f.Severity["critical"], f.Severity["unrated"]}
	s.fRepeat = f.Repeat

	e := cfg.EOL
	s.eAt, s.eMax, s.eRampYears, s.eRepeat, s.eMask = e.AtEOL, e.Max, e.RampYears, e.Repeat, maskOf(e.ENISA)

	a := cfg.Alerts
	hl, _ := a.HalfLife.Parse() // Validate parsed both
	hz, _ := a.Horizon.Parse()
	fa, _ := a.SourceFloorAge.Parse()
	s.aHalfLife, s.aHorizon, s.aRepeat = hl.Seconds(), hz.Seconds(), a.Repeat
	s.aFloor, s.aFloorAge = a.SourceFloor, fa.Seconds()
	s.aSev = [4]float64{a.Severity["low"], a.Severity["medium"], a.Severity["high"], a.Severity["critical"]}
	s.aTarget, s.aSource = a.Direction[DirectionTarget], a.Direction[DirectionSource]
	s.aCats = map[string]compPart{}
	for i, k := range sortedKeys(a.Categories) {
		p := a.Categories[k]
		s.aCats[k] = compPart{w: *p.Weight, mask: maskOf(p.ENISA), group: int32(i)}
	}
	s.aOther = compPart{w: *a.Other.Weight, mask: maskOf(a.Other.ENISA), group: int32(len(a.Categories))}

	x := cfg.Exposure
	s.xInternet = compPart{w: *x.Internet.Weight, mask: maskOf(x.Internet.ENISA)}
	s.xFlat = compPart{w: *x.FlatNetwork.Weight, mask: maskOf(x.FlatNetwork.ENISA)}
	s.xPeersW, s.xPeersD, s.xPeersMask = *x.Peers.Weight, math.Log1p(float64(x.Peers.Saturation)), maskOf(x.Peers.ENISA)

	for i, fn := range functions {
		s.fnImpact[i] = cfg.Impact.Functions[fn]
		if fn == cfg.Impact.DefaultFunction {
			s.defaultFn = i
		}
	}
	s.phi = cfg.Impact.PHI
	s.roles = map[string]roleImpact{}
	for r, ri := range cfg.Impact.Roles {
		s.roles[r] = roleImpact{fn: functionIndex(ri.Function), phi: *ri.PHI}
	}

	s.ctrlIndex = map[string]int{}
	s.ctrlNames = sortedKeys(cfg.Controls)
	for i, k := range s.ctrlNames {
		c := cfg.Controls[k]
		s.ctrlIndex[k] = i
		s.ctrlEff = append(s.ctrlEff, [numGroups]float64{c.Vulnerabilities, c.Findings, c.EOL, c.Alerts, c.Exposure})
		s.ctrlNet = append(s.ctrlNet, c.NetworkOnly)
	}
	s.hospital = cfg.Hospital
	s.pool.New = func() any { return &scratch{} }
	return s, nil
}

// Config returns the configuration the scorer was built from; do not
// change it.
func (s *Scorer) Config() *Config { return s.cfg }

func functionIndex(f Function) int {
	for i, x := range functions {
		if x == f {
			return i
		}
	}
	return -1
}

// tenthsCeil converts a band bound to tenths, rounding up so that a score
// shown as 40.0 is in the band that starts at 40.
func tenthsCeil(x float64) int { return int(math.Ceil(x*10 - 1e-9)) }

func tenths(x float64) uint16 {
	if !(x > 0) {
		return 0
	}
	if x >= 100 {
		return 1000
	}
	return uint16(math.Round(x * 10))
}

func (s *Scorer) band(t10 uint16) Band {
	t := int(t10)
	switch {
	case t >= s.bands10[2]:
		return BandCritical
	case t >= s.bands10[1]:
		return BandHigh
	case t >= s.bands10[0]:
		return BandMedium
	}
	return BandLow
}

// Band returns the band of a score.
func (s *Scorer) Band(score float64) Band { return s.band(tenths(score)) }

// part is one likelihood part while a device is scored.
type part struct {
	kind  InputKind
	index int32
	group int32
	mask  enisaMask
	// p and pr: the part before the repeat discount, without and with
	// controls; e and er after it; t and tr their −ln(1 − e) terms.
	p, pr, e, er, t, tr float64
	// floor and floorR: the KEV floor this vulnerability sets.
	floor, floorR float64
	rank, rankR   int32
}

type scratch struct {
	parts []part
	ctrl  []devControl
}

type devControl struct {
	kind     int
	strength float64
	covers   []string
}

// eval is the one scoring path: Score, Explain and the control
// attribution all go through it so that they cannot disagree.
type evalOut struct {
	Result
	inh, res       float64 // unrounded scores
	formulaI       float64 // 100 × L × impact, before the floor
	formulaR       float64
	floorI, floorR float64
	sumI, sumR     float64
	fnSrc, phiSrc  string
	fnImpact       float64
}

// Score scores d at time at (alerts decay and end-of-life ages are
// measured at at). It allocates nothing in steady state.
func (s *Scorer) Score(d *Device, at time.Time) Result {
	sc := s.pool.Get().(*scratch)
	var o evalOut
	s.eval(d, at, ^uint64(0), sc, &o)
	s.pool.Put(sc)
	return o.Result
}

func (s *Scorer) eval(d *Device, at time.Time, ctrlMask uint64, sc *scratch, o *evalOut) {
	sc.parts = sc.parts[:0]
	sc.ctrl = sc.ctrl[:0]
	for i := range d.Controls {
		c := &d.Controls[i]
		k, ok := s.ctrlIndex[c.Kind]
		if !ok || ctrlMask&(1<<uint(k)) == 0 {
			continue
		}
		st := c.Strength
		if !(st > 0) || st > 1 {
			// Zero means fully deployed; nonsense values count as full
			// too, so that a broken declaration is visible, not silently weak.
			st = 1
		}
		sc.ctrl = append(sc.ctrl, devControl{kind: k, strength: st, covers: c.Covers})
	}
	var gf [numGroups]float64
	for g := range gf {
		gf[g] = s.controlFactor(sc.ctrl, g, nil)
	}

	// Impact.
	fn, fnSrc := s.defaultFn, "default"
	ri, roleKnown := s.roles[d.Role]
	if roleKnown {
		fn, fnSrc = ri.fn, "role"
	}
	if d.Function != "" {
		if i := functionIndex(d.Function); i >= 0 {
			fn, fnSrc = i, "declared"
		}
	}
	if d.LifeSustaining {
		fn, fnSrc = 0, "life-sustaining"
	}
	phi, phiSrc := false, ""
	if roleKnown && ri.phi {
		phi, phiSrc = true, "role"
	}
	if d.PHI {
		phi, phiSrc = true, "declared"
	}

	// Vulnerabilities.
	floorI, floorR := 0.0, 0.0
	for i := range d.Vulnerabilities {
		v := &d.Vulnerabilities[i]
		sw := s.statusWeight(v.Status)
		if sw == 0 {
			continue
		}
		cvss := v.CVSS
		if !(cvss > 0) {
			cvss = s.vDefCVSS
		} else if cvss > 10 {
			cvss = 10
		}
		var ex float64
		switch {
		case v.KEV:
			ex = s.vKEVExploit
		case v.EPSS != nil && *v.EPSS >= 0:
			ex = min(*v.EPSS, 1)
		default:
			ex = s.vDefEPSS
		}
		p := min(s.vWeight*sw*cvss/10*ex, s.maxPart)
		f := s.controlFactor(sc.ctrl, groupVuln, v)
		pt := part{kind: KindVulnerability, index: int32(i), mask: s.vMask, p: p, pr: p * f}
		if v.KEV {
			if v.Ransomware {
				pt.mask |= s.vRansomMask
			}
			pt.floor = s.vFloor * s.vWeight * sw
			pt.floorR = pt.floor * f
			if pt.floor > floorI {
				floorI = pt.floor
			}
			floorR = max(floorR, pt.floorR)
		}
		if p > 0 || pt.floor > 0 {
			sc.parts = append(sc.parts, pt)
		}
	}
	nv := len(sc.parts)

	// Findings.
	for i := range d.Findings {
		fd := &d.Findings[i]
		sw := s.statusWeight(fd.Status)
		if sw == 0 {
			continue
		}
		if fd.Kind == kindCleartextPHI && !phi {
			phi, phiSrc = true, "finding"
		}
		cp, ok := s.fKinds[fd.Kind]
		if !ok {
			cp = s.fOther
		}
		p := min(cp.w*s.findingSeverity(fd.Severity)*sw, s.maxPart)
		if p > 0 {
			sc.parts = append(sc.parts, part{kind: KindFinding, index: int32(i), group: cp.group, mask: cp.mask, p: p, pr: p * gf[groupFinding]})
		}
	}
	nf := len(sc.parts)

	// End-of-life components.
	for i := range d.EOL {
		c := &d.EOL[i]
		p := s.eolPart(c, at)
		if p > 0 {
			p = min(p, s.maxPart)
			sc.parts = append(sc.parts, part{kind: KindEOL, index: int32(i), mask: s.eMask, p: p, pr: p * gf[groupEOL]})
		}
	}
	ne := len(sc.parts)

	// Alerts.
	for i := range d.Alerts {
		a := &d.Alerts[i]
		p, cp, ok := s.alertPart(a, at)
		if !ok || p <= 0 {
			continue
		}
		p = min(p, s.maxPart)
		m := cp.mask
		if len(a.ENISA) > 0 {
			m = maskOf(a.ENISA)
		}
		pt := part{kind: KindAlert, index: int32(i), group: cp.group, mask: m, p: p, pr: p * gf[groupAlert]}
		if s.sourceFloor(a, at) {
			pt.floor = s.aFloor
			pt.floorR = pt.floor * gf[groupAlert]
			floorI, floorR = max(floorI, pt.floor), max(floorR, pt.floorR)
		}
		sc.parts = append(sc.parts, pt)
	}
	na := len(sc.parts)

	// Exposure.
	x := &d.Exposure
	if x.Internet && s.xInternet.w > 0 {
		p := min(s.xInternet.w, s.maxPart)
		sc.parts = append(sc.parts, part{kind: KindExposure, index: ExposureInternet, mask: s.xInternet.mask, p: p, pr: p * gf[groupExposure]})
	}
	if x.FlatNetwork && s.xFlat.w > 0 {
		p := min(s.xFlat.w, s.maxPart)
		sc.parts = append(sc.parts, part{kind: KindExposure, index: ExposureFlatNetwork, mask: s.xFlat.mask, p: p, pr: p * gf[groupExposure]})
	}
	if p := s.peersPart(x.Peers); p > 0 {
		p = min(p, s.maxPart)
		sc.parts = append(sc.parts, part{kind: KindExposure, index: ExposurePeers, mask: s.xPeersMask, p: p, pr: p * gf[groupExposure]})
	}

	// Repeat discounts: within a group, the k-th strongest part counts
	// r^(k-1) of itself.
	repeat(sc.parts[:nv], s.vRepeat)
	repeat(sc.parts[nv:nf], s.fRepeat)
	repeat(sc.parts[nf:ne], s.eRepeat)
	repeat(sc.parts[ne:na], s.aRepeat)
	repeat(sc.parts[na:], 1)
	// The floor's lift goes to the first part (after sorting) that sets it.
	floorAt := -1
	for i := range sc.parts {
		if floorR > 0 && sc.parts[i].floorR == floorR {
			floorAt = i
			break
		}
	}

	sumI, sumR := 0.0, 0.0
	for i := range sc.parts {
		pt := &sc.parts[i]
		pt.t = -math.Log1p(-pt.e)
		pt.tr = -math.Log1p(-pt.er)
		sumI += pt.t
		sumR += pt.tr
	}
	impactFn := s.fnImpact[fn]
	impact := impactFn
	if phi {
		impact = 1 - (1-impactFn)*(1-s.phi)
	}
	li, lr := -math.Expm1(-sumI), -math.Expm1(-sumR)
	fi, fr := 100*li*impact, 100*lr*impact
	inh, res := max(fi, floorI), max(fr, floorR)

	r := &o.Result
	*r = Result{Likelihood: li, ResidualLikelihood: lr, Impact: impact, Function: functions[fn], PHI: phi}
	r.inherent10, r.residual10 = tenths(inh), tenths(res)
	r.Inherent, r.Residual = float64(r.inherent10)/10, float64(r.residual10)/10
	r.Band, r.InherentBand = s.band(r.residual10), s.band(r.inherent10)
	r.Floor = floorR > fr
	r.rawResidual = res
	o.inh, o.res, o.formulaI, o.formulaR, o.floorI, o.floorR = inh, res, fi, fr, floorI, floorR
	o.sumI, o.sumR, o.fnSrc, o.phiSrc, o.fnImpact = sumI, sumR, fnSrc, phiSrc, impactFn

	// Residual points per input and per ENISA threat.
	best := -1.0
	for i := range sc.parts {
		pt := &sc.parts[i]
		pts := 0.0
		if sumR > 0 {
			pts = fr * pt.tr / sumR
		}
		if r.Floor && i == floorAt {
			pts += floorR - fr
		}
		if pts <= 0 {
			continue
		}
		if pts > best {
			best = pts
			r.Top = Ref{Kind: pt.kind, Index: int(pt.index)}
		}
		n := pt.mask.count()
		if n == 0 {
			r.ENISA[0] += float32(pts)
			continue
		}
		share := float32(pts / float64(n))
		for id := 1; id <= NumENISA; id++ {
			if pt.mask&(1<<id) != 0 {
				r.ENISA[id] += share
			}
		}
	}
}

const kindCleartextPHI = "cleartext-phi"

// repeat applies the repeat discount r to parts (all of one input kind):
// sorted by group and strength, the k-th of a group gets r^(k-1). It is
// done separately with and without controls, since a control that covers
// some vulnerabilities only can change their order.
func repeat(ps []part, r float64) {
	if r >= 1 || len(ps) < 2 {
		for i := range ps {
			ps[i].e, ps[i].er = ps[i].p, ps[i].pr
		}
		return
	}
	slices.SortFunc(ps, func(a, b part) int {
		if a.group != b.group {
			return int(a.group - b.group)
		}
		if a.pr != b.pr {
			if a.pr > b.pr {
				return -1
			}
			return 1
		}
		return int(a.index - b.index)
	})
	f, g, start := 1.0, int32(-1), 0
	for i := range ps {
		if ps[i].group != g {
			f, g, start = 1, ps[i].group, i
		}
		ps[i].er, ps[i].rankR = ps[i].pr*f, int32(i-start)
		f *= r
	}
	slices.SortFunc(ps, func(a, b part) int {
		if a.group != b.group {
			return int(a.group - b.group)
		}
		if a.p != b.p {
			if a.p > b.p {
				return -1
			}
			return 1
		}
		return int(a.index - b.index)
	})
	f, g, start = 1, -1, 0
	for i := range ps {
		if ps[i].group != g {
			f, g, start = 1, ps[i].group, i
		}
		ps[i].e, ps[i].rank = ps[i].p*f, int32(i-start)
		f *= r
	}
}

func (s *Scorer) statusWeight(st Status) float64 {
	switch st {
	case StatusAccepted:
		return s.status[1]
	case StatusFalsePositive:
		return s.status[2]
	case StatusFixed:
		return s.status[3]
	}
	return s.status[0]
}

func (s *Scorer) findingSeverity(sev string) float64 {
	switch strings.ToLower(sev) {
	case "low":
		return s.fSev[0]
	case "medium":
		return s.fSev[1]
	case "high":
		return s.fSev[2]
	case "critical":
		return s.fSev[3]
	}
	return s.fSev[4]
}

// alertSeverity maps a severity to its weight; an unknown one counts as
// medium.
func (s *Scorer) alertSeverity(sev string) float64 {
	switch strings.ToLower(sev) {
	case "low":
		return s.aSev[0]
	case "high":
		return s.aSev[2]
	case "critical":
		return s.aSev[3]
	}
	return s.aSev[1]
}

func (s *Scorer) eolPart(c *EOLComponent, at time.Time) float64 {
	if c.EOL.IsZero() || at.Before(c.EOL) {
		return 0
	}
	years := at.Sub(c.EOL).Hours() / (24 * 365.25)
	if s.eRampYears <= 0 || years >= s.eRampYears {
		return s.eMax
	}
	return s.eAt + (s.eMax-s.eAt)*years/s.eRampYears
}

// alertAge returns an alert's age in seconds at at; alerts stamped in the
// future (clock skew) are fresh.
func alertAge(a *Alert, at time.Time) float64 {
	age := at.Sub(a.Time).Seconds()
	if age < 0 {
		return 0
	}
	return age
}

func (s *Scorer) alertPart(a *Alert, at time.Time) (float64, compPart, bool) {
	age := alertAge(a, at)
	if age > s.aHorizon || a.Time.IsZero() {
		return 0, compPart{}, false
	}
	cp, ok := s.aCats[a.Category]
	if !ok {
		cp = s.aOther
	}
	dir := s.aTarget
	if a.Direction == DirectionSource {
		dir = s.aSource
	}
	return s.alertSeverity(a.Severity) * cp.w * dir * math.Exp2(-age/s.aHalfLife), cp, true
}

// sourceFloor says whether alert a sets the exploitation floor: the device
// attacked others (high or critical) within source_floor_age.
func (s *Scorer) sourceFloor(a *Alert, at time.Time) bool {
	if a.Direction != DirectionSource || s.aFloor <= 0 || a.Time.IsZero() || alertAge(a, at) > s.aFloorAge {
		return false
	}
	switch strings.ToLower(a.Severity) {
	case "high", "critical":
		return true
	}
	return false
}

func (s *Scorer) peersPart(n int) float64 {
	if n <= 0 || s.xPeersW <= 0 {
		return 0
	}
	return s.xPeersW * min(1, math.Log1p(float64(n))/s.xPeersD)
}

// controlFactor is the product over control kinds of (1 − effect ×
// strength) for group g, counting only the strongest control of each kind;
// for a vulnerability v, only controls that cover it.
func (s *Scorer) controlFactor(cs []devControl, g int, v *Vulnerability) float64 {
	f := 1.0
	for i := range cs {
		if !s.applies(&cs[i], v) {
			continue
		}
		eff := s.ctrlEff[cs[i].kind][g] * cs[i].strength
		strongest := true
		for j := range cs {
			if j == i || cs[j].kind != cs[i].kind || !s.applies(&cs[j], v) {
				continue
			}
			ej := s.ctrlEff[cs[j].kind][g] * cs[j].strength
			if ej > eff || (ej == eff && j < i) {
				strongest = false
				break
			}
		}
		if strongest {
			f *= 1 - eff
		}
	}
	return f
}

func (s *Scorer) applies(c *devControl, v *Vulnerability) bool {
	if v == nil {
		return true
	}
	if len(c.covers) > 0 && !slices.Contains(c.covers, v.ID) {
		return false
	}
	return !s.ctrlNet[c.kind] || networkVector(v.Vector)
}

// networkVector says whether a CVSS vector's attack vector is network or
// adjacent (or unknown: most vulnerabilities are reachable over the
// network, and assuming so lets network controls count).
func networkVector(vec string) bool {
	for i := 0; i+3 < len(vec); i++ {
		if (i == 0 || vec[i-1] == '/' || vec[i-1] == '(') && vec[i] == 'A' && vec[i+1] == 'V' && vec[i+2] == ':' {
			switch vec[i+3] {
			case 'L', 'P':
				return false
			}
			return true
		}
	}
	return true
}
