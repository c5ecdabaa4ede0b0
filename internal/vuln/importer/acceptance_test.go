package importer

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/inventory"
	"github.com/heir-emd/heir/internal/testenv"
	"github.com/heir-emd/heir/internal/vuln"
)

func newImporter() *Importer {
	return &Importer{KB: vuln.NewKB(), Norm: vuln.DefaultNormaliser(), Devices: inventory.NewDevices(nil)}
}

func mustImport(t *testing.T, im *Importer, kind string, opt Options, paths ...string) *Report {
	t.Helper()
	rep, err := im.Import(context.Background(), kind, paths, opt)
	if err != nil {
		t.Fatalf("import %s: %v", kind, err)
	}
	if rep.Rejected > 0 {
		for _, p := range rep.Problems {
			if p.Fatal {
				t.Errorf("rejected: %s", p)
			}
		}
		t.Fatalf("import %s: %d of %d files rejected", kind, rep.Rejected, rep.Files)
	}
	return rep
}

// TestICSMAKnowledge is acceptance point 1: every ICSMA advisory imports,
// with 428 unique CVEs, and the KEV join finds exactly the eleven the data
// folder's README lists (counted there by hand from the KEV catalogue).
func TestICSMAKnowledge(t *testing.T) {
	dir := testenv.DataDir(t)
	im := newImporter()
	rep := mustImport(t, im, "csaf", Options{Schema: true}, filepath.Join(dir, "advisories", "csaf-icsma"))
	if rep.Files != 144 || rep.Records != 144 {
		t.Fatalf("csaf: %d files, %d advisories imported; want 144 and 144", rep.Files, rep.Records)
	}
	mustImport(t, im, "kev", Options{}, filepath.Join(dir, "kev", "known_exploited_vulnerabilities.json"))
	st := im.KB.Stats()
	if st.CVEs != 428 {
		t.Errorf("unique CVEs = %d, want 428", st.CVEs)
	}
	if st.KEV != 1404 {
		t.Errorf("KEV catalogue entries = %d, want 1404", st.KEV)
	}
	var inKEV []string
	for _, id := range im.KB.IDs() {
		if v, _ := im.KB.Vulnerability(id); v.KEV != nil {
			inKEV = append(inKEV, id)
		}
	}
	want := []string{"CVE-2015-1635", "CVE-2017-0143", "CVE-2017-0144", "CVE-2017-0145", "CVE-2017-0146", "CVE-2017-0147",
		"CVE-2017-0148", "CVE-2017-0199", "CVE-2017-7269", "CVE-2019-0708", "CVE-2020-1938"}
	if !slices.Equal(inKEV, want) {
		t.Errorf("CVEs of ICSMA in KEV = %v, want %v", inKEV, want)
	}
	// Every CVE has a CVSS v3 score computed from its vector.
	for _, id := range im.KB.IDs() {
		v, _ := im.KB.Vulnerability(id)
		if c, ok := v.BestCVSS(); !ok || !strings.HasPrefix(c.Version, "3.") || c.BaseScore <= 0 || c.BaseScore > 10 {
			t.Errorf("%s: best CVSS %+v (ok=%v), want a v3 score in (0, 10]", id, c, ok)
		}
	}
	// A known advisory's statement, checked by hand against the file:
	// ICSMA-17-009-01A says Merlin@home EX1100 before 8.2.2 is affected
	// by CVE-2017-5149 with vector CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:C/C:L/I:H/A:H (8.9).
	v, ok := im.KB.Vulnerability("CVE-2017-5149")
	if !ok || len(v.CVSS) == 0 || v.CVSS[0].BaseScore != 8.9 || v.CWEs[0] != "CWE-300" {
		t.Errorf("CVE-2017-5149 = %+v", v)
	}
	found := false
	im.KB.Affected(func(a *vuln.Affected) bool {
		if a.CVE == "CVE-2017-5149" && a.ProductID == "CSAFPID-0001" {
			found = a.VendorKey == "abbott" && a.ProductKey == "inductive_ex1100" && a.Versions.Raw == "< 8.2.2" && a.Status == vuln.StatusAffected
			if !found {
				t.Errorf("statement %+v", *a)
			}
		}
		return true
	})
	if !found {
		t.Error("no statement for CVE-2017-5149 / CSAFPID-0001")
	}
	// Five 2024 advisories carry a CVSS v4 vector in a calculator link.
	v4 := 0
	for _, id := range im.KB.IDs() {
		v, _ := im.KB.Vulnerability(id)
		for _, c := range v.CVSS {
			if c.Version == "4.0" {
				v4++
				break
			}
		}
	}
	if v4 == 0 {
		t.Error("no CVSS v4 vector read from the 2024 advisories")
	}
	t.Logf("ICSMA: %+v; CVEs with a v4 vector: %d; problems reported: %d", st, v4, len(rep.Problems))

	// A device of an ICSMA vendor and product, and its match.
	m, err := vuln.NewMatcher(context.Background(), im.KB, im.Norm)
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Match(context.Background(), []vuln.Device{
		{ID: "pm-1", Vendor: "St. Jude Medical", Model: "Inductive models EX1100", Firmware: "8.1.0"},
		{ID: "pm-2", Vendor: "Abbott", Model: "EX1100", Firmware: "8.2.2"},
		{ID: "pm-3", Vendor: "Abbott", Model: "EX1100"},
	}, vuln.MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	has := func(r vuln.DeviceResult, cve string) *vuln.Match {
		for i := range r.Matches {
			if r.Matches[i].CVE == cve {
				return &r.Matches[i]
			}
		}
		return nil
	}
	if mt := has(res[0], "CVE-2017-5149"); mt == nil || mt.Confidence < 0.8 {
		t.Errorf("EX1100 8.1.0: CVE-2017-5149 match %+v, want one with confidence >= 0.8", mt)
	}
	if mt := has(res[1], "CVE-2017-5149"); mt != nil {
		t.Errorf("EX1100 8.2.2 (the fixed version) matched: %+v", mt)
	}
	if mt := has(res[2], "CVE-2017-5149"); mt == nil || mt.Confidence >= 0.5 {
		t.Errorf("EX1100 of unknown firmware: %+v, want a weak match", mt)
	}
}

// TestNarrowSBOM is acceptance point 2: the real SBOM imports, attached to
// a model, and its components match the NVD-format fixture built for them
// (testdata/nvdcve-2.0-sbom-fixture.json, from the public CVE records: the
// ids and version ranges are NVD's; see docs/vulnerabilities.md) and
// nothing from ICSMA, whose advisories are about medical-device vendors'
// own products, none of which the SBOM lists.
func TestNarrowSBOM(t *testing.T) {
	dir := testenv.DataDir(t)
	im := newImporter()
	rep := mustImport(t, im, "sbom", Options{Vendor: "Acme Medical", Model: "Narrow Device"}, filepath.Join(dir, "sbom", "narrow.sbom.json"))
	if rep.Records != 55 {
		t.Fatalf("SBOM components = %d, want 55", rep.Records)
	}
	mustImport(t, im, "csaf", Options{}, filepath.Join(dir, "advisories", "csaf-icsma"))
	mustImport(t, im, "kev", Options{}, filepath.Join(dir, "kev", "known_exploited_vulnerabilities.json"))
	dev := []vuln.Device{{ID: "narrow-1", Vendor: "Acme Medical", Model: "Narrow Device"}}

	// ICSMA alone.
	m, err := vuln.NewMatcher(context.Background(), im.KB, im.Norm)
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Match(context.Background(), dev, vuln.MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range res[0].Matches {
		t.Errorf("ICSMA alone matched %s via %+v", mt.CVE, mt.Evidence[0])
	}
	t.Logf("ICSMA alone: %d matches (its vendors are device makers; the SBOM lists third-party libraries and chips)", len(res[0].Matches))

	// With the NVD-format fixture.
	mustImport(t, im, "nvd", Options{}, filepath.Join("testdata", "nvdcve-2.0-sbom-fixture.json"))
	m, err = vuln.NewMatcher(context.Background(), im.KB, im.Norm)
	if err != nil {
		t.Fatal(err)
	}
	res, err = m.Match(context.Background(), dev, vuln.MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]vuln.Match{}
	for _, mt := range res[0].Matches {
		got[mt.CVE] = mt
		e := mt.Evidence[0]
		t.Logf("%s conf %.2f kev=%v cvss %.1f: %s [%s] — %s", mt.CVE, mt.Confidence, mt.KEV, mt.CVSS, e.DeviceValue, e.Target, e.How)
	}
	mustMatch := map[string]string{ // CVE → component it must come through
		"CVE-2019-11358": "jQuery", "CVE-2020-11022": "jQuery", "CVE-2020-11023": "jQuery",
		"CVE-2018-1285": "log4net", "CVE-2024-21907": "Newtonsoft.Json",
		"CVE-2022-25638": "WolfSSL", "CVE-2022-39173": "WolfSSL", "CVE-2020-15522": "BouncyCastle",
	}
	for cve, comp := range mustMatch {
		mt, ok := got[cve]
		if !ok {
			t.Errorf("%s (%s) not matched", cve, comp)
			continue
		}
		if !strings.Contains(mt.Evidence[0].DeviceValue, comp) || !strings.HasPrefix(mt.Evidence[0].Target, "sbom:") {
			t.Errorf("%s matched through %q (%s), want the SBOM's %s", cve, mt.Evidence[0].DeviceValue, mt.Evidence[0].Target, comp)
		}
		if mt.Confidence < 0.8 {
			t.Errorf("%s confidence %.2f, want >= 0.8 (CPE product and version both known)", cve, mt.Confidence)
		}
	}
	// Fixed before the SBOM's versions, or another product of the same name.
	for _, cve := range []string{"CVE-2015-9251", "CVE-2021-38597", "CVE-2019-13990"} {
		if mt, ok := got[cve]; ok {
			t.Errorf("%s matched, must not: %+v", cve, mt.Evidence[0])
		}
	}
	if len(got) != len(mustMatch) {
		t.Errorf("%d CVEs matched, want %d", len(got), len(mustMatch))
	}
	if !got["CVE-2020-11023"].KEV {
		t.Error("CVE-2020-11023 is in the KEV catalogue of 2025-08-25, the match should say so")
	}
	if got["CVE-2018-1285"].CVSS != 9.8 {
		t.Errorf("CVE-2018-1285 CVSS %.1f, want 9.8 (AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H)", got["CVE-2018-1285"].CVSS)
	}

	// A VEX statement suppresses one match and shows its justification;
	// a false-positive decision hides another; both survive a reload.
	vexFile := filepath.Join(t.TempDir(), "vex.json")
	writeFile(t, vexFile, `{"bomFormat":"CycloneDX","specVersion":"1.5","serialNumber":"urn:uuid:11111111-2222-3333-4444-555555555555","version":1,
 "vulnerabilities":[{"id":"CVE-2018-1285","analysis":{"state":"not_affected","justification":"code_not_reachable","detail":"log4net configuration is compiled in, never read from a file"},
   "affects":[{"ref":"pkg:nuget/log4net@2.0.8"}]}]}`)
	mustImport(t, im, "vex", Options{Vendor: "Acme Medical", Model: "Narrow Device"}, vexFile)
	im.KB.Decide(vuln.Decision{Subject: "model:" + im.Norm.ModelKey("Acme Medical", "Narrow Device"), CVE: "CVE-2022-39173",
		Product: "cpe:wolfssl/wolfssl", State: vuln.DecisionFalsePositive, Comment: "TLS 1.3 resumption disabled at build time"})
	store := Store{Dir: t.TempDir()}
	if err := store.Save(im.KB, im.Devices); err != nil {
		t.Fatal(err)
	}
	kb2, _, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	m, err = vuln.NewMatcher(context.Background(), kb2, im.Norm)
	if err != nil {
		t.Fatal(err)
	}
	res, err = m.Match(context.Background(), dev, vuln.MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	risk := res[0].Risk()
	var active []string
	for _, v := range risk.Vulns {
		if v.Status == event.StateOpen {
			active = append(active, v.CVE)
		}
	}
	if len(risk.Vulns) != len(mustMatch)-1 {
		t.Errorf("RAMA input has %d vulnerabilities, want %d (the suppressed one left out, the false positive kept with its status)", len(risk.Vulns), len(mustMatch)-1)
	}
	sort.Strings(active)
	for _, mt := range res[0].Matches {
		switch mt.CVE {
		case "CVE-2018-1285":
			if mt.Suppressed == nil || mt.Suppressed.Justification != "code_not_reachable" {
				t.Errorf("CVE-2018-1285 suppression = %+v, want code_not_reachable", mt.Suppressed)
			}
		case "CVE-2022-39173":
			if mt.Decision == nil || mt.Decision.State != vuln.DecisionFalsePositive {
				t.Errorf("CVE-2022-39173 decision = %+v", mt.Decision)
			}
		}
	}
	if slices.Contains(active, "CVE-2018-1285") || slices.Contains(active, "CVE-2022-39173") || len(active) != len(mustMatch)-2 {
		t.Errorf("RAMA input CVEs = %v, want the %d matches less the suppressed and the false positive", active, len(mustMatch)-2)
	}
}

// TestEndOfLife is acceptance point 3.
func TestEndOfLife(t *testing.T) {
	dir := testenv.DataDir(t)
	im := newImporter()
	mustImport(t, im, "eol", Options{}, filepath.Join(dir, "eol"))
	m, err := vuln.NewMatcher(context.Background(), im.KB, im.Norm)
	if err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	tests := []struct {
		os          string
		asOf        string
		cycle       string
		eol         string
		unsupported bool
	}{
		{"Windows 7 Professional SP1", "2024-06-01", "7-sp1", "2020-01-14", true},
		{"Microsoft Windows 7 Service Pack 1", "2020-01-13", "7-sp1", "2020-01-14", false},
		{"Windows 7 Enterprise", "2020-01-14", "7-sp1", "2020-01-14", true},
		{"Windows XP Professional", "2015-01-01", "5-sp3", "2014-04-08", true},
		{"Windows XP SP3", "2014-04-07", "5-sp3", "2014-04-08", false},
		{"Microsoft Windows 6.1.7601", "2021-01-01", "7-sp1", "2020-01-14", true},
		{"Linux 6.18.44-fc-v782", "2026-11-28", "6.18", "2028-12-31", false},
	}
	for _, tt := range tests {
		res, err := m.Match(context.Background(), []vuln.Device{{ID: "d", OS: tt.os}}, vuln.MatchOptions{AsOf: day(tt.asOf)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res[0].EOL) != 1 {
			t.Errorf("%q: %d end-of-life flags, want 1", tt.os, len(res[0].EOL))
			continue
		}
		f := res[0].EOL[0]
		if f.Cycle != tt.cycle || f.EOL.Format("2006-01-02") != tt.eol || f.Unsupported != tt.unsupported {
			t.Errorf("%q as of %s: cycle %s eol %s unsupported %v; want %s %s %v (%s)", tt.os, tt.asOf, f.Cycle, f.EOL.Format("2006-01-02"), f.Unsupported, tt.cycle, tt.eol, tt.unsupported, f.How)
		}
		t.Logf("%q as of %s: %s", tt.os, tt.asOf, f.How)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
