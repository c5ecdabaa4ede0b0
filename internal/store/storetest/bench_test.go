package storetest

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/store"
	"github.com/heir-emd/heir/internal/vuln"
)

// The generated CVSS vectors carry the base scores their vectors give.
func TestBenchVectors(t *testing.T) {
	for _, v := range benchVectors {
		c, err := vuln.ScoreVector(v.vector, "")
		if err != nil {
			t.Fatalf("%s: %v", v.vector, err)
		}
		if c.BaseScore != v.score {
			t.Errorf("%s scores %v, the table says %v", v.vector, c.BaseScore, v.score)
		}
	}
}

// The hospital's matches are skewed as the scale says and look like the
// node's: valid, about 10 per device, 1–2% in KEV, mostly open, with
// decisions, evidence and remediation, documents of a real match's size.
func TestHospitalVulns(t *testing.T) {
	sc := HospitalScale
	g := newVulnGen(sc)
	r := rand.New(rand.NewPCG(1, 2))
	var rows, kev, heavy, tens, none, docBytes int
	status := map[string]int{}
	var maxN int
	for i := range sc.Assets {
		a := benchAsset(r, i)
		set := g.set(&a, i)
		n, k := g.count(i)
		if n != len(set.Items) {
			t.Fatalf("device %d: count says %d matches, the set has %d", i, n, len(set.Items))
		}
		switch {
		case n >= 100:
			heavy++
			if a.Role != "workstation" || a.OS == "" {
				t.Fatalf("device %d with %d matches is a %s running %q, want a Windows workstation", i, n, a.Role, a.OS)
			}
		case n >= 10:
			tens++
		case n == 0:
			none++
		}
		maxN = max(maxN, n)
		cves := map[string]bool{}
		kevHere := 0
		for _, v := range set.Items {
			v.Asset, v.ID, v.Updated = set.Asset, set.Asset+"|"+v.CVE, set.At
			if err := v.Validate(); err != nil {
				t.Fatal(err)
			}
			if cves[v.CVE] {
				t.Fatalf("device %d: %s twice", i, v.CVE)
			}
			cves[v.CVE] = true
			if v.KEV {
				kevHere++
			}
			status[v.Status]++
			if len(v.Evidence) == 0 || v.Remediation == "" || v.Vector == "" || v.Product == "" || v.Component == "" {
				t.Fatalf("device %d: match %+v lacks evidence, remediation, vector, product or component", i, v)
			}
			if (v.Status == store.VulnAccepted || v.Status == store.VulnFalsePositive) && (v.Decision == nil || v.Decision.Comment == "") {
				t.Fatalf("device %d: %s %s without a decision comment", i, v.CVE, v.Status)
			}
			if i%100 == 0 {
				doc, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				docBytes += len(doc)
			}
		}
		if kevHere != k {
			t.Fatalf("device %d: count says %d in KEV, the set has %d", i, k, kevHere)
		}
		rows += n
		kev += k
	}
	mean := float64(rows) / float64(sc.Assets)
	t.Logf("%d matches (%.2f per device, at most %d), %d devices with none, %d with 10–99, %d with 100 or more; %.2f%% in KEV; statuses %v",
		rows, mean, maxN, none, tens, heavy, 100*float64(kev)/float64(rows), status)
	if mean < 8 || mean > 11 {
		t.Errorf("%.2f matches per device, want about 8–10", mean)
	}
	if f := float64(heavy) / float64(sc.Assets); f < 0.015 || f > 0.025 {
		t.Errorf("%.3f of the devices have a few hundred matches, want about 0.02", f)
	}
	if f := float64(tens) / float64(sc.Assets); f < 0.22 || f > 0.28 {
		t.Errorf("%.3f of the devices have tens of matches, want about a quarter", f)
	}
	if f := float64(kev) / float64(rows); f < 0.01 || f > 0.02 {
		t.Errorf("%.4f of the matches in KEV, want 1–2%%", f)
	}
	if f := float64(status[store.VulnOpen]) / float64(rows); f < 0.9 || status[store.VulnAccepted] == 0 || status[store.VulnFalsePositive] == 0 {
		t.Errorf("statuses %v: want mostly open, some accepted and false positives", status)
	}
	// A stored match of the node's scoring is 0.6–1.5 kB of JSON (an
	// advisory's remediation text, one or two pieces of evidence).
	sampled := 0
	for i := 0; i < sc.Assets; i += 100 {
		n, _ := g.count(i)
		sampled += n
	}
	docMean := docBytes / sampled
	t.Logf("mean document %d bytes", docMean)
	if docMean < 600 || docMean > 1500 {
		t.Errorf("mean document %d bytes, want a real match's 600–1500", docMean)
	}
	if got := VulnTotal(sc); got != int64(rows) {
		t.Errorf("VulnTotal %d, the sets hold %d", got, rows)
	}
	i, n, k := MostVulnerable(sc)
	if n != maxN || k == 0 {
		t.Errorf("MostVulnerable is device %d with %d matches (%d KEV), want %d matches and some in KEV", i, n, k, maxN)
	}
}

// Fill generates the same hospital every time: the devices, alerts and
// findings it made before devices had vulnerabilities are still the same
// (the vulnerabilities and peers draw from streams of their own).
func TestFillDeterministic(t *testing.T) {
	sc := Scale{Assets: 300, FindingsPerAsset: 2, Alerts: 500, AlertDays: 2, ScoreDays: 2, Vulns: HospitalScale.Vulns, TopPeers: true}
	var a, b recorder
	must(t, Fill(context.Background(), &a, sc))
	must(t, Fill(context.Background(), &b, sc))
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatal("two fills of one scale differ")
	}
	// The main stream is untouched: without vulnerabilities the alerts
	// are the same.
	var c recorder
	noVulns := sc
	noVulns.Vulns, noVulns.TopPeers = nil, false
	must(t, Fill(context.Background(), &c, noVulns))
	if !slices.EqualFunc(a.Als, c.Als, func(x, y event.Alert) bool { return x.ID == y.ID && x.Start.Equal(y.Start) && x.Source == y.Source }) {
		t.Error("vulnerabilities changed the generated alerts")
	}
	withPeers := 0
	for i := range a.As {
		if len(a.As[i].TopPeers) > 0 {
			withPeers++
		}
		if len(c.As[i].TopPeers) > 0 || c.As[i].OS != "" {
			t.Fatalf("device %d of the hospital without vulnerabilities and peers: %+v", i, c.As[i])
		}
		if a.As[i].Role != "workstation" && c.As[i].Role != a.As[i].Role {
			t.Fatalf("device %d is a %s with vulnerabilities, a %s without", i, a.As[i].Role, c.As[i].Role)
		}
	}
	if withPeers < len(a.As)*9/10 {
		t.Errorf("%d of %d devices have top peers", withPeers, len(a.As))
	}
	if len(c.Vulns) != 0 || int64(countItems(a.Vulns)) != VulnTotal(sc) {
		t.Errorf("%d sets without tiers; %d matches with, VulnTotal %d", len(c.Vulns), countItems(a.Vulns), VulnTotal(sc))
	}
}

func countItems(sets []store.VulnSet) int {
	n := 0
	for _, s := range sets {
		n += len(s.Items)
	}
	return n
}

// recorder is a Bulk that keeps what it is given.
type recorder struct {
	As    []event.Asset
	Fs    []event.Finding
	Als   []event.Alert
	Ss    []store.Score
	Vulns []store.VulnSet
}

func (r *recorder) Assets(_ context.Context, as []event.Asset) error {
	r.As = append(r.As, as...)
	return nil
}

func (r *recorder) Findings(_ context.Context, fs []event.Finding) error {
	r.Fs = append(r.Fs, fs...)
	return nil
}

func (r *recorder) Alerts(_ context.Context, as []event.Alert) error {
	r.Als = append(r.Als, as...)
	return nil
}

func (r *recorder) Scores(_ context.Context, ss []store.Score) error {
	r.Ss = append(r.Ss, ss...)
	return nil
}

func (r *recorder) Vulnerabilities(_ context.Context, sets []store.VulnSet) error {
	r.Vulns = append(r.Vulns, sets...)
	return nil
}

func (r *recorder) Finish(context.Context) error { return nil }
