package rama

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// variedDevices returns random devices that exercise every input and the
// odd values scoring must survive (NaN and out-of-range numbers, unknown
// kinds, statuses and controls, alerts from the future). The realistic
// generator is ramagen; this one is for invariants.
func variedDevices(n int, seed uint64) []*Device {
	r := rand.New(rand.NewPCG(seed, 42))
	roles := []string{"infusion-pump", "patient-monitor", "ventilator", "pacs", "workstation", "hl7-engine", "", "toaster"}
	kinds := []string{"default-credentials", "cleartext-phi", "cleartext-login", "smbv1", "obsolete-tls", "unknown-kind"}
	sevs := []string{"low", "medium", "high", "critical", "", "bogus"}
	stats := []Status{StatusOpen, StatusOpen, StatusOpen, StatusAccepted, StatusFalsePositive, StatusFixed, "", "weird"}
	cats := []string{"reconnaissance", "brute-force", "malware", "anomaly", "other"}
	ctrls := []string{"segmentation", "nac", "virtual-patching", "unknown"}
	vecs := []string{"", "CVSS:3.1/AV:N/AC:L", "CVSS:3.1/AV:L/AC:L", "CVSS:3.1/AV:P", "garbage"}
	odd := func(x float64) float64 {
		switch r.IntN(40) {
		case 0:
			return math.NaN()
		case 1:
			return -x
		case 2:
			return x * 1000
		case 3:
			return math.Inf(1)
		}
		return x
	}
	out := make([]*Device, n)
	for i := range out {
		d := &Device{ID: fmt.Sprintf("d%05d", i), Role: roles[r.IntN(len(roles))], PHI: r.IntN(4) == 0, LifeSustaining: r.IntN(20) == 0}
		if r.IntN(10) == 0 {
			d.Function = []Function{FunctionTherapy, FunctionDiagnosis, "nonsense"}[r.IntN(3)]
		}
		for k := r.IntN(12); k > 0; k-- {
			v := Vulnerability{ID: fmt.Sprintf("CVE-%d", r.IntN(50)), CVSS: odd(float64(r.IntN(101)) / 10), Vector: vecs[r.IntN(len(vecs))],
				KEV: r.IntN(30) == 0, Ransomware: r.IntN(2) == 0, Status: stats[r.IntN(len(stats))]}
			if r.IntN(5) > 0 {
				v.EPSS = f64(odd(r.Float64() * r.Float64()))
			}
			d.Vulnerabilities = append(d.Vulnerabilities, v)
		}
		for k := r.IntN(6); k > 0; k-- {
			d.Findings = append(d.Findings, Finding{Kind: kinds[r.IntN(len(kinds))], Severity: sevs[r.IntN(len(sevs))], Status: stats[r.IntN(len(stats))], Detail: "p"})
		}
		for k := r.IntN(3); k > 0; k-- {
			d.EOL = append(d.EOL, EOLComponent{Name: "os", EOL: testAt.Add(time.Duration(r.NormFloat64() * 3 * 365 * 24 * float64(time.Hour)))})
		}
		for k := r.IntN(4); k > 0; k-- {
			a := Alert{Time: testAt.Add(-time.Duration(r.Float64() * 120 * 24 * float64(time.Hour))), Severity: sevs[r.IntN(len(sevs))],
				Category: cats[r.IntN(len(cats))], Direction: []Direction{DirectionTarget, DirectionSource, ""}[r.IntN(3)]}
			if r.IntN(5) == 0 {
				a.ENISA = []int{r.IntN(17), r.IntN(17)}
			}
			if r.IntN(20) == 0 {
				a.Time = testAt.Add(time.Hour)
			}
			d.Alerts = append(d.Alerts, a)
		}
		d.Exposure = Exposure{Internet: r.IntN(10) == 0, FlatNetwork: r.IntN(2) == 0, Peers: r.IntN(700) - 10}
		for k := r.IntN(3); k > 0; k-- {
			c := Control{Kind: ctrls[r.IntN(len(ctrls))], Strength: odd([]float64{0, 0.5, 1, 0.2}[r.IntN(4)])}
			if r.IntN(3) == 0 && len(d.Vulnerabilities) > 0 {
				c.Covers = []string{d.Vulnerabilities[r.IntN(len(d.Vulnerabilities))].ID}
			}
			d.Controls = append(d.Controls, c)
		}
		out[i] = d
	}
	return out
}
