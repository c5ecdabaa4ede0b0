package rama

import (
	"math"
	"strings"
	"testing"
	"time"
)

var testAt = time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC)

func defaultScorer(t testing.TB) *Scorer {
	t.Helper()
	s, err := NewScorer(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func f64(x float64) *float64 { return &x }

const day = 24 * time.Hour

// The expected scores below are worked out by hand from the shipped
// weights (default.yaml), not produced by the code: impact of a
// monitoring device with patient data 1 − 0.15 × 0.6 = 0.91, of a therapy
// one 1 − 0.05 × 0.6 = 0.97, of a support one 0.5, of support with
// patient data 1 − 0.5 × 0.6 = 0.7.
func TestScoreByHand(t *testing.T) {
	s := defaultScorer(t)
	cases := []struct {
		name       string
		d          Device
		inh, res   float64
		band       Band
		fn         Function
		phi, floor bool
	}{
		{"nothing known", Device{Role: "infusion-pump"}, 0, 0, BandLow, FunctionTherapy, true, false},
		{"KEV on a pump: 100 × 0.98 × 0.97", Device{Role: "infusion-pump",
			Vulnerabilities: []Vulnerability{{ID: "CVE-2019-0708", CVSS: 9.8, KEV: true}}},
			95.1, 95.1, BandCritical, FunctionTherapy, true, false},
		{"EPSS on a workstation: 100 × 0.75 × 0.2 × 0.5", Device{Role: "workstation",
			Vulnerabilities: []Vulnerability{{ID: "CVE-A", CVSS: 7.5, EPSS: f64(0.2)}}},
			7.5, 7.5, BandLow, FunctionSupport, false, false},
		{"unknown EPSS and CVSS: 100 × 0.68 × 0.02 × 0.5", Device{Role: "workstation",
			Vulnerabilities: []Vulnerability{{ID: "CVE-A"}}},
			0.7, 0.7, BandLow, FunctionSupport, false, false},
		{"KEV with CVSS 5.9 on a workstation: 29.5 raised to the floor", Device{Role: "workstation",
			Vulnerabilities: []Vulnerability{{ID: "CVE-2017-0147", CVSS: 5.9, KEV: true}}},
			75, 75, BandHigh, FunctionSupport, false, true},
		{"two default credentials: 1 − 0.1 × 0.55 = 0.945, × 0.91", Device{Role: "patient-monitor",
			Findings: []Finding{{Kind: "default-credentials", Severity: "high"}, {Kind: "default-credentials", Severity: "high"}}},
			86, 86, BandHigh, FunctionMonitoring, true, false},
		{"kinds repeat separately: 1 − 0.1 × 0.52", Device{Role: "workstation",
			Findings: []Finding{{Kind: "default-credentials", Severity: "high"}, {Kind: "cleartext-credentials", Severity: "medium"}}},
			47.4, 47.4, BandMedium, FunctionSupport, false, false},
		{"alert one half-life old: 0.6 × 1 × 0.5 × 0.5", Device{Role: "workstation",
			Alerts: []Alert{{Time: testAt.Add(-7 * day), Severity: "high", Category: "brute-force"}}},
			7.5, 7.5, BandLow, FunctionSupport, false, false},
		{"device attacking others: 0.9 × 1 × 1 × 0.5 = 45, raised to the floor", Device{Role: "workstation",
			Alerts: []Alert{{Time: testAt, Severity: "critical", Category: "malware", Direction: DirectionSource}}},
			75, 75, BandHigh, FunctionSupport, false, true},
		{"attacking others 8 days ago: no floor, 100 × 0.9 × ½^(8/7) × 0.5", Device{Role: "workstation",
			Alerts: []Alert{{Time: testAt.Add(-8 * day), Severity: "critical", Category: "malware", Direction: DirectionSource}}},
			20.4, 20.4, BandLow, FunctionSupport, false, false},
		{"a medium alert from the device sets no floor: 0.3 × 0.5", Device{Role: "workstation",
			Alerts: []Alert{{Time: testAt, Severity: "medium", Category: "malware", Direction: DirectionSource}}},
			15, 15, BandLow, FunctionSupport, false, false},
		{"segmentation lowers the attacker floor: 75 × 0.7", Device{Role: "workstation",
			Alerts:   []Alert{{Time: testAt, Severity: "high", Category: "reconnaissance", Direction: DirectionSource}},
			Controls: []Control{{Kind: "segmentation"}}},
			75, 52.5, BandMedium, FunctionSupport, false, true},
		{"alert beyond the horizon", Device{Role: "workstation",
			Alerts: []Alert{{Time: testAt.Add(-91 * day), Severity: "critical", Category: "malware", Direction: DirectionSource}}},
			0, 0, BandLow, FunctionSupport, false, false},
		{"alert from the future counts as fresh; unknown category 0.8", Device{Role: "workstation",
			Alerts: []Alert{{Time: testAt.Add(time.Hour), Severity: "low", Category: "odd", Direction: DirectionSource}}},
			4, 4, BandLow, FunctionSupport, false, false},
		{"EOL 2 years past: 0.2 + 0.25 × 2/5", Device{Role: "workstation",
			EOL: []EOLComponent{{Name: "Windows 7", EOL: testAt.Add(-2 * 36525 * day / 100)}}},
			15, 15, BandLow, FunctionSupport, false, false},
		{"EOL 10 years past: 0.45", Device{Role: "workstation",
			EOL: []EOLComponent{{Name: "Windows XP", EOL: testAt.AddDate(-10, 0, 0)}}},
			22.5, 22.5, BandLow, FunctionSupport, false, false},
		{"EOL in the future", Device{Role: "workstation",
			EOL: []EOLComponent{{Name: "Windows 11", EOL: testAt.AddDate(1, 0, 0)}}},
			0, 0, BandLow, FunctionSupport, false, false},
		{"exposure: 1 − 0.6 × 0.8 × 0.85", Device{Role: "workstation",
			Exposure: Exposure{Internet: true, FlatNetwork: true, Peers: 256}},
			29.6, 29.6, BandLow, FunctionSupport, false, false},
		{"16 peers: 0.15 × ln 17 / ln 257", Device{Role: "workstation", Exposure: Exposure{Peers: 16}},
			3.8, 3.8, BandLow, FunctionSupport, false, false},
		{"segmentation halves a network vulnerability", Device{Role: "workstation",
			Vulnerabilities: []Vulnerability{{ID: "CVE-A", CVSS: 10, EPSS: f64(0.5), Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
			Controls:        []Control{{Kind: "segmentation"}}},
			25, 12.5, BandLow, FunctionSupport, false, false},
		{"segmentation does not help against physical access", Device{Role: "workstation",
			Vulnerabilities: []Vulnerability{{ID: "CVE-A", CVSS: 10, EPSS: f64(0.5), Vector: "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
			Controls:        []Control{{Kind: "segmentation"}}},
			25, 25, BandLow, FunctionSupport, false, false},
		{"two segmentations count once, the stronger", Device{Role: "workstation",
			Vulnerabilities: []Vulnerability{{ID: "CVE-A", CVSS: 10, EPSS: f64(0.5)}},
			Controls:        []Control{{Kind: "segmentation", Strength: 0.5}, {Kind: "segmentation"}}},
			25, 12.5, BandLow, FunctionSupport, false, false},
		{"a virtual patch covers its CVE only: 1 − 0.925 × 0.75", Device{Role: "workstation",
			Vulnerabilities: []Vulnerability{{ID: "CVE-A", CVSS: 10, EPSS: f64(0.5)}, {ID: "CVE-B", CVSS: 10, EPSS: f64(0.5)}},
			Controls:        []Control{{Kind: "segmentation"}, {Kind: "virtual-patching", Covers: []string{"CVE-A"}}}},
			37.5, 15.3, BandLow, FunctionSupport, false, false},
		{"controls lower the KEV floor: 75 × 0.5 × 0.3", Device{Role: "workstation",
			Vulnerabilities: []Vulnerability{{ID: "CVE-2017-0147", CVSS: 5.9, KEV: true}},
			Controls:        []Control{{Kind: "segmentation"}, {Kind: "virtual-patching"}}},
			75, 11.3, BandLow, FunctionSupport, false, true},
		{"accepted and false positives count nothing", Device{Role: "workstation",
			Vulnerabilities: []Vulnerability{{ID: "CVE-A", CVSS: 10, KEV: true, Status: StatusAccepted}},
			Findings:        []Finding{{Kind: "default-credentials", Severity: "high", Status: StatusFalsePositive}, {Kind: "smbv1", Status: StatusFixed}}},
			0, 0, BandLow, FunctionSupport, false, false},
		{"an unknown status counts as open", Device{Role: "workstation",
			Findings: []Finding{{Kind: "default-credentials", Severity: "high", Status: "wontfix"}}},
			45, 45, BandMedium, FunctionSupport, false, false},
		{"ventilators are life-sustaining", Device{Role: "ventilator",
			Findings: []Finding{{Kind: "default-credentials", Severity: "high"}}},
			90, 90, BandCritical, FunctionLifeSustaining, false, false},
		{"a declared function overrides the role", Device{Role: "workstation", Function: FunctionDiagnosis,
			Findings: []Finding{{Kind: "default-credentials", Severity: "high"}}},
			81, 81, BandHigh, FunctionDiagnosis, false, false},
		{"the life-sustaining flag overrides a declared function", Device{Role: "workstation", Function: FunctionSupport, LifeSustaining: true,
			Findings: []Finding{{Kind: "default-credentials", Severity: "high"}}},
			90, 90, BandCritical, FunctionLifeSustaining, false, false},
		{"an unknown role is support", Device{Role: "toaster",
			Findings: []Finding{{Kind: "default-credentials", Severity: "high"}}},
			45, 45, BandMedium, FunctionSupport, false, false},
		{"cleartext PHI says the device handles patient data: 100 × 0.4 × 0.7", Device{Role: "workstation",
			Findings: []Finding{{Kind: "cleartext-phi", Severity: "high"}}},
			28, 28, BandLow, FunctionSupport, true, false},
		{"severity is case-blind; unrated counts fully", Device{Role: "workstation",
			Findings: []Finding{{Kind: "cleartext-login", Severity: "LOW"}, {Kind: "obsolete-tls"}}},
			100 * (1 - (1-0.18)*(1-0.25)) * 0.5, 100 * (1 - (1-0.18)*(1-0.25)) * 0.5, BandLow, FunctionSupport, false, false},
		{"unknown finding kinds weigh findings.other", Device{Role: "workstation",
			Findings: []Finding{{Kind: "hardcoded-key", Severity: "high"}}},
			15, 15, BandLow, FunctionSupport, false, false},
		{"no part is certain: capped at 0.999", Device{Role: "ventilator",
			Vulnerabilities: []Vulnerability{{ID: "CVE-A", CVSS: 10, KEV: true}}},
			99.9, 99.9, BandCritical, FunctionLifeSustaining, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.Score(&c.d, testAt)
			if math.Abs(r.Inherent-c.inh) > 0.051 || math.Abs(r.Residual-c.res) > 0.051 {
				t.Errorf("inherent %.1f residual %.1f, want %.1f %.1f", r.Inherent, r.Residual, c.inh, c.res)
			}
			if r.Band != c.band || r.Function != c.fn || r.PHI != c.phi || r.Floor != c.floor && c.res == c.inh {
				t.Errorf("band %s function %s phi %v floor %v, want %s %s %v %v", r.Band, r.Function, r.PHI, r.Floor, c.band, c.fn, c.phi, c.floor)
			}
		})
	}
}

func TestBands(t *testing.T) {
	s := defaultScorer(t)
	for _, c := range []struct {
		score float64
		band  Band
	}{{0, BandLow}, {39.9, BandLow}, {40, BandMedium}, {69.9, BandMedium}, {70, BandHigh}, {89.9, BandHigh}, {90, BandCritical}, {100, BandCritical}, {39.96, BandMedium}} {
		if b := s.Band(c.score); b != c.band {
			t.Errorf("Band(%v) = %s, want %s", c.score, b, c.band)
		}
	}
}

// Points are the shares of −ln(1 − part): with default credentials twice
// on a monitor, the parts are 0.9 and 0.45 and the shares ln 10 and
// −ln 0.55 of 85.995.
func TestPointsByHand(t *testing.T) {
	s := defaultScorer(t)
	d := &Device{Role: "patient-monitor", Findings: []Finding{{Kind: "default-credentials", Severity: "high", Detail: "telnet"}, {Kind: "default-credentials", Severity: "high", Detail: "ftp"}}}
	b := s.Explain(d, testAt)
	t1, t2 := math.Log(10), -math.Log(0.55)
	want := []float64{85.995 * t1 / (t1 + t2), 85.995 * t2 / (t1 + t2)}
	if len(b.Items) != 2 {
		t.Fatalf("items %+v", b.Items)
	}
	for i, w := range want {
		if math.Abs(b.Items[i].Points-w) > 1e-9 || math.Abs(b.Items[i].ResidualPoints-w) > 1e-9 {
			t.Errorf("item %d points %v, want %v", i, b.Items[i].Points, w)
		}
	}
	if b.Items[0].Detail != "telnet" || b.Items[1].Repeat != 0.5 {
		t.Errorf("items %+v", b.Items)
	}
	// Identity theft (12) gets everything.
	if len(b.ByENISA) != 1 || b.ByENISA[0].ID != 12 || math.Abs(b.ByENISA[0].Points-85.995) > 1e-4 {
		t.Errorf("by ENISA %+v", b.ByENISA)
	}
}

// Explain and Score agree, and the points add up, on every device of a
// varied population.
func TestExplainAddsUp(t *testing.T) {
	s := defaultScorer(t)
	for _, d := range variedDevices(2000, 7) {
		r := s.Score(d, testAt)
		b := s.Explain(d, testAt)
		if b.Result.Residual != r.Residual || b.Result.Inherent != r.Inherent || b.Result.Top != r.Top {
			t.Fatalf("%s: explain %+v, score %+v", d.ID, b.Result, r)
		}
		var pi, pr float64
		for _, it := range b.Items {
			pi += it.Points
			pr += it.ResidualPoints
		}
		inh := max(b.Formula, b.FloorScore)
		res := max(b.ResidualFormula, b.ResidualFloor)
		if math.Abs(pi-inh) > 1e-6 || math.Abs(pr-res) > 1e-6 {
			t.Fatalf("%s: points add to %v/%v, scores %v/%v", d.ID, pi, pr, inh, res)
		}
		var pc float64
		for _, c := range b.Controls {
			pc += c.Points
		}
		if math.Abs(pc-(inh-res)) > 1e-6 {
			t.Fatalf("%s: controls take %v, scores differ by %v", d.ID, pc, inh-res)
		}
		var pe float64
		for _, e := range r.ENISA {
			pe += float64(e)
		}
		if math.Abs(pe-res) > 1e-3 {
			t.Fatalf("%s: ENISA points %v, residual %v", d.ID, pe, res)
		}
		if math.Abs(float64(tenths(res))/10-r.Residual) > 1e-9 {
			t.Fatalf("%s: residual %v rounds %v", d.ID, r.Residual, res)
		}
	}
}

func TestExplainText(t *testing.T) {
	s := defaultScorer(t)
	d := &Device{ID: "dev-1", Role: "workstation",
		Vulnerabilities: []Vulnerability{{ID: "CVE-A", CVSS: 10, KEV: true, Status: StatusAccepted}},
		Findings:        []Finding{{Kind: "smbv1", Severity: "medium", Status: StatusFalsePositive, Detail: "smb"}},
		EOL:             []EOLComponent{{Name: "Windows 12", EOL: testAt.AddDate(1, 0, 0)}},
		Alerts:          []Alert{{Time: testAt.AddDate(-1, 0, 0), Category: "malware", Severity: "high"}},
		Controls:        []Control{{Kind: "firewall"}}}
	b := s.Explain(d, testAt)
	want := []string{
		`vulnerability CVE-A: accepted (counts 0)`,
		`finding smbv1 smb: false-positive (counts 0)`,
		`Windows 12: supported until 2027-11-28`,
		`alert malware 2025-11-28T16:00:00Z: older than 90.0 d`,
		`control "firewall": not a control kind of the config (nac, segmentation, virtual-patching)`,
	}
	got := strings.Join(b.Ignored, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("ignored lacks %q:\n%s", w, got)
		}
	}
	if b.Residual != 0 || len(b.Items) != 0 {
		t.Errorf("score %v items %+v", b.Residual, b.Items)
	}
}

func TestNetworkVector(t *testing.T) {
	for vec, want := range map[string]bool{
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": true,
		"CVSS:3.0/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": true,
		"CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H": false,
		"CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N":            false,
		"AV:L/AC:L/Au:N/C:C/I:C/A:C":                   false,
		"(AV:N/AC:L/Au:N/C:P/I:P/A:P)":                 true,
		"":                                             true,
		"CVSS:3.1/XAV:L":                               true,
		"AV:":                                          true,
	} {
		if got := networkVector(vec); got != want {
			t.Errorf("networkVector(%q) = %v", vec, got)
		}
	}
}

func TestScoreAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	s := defaultScorer(t)
	devs := variedDevices(200, 3)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		s.Score(devs[i%len(devs)], testAt)
		i++
	})
	if allocs != 0 {
		t.Errorf("Score allocates %v times per call", allocs)
	}
}
