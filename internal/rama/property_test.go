package rama

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func clone(d *Device) *Device {
	c := *d
	c.Vulnerabilities = slices.Clone(d.Vulnerabilities)
	c.Findings = slices.Clone(d.Findings)
	c.EOL = slices.Clone(d.EOL)
	c.Alerts = slices.Clone(d.Alerts)
	c.Controls = slices.Clone(d.Controls)
	return &c
}

func TestPropertyBounds(t *testing.T) {
	s := defaultScorer(t)
	for _, d := range variedDevices(5000, 1) {
		r := s.Score(d, testAt)
		if !(r.Residual >= 0 && r.Residual <= r.Inherent && r.Inherent <= 100) {
			t.Fatalf("%s: inherent %v residual %v", d.ID, r.Inherent, r.Residual)
		}
		if !(r.ResidualLikelihood >= 0 && r.ResidualLikelihood <= r.Likelihood && r.Likelihood <= 1) || !(r.Impact > 0 && r.Impact <= 1) {
			t.Fatalf("%s: likelihood %v/%v impact %v", d.ID, r.Likelihood, r.ResidualLikelihood, r.Impact)
		}
	}
}

// Adding any risk input never lowers the inherent score, nor the residual
// one (controls unchanged).
func TestPropertyAddingInputsNeverLowers(t *testing.T) {
	s := defaultScorer(t)
	devs := variedDevices(3000, 2)
	extra := variedDevices(3000, 3)
	r := rand.New(rand.NewPCG(4, 4))
	adds := []struct {
		name string
		add  func(d, x *Device) bool
	}{
		{"vulnerability", func(d, x *Device) bool {
			if len(x.Vulnerabilities) == 0 {
				return false
			}
			v := x.Vulnerabilities[r.IntN(len(x.Vulnerabilities))]
			d.Vulnerabilities = slices.Insert(d.Vulnerabilities, r.IntN(len(d.Vulnerabilities)+1), v)
			return true
		}},
		{"finding", func(d, x *Device) bool {
			if len(x.Findings) == 0 {
				return false
			}
			f := x.Findings[r.IntN(len(x.Findings))]
			d.Findings = slices.Insert(d.Findings, r.IntN(len(d.Findings)+1), f)
			return true
		}},
		{"end-of-life component", func(d, x *Device) bool {
			if len(x.EOL) == 0 {
				return false
			}
			d.EOL = append(d.EOL, x.EOL[0])
			return true
		}},
		{"alert", func(d, x *Device) bool {
			if len(x.Alerts) == 0 {
				return false
			}
			d.Alerts = slices.Insert(d.Alerts, r.IntN(len(d.Alerts)+1), x.Alerts[0])
			return true
		}},
		{"exposure", func(d, x *Device) bool {
			d.Exposure.Internet = d.Exposure.Internet || x.Exposure.Internet
			d.Exposure.FlatNetwork = d.Exposure.FlatNetwork || x.Exposure.FlatNetwork
			d.Exposure.Peers = max(d.Exposure.Peers, x.Exposure.Peers)
			return true
		}},
	}
	for _, a := range adds {
		n := 0
		for i, d := range devs {
			before := s.Score(d, testAt)
			d2 := clone(d)
			if !a.add(d2, extra[i]) {
				continue
			}
			n++
			after := s.Score(d2, testAt)
			if after.Inherent < before.Inherent || after.Residual < before.Residual {
				t.Fatalf("adding a %s to %s lowered it: %v/%v → %v/%v", a.name, d.ID, before.Inherent, before.Residual, after.Inherent, after.Residual)
			}
		}
		if n < 500 {
			t.Errorf("%s: only %d cases", a.name, n)
		}
	}
}

func TestPropertyControlsNeverRaise(t *testing.T) {
	s := defaultScorer(t)
	devs := variedDevices(3000, 5)
	extra := variedDevices(3000, 6)
	r := rand.New(rand.NewPCG(7, 7))
	n := 0
	for i, d := range devs {
		if len(extra[i].Controls) == 0 {
			continue
		}
		before := s.Score(d, testAt)
		d2 := clone(d)
		c := extra[i].Controls[0]
		if len(c.Covers) > 0 && len(d.Vulnerabilities) > 0 {
			c.Covers = []string{d.Vulnerabilities[r.IntN(len(d.Vulnerabilities))].ID}
		}
		d2.Controls = slices.Insert(d2.Controls, r.IntN(len(d2.Controls)+1), c)
		after := s.Score(d2, testAt)
		n++
		if after.Residual > before.Residual || after.Inherent != before.Inherent {
			t.Fatalf("adding control %+v to %s: %v/%v → %v/%v", c, d.ID, before.Inherent, before.Residual, after.Inherent, after.Residual)
		}
	}
	if n < 1000 {
		t.Errorf("only %d cases", n)
	}
}

func TestPropertyNoInputsNoRisk(t *testing.T) {
	s := defaultScorer(t)
	for _, d := range variedDevices(1000, 8) {
		d2 := &Device{ID: d.ID, Role: d.Role, Function: d.Function, LifeSustaining: d.LifeSustaining, PHI: d.PHI, Controls: d.Controls}
		r := s.Score(d2, testAt)
		if r.Inherent != 0 || r.Residual != 0 || r.Band != BandLow || r.Top.Kind != "" {
			t.Fatalf("%s without inputs: %+v", d.ID, r)
		}
	}
}

// One noisy source cannot swing the score: a thousand findings of one kind
// weigh at most the sum of the geometric series of repeats, 2 × weight.
func TestPropertyRepeatsAreBounded(t *testing.T) {
	s := defaultScorer(t)
	d := &Device{Role: "workstation"}
	for range 1000 {
		d.Findings = append(d.Findings, Finding{Kind: "cleartext-login", Severity: "low"})
		d.Alerts = append(d.Alerts, Alert{Time: testAt, Severity: "low", Category: "reconnaissance"})
	}
	r := s.Score(d, testAt)
	// Parts: findings ≤ 2 × 0.18, alerts ≤ 2 × 0.025; 1 − Π(1 − x) ≤ Σ x.
	bound := 100 * (2*0.18 + 2*0.025) * 0.5
	if r.Inherent > bound {
		t.Errorf("1000 repeats score %v, above %v", r.Inherent, bound)
	}
	one := s.Score(&Device{Role: "workstation", Findings: d.Findings[:1], Alerts: d.Alerts[:1]}, testAt)
	if r.Inherent < one.Inherent {
		t.Errorf("1000 repeats %v below one %v", r.Inherent, one.Inherent)
	}
}

// The roll-up never decreases when one device's score rises.
func TestPropertyHospitalMonotone(t *testing.T) {
	s := defaultScorer(t)
	devs := variedDevices(3000, 9)
	e := NewEngine(s)
	if err := e.Load(context.Background(), devs, testAt); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(10, 10))
	adds := []Finding{{Kind: "default-credentials", Severity: "high"}, {Kind: "cleartext-login", Severity: "low"}, {Kind: "smbv1", Severity: "medium"}}
	for range 2000 {
		d := devs[r.IntN(len(devs))]
		before := e.Hospital()
		beforeRes, _ := e.Result(d.ID)
		d2 := clone(d)
		d2.Findings = append(d2.Findings, adds[r.IntN(len(adds))])
		after := e.Upsert(d2, testAt)
		if after.Residual < beforeRes.Residual {
			t.Fatalf("finding lowered %s", d.ID)
		}
		h := e.Hospital()
		if h.Score < before.Score || h.TopMean < before.TopMean || h.ShareHighCritical < before.ShareHighCritical {
			t.Fatalf("device %s %v → %v lowered the hospital %v → %v", d.ID, beforeRes.Residual, after.Residual, before.Score, h.Score)
		}
		for _, c := range h.ByRole {
			if c.Role != d.Role {
				continue
			}
			for _, b := range before.ByRole {
				if b.Role == c.Role && c.Score < b.Score {
					t.Fatalf("class %s lowered %v → %v", c.Role, b.Score, c.Score)
				}
			}
		}
		devs[slices.Index(devs, d)] = d2
	}
}

// The roll-up formula, on random histograms: raising any one device's
// score never lowers it, and quiet devices do not dilute the riskiest.
func TestRollScoreMonotone(t *testing.T) {
	cfg := DefaultConfig().Hospital
	r := rand.New(rand.NewPCG(11, 11))
	bandOf := func(t10 int) int {
		switch {
		case t10 >= 900:
			return 3
		case t10 >= 700:
			return 2
		case t10 >= 400:
			return 1
		}
		return 0
	}
	for range 2000 {
		n := 1 + r.IntN(60)
		scores := make([]int, n)
		var h histogram
		var b [4]int
		for i := range scores {
			scores[i] = r.IntN(1001)
			h.add(uint16(scores[i]), 1)
			b[bandOf(scores[i])]++
		}
		s0, _, _, _ := rollScore(&h, n, b, cfg)
		if s0 < 0 || s0 > 100 {
			t.Fatalf("score %v", s0)
		}
		i := r.IntN(n)
		up := scores[i] + r.IntN(1001-scores[i])
		h.add(uint16(scores[i]), -1)
		b[bandOf(scores[i])]--
		h.add(uint16(up), 1)
		b[bandOf(up)]++
		s1, _, _, _ := rollScore(&h, n, b, cfg)
		if s1 < s0 {
			t.Fatalf("raising a device %d → %d lowered the roll-up %v → %v", scores[i], up, s0, s1)
		}
	}
	// Ten critical devices among a thousand quiet ones: the roll-up stays
	// at least their mean.
	var h histogram
	h.add(950, 10)
	h.add(50, 1000)
	s, top, _, _ := rollScore(&h, 1010, [4]int{1000, 0, 0, 10}, cfg)
	if top != 95 || s < 95 {
		t.Errorf("diluted: score %v top %v", s, top)
	}
}

func TestHospitalByHand(t *testing.T) {
	cfg := HospitalConfig{TopK: 2, ShareWeight: 0.5, ShareSaturation: 0.2}
	var h histogram
	// Scores 95, 75, 30, 10 ×7: top-2 mean 85; share 2/10 = 0.2 → full;
	// 85 + 15 × 0.5 = 92.5.
	h.add(950, 1)
	h.add(750, 1)
	h.add(300, 1)
	h.add(100, 7)
	s, top, share, k := rollScore(&h, 10, [4]int{8, 0, 1, 1}, cfg)
	if s != 92.5 || top != 85 || share != 0.2 || k != 2 {
		t.Errorf("got %v %v %v %v", s, top, share, k)
	}
	// Twice as many quiet devices: share 0.1, half of the lift: 85 + 15 × 0.25.
	h.add(100, 10)
	s, _, _, _ = rollScore(&h, 20, [4]int{18, 0, 1, 1}, cfg)
	if math.Abs(s-88.8) > 1e-9 {
		t.Errorf("got %v, want 88.8", s)
	}
}

func TestHistogramTop(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	for range 500 {
		var h histogram
		var all []int
		for range r.IntN(200) {
			x := r.IntN(1001)
			all = append(all, x)
			h.add(uint16(x), 1)
		}
		// remove some again
		for range r.IntN(len(all) + 1) {
			i := r.IntN(len(all))
			h.add(uint16(all[i]), -1)
			all = append(all[:i], all[i+1:]...)
		}
		slices.Sort(all)
		k := 1 + r.IntN(20)
		var want int64
		for _, x := range all[max(0, len(all)-k):] {
			want += int64(x)
		}
		if got := h.top(k); got != want {
			t.Fatalf("top(%d) = %d, want %d", k, got, want)
		}
		wantMax := 0.0
		if len(all) > 0 {
			wantMax = float64(all[len(all)-1]) / 10
		}
		if h.max() != wantMax {
			t.Fatalf("max %v, want %v", h.max(), wantMax)
		}
	}
}
