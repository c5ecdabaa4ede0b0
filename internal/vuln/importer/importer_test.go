package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/testenv"
	"github.com/heir-emd/heir/internal/vuln"
)

// TestBadFilesLoseNothing: a broken file among good ones is reported with
// its position and changes nothing already imported.
func TestBadFilesLoseNothing(t *testing.T) {
	dir := testenv.DataDir(t)
	im := newImporter()
	ctx := context.Background()
	kevPath := filepath.Join(dir, "kev", "known_exploited_vulnerabilities.json")
	mustImport(t, im, "kev", Options{}, kevPath)

	// A truncated catalogue: refused, the catalogue kept.
	data, err := os.ReadFile(kevPath)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	cut := filepath.Join(tmp, "kev-cut.json")
	writeFile(t, cut, string(data[:len(data)/2]))
	rep, err := im.Import(ctx, "kev", []string{cut}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := im.KB.KEVCount(); rep.Rejected != 1 || n != 1404 || rep.Problems[0].Line == 0 || !rep.Problems[0].Fatal {
		t.Errorf("truncated KEV: report %+v, catalogue %d", rep, n)
	}
	// A valid but much smaller catalogue is refused too.
	small := filepath.Join(tmp, "kev-small.json")
	writeFile(t, small, `{"catalogVersion":"x","vulnerabilities":[{"cveID":"CVE-2017-0144","dateAdded":"2022-02-10"}]}`)
	rep, _ = im.Import(ctx, "kev", []string{small}, Options{})
	if n, _ := im.KB.KEVCount(); rep.Rejected != 1 || n != 1404 {
		t.Errorf("shrinking KEV: report %+v, catalogue %d", rep, n)
	}

	// CSAF: two good advisories and a broken one in a folder.
	csafDir := filepath.Join(tmp, "csaf")
	if err := os.MkdirAll(csafDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"icsma-17-009-01a.json", "icsma-24-151-01.json"} {
		b, err := os.ReadFile(filepath.Join(dir, "advisories", "csaf-icsma", name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(csafDir, name), string(b))
	}
	writeFile(t, filepath.Join(csafDir, "broken.json"), "{\n  \"document\": {\n    \"csaf_version\": \"2.0\"\n  ],\n}")
	rep, err = im.Import(ctx, "csaf", []string{csafDir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != 3 || rep.Records != 2 || rep.Rejected != 1 {
		t.Errorf("csaf folder: %+v", rep)
	}
	var broken string
	for _, p := range rep.Problems {
		if p.Fatal {
			broken = p.String()
		}
	}
	if !strings.Contains(broken, "broken.json:4:3") {
		t.Errorf("broken file reported as %q, want its line and column 4:3", broken)
	}
	before := im.KB.Stats()
	// Re-importing the broken file alone changes nothing.
	if _, err := im.Import(ctx, "csaf", []string{filepath.Join(csafDir, "broken.json")}, Options{}); err != nil {
		t.Fatal(err)
	}
	if after := im.KB.Stats(); after != before {
		t.Errorf("stats changed by a rejected file: %+v → %+v", before, after)
	}

	// EPSS in the daily file's format, gzip-compressed as downloaded.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("#model_version:v2025.03.14,score_date:2025-08-25T00:00:00Z\ncve,epss,percentile\nCVE-2017-5149,0.00123,0.31\nCVE-2017-0144,0.94,0.999\n"))
	zw.Close()
	epssPath := filepath.Join(tmp, "epss_scores-2025-08-25.csv.gz")
	writeFile(t, epssPath, buf.String())
	mustImport(t, im, "epss", Options{}, epssPath)
	v, ok := im.KB.Vulnerability("CVE-2017-5149")
	if !ok || v.EPSS == nil || v.EPSS.Score != 0.00123 || v.EPSS.Date != "2025-08-25" {
		t.Errorf("EPSS join: %+v", v)
	}
	if e, ok := im.KB.EPSSScore("CVE-2017-0144"); !ok || e.Percentile != 0.999 {
		t.Errorf("EPSS of a CVE no advisory names: %+v", e)
	}

	// Usage errors.
	if _, err := im.Import(ctx, "nope", []string{tmp}, Options{}); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, err := im.Import(ctx, "csaf", []string{filepath.Join(tmp, "missing")}, Options{}); err == nil {
		t.Error("missing path accepted")
	}
}

func TestValidator(t *testing.T) {
	v := Validator(newImporter().Norm)
	p := filepath.Join(t.TempDir(), "x.json")
	writeFile(t, p, `{"format":"NVD_CVE","version":"2.0","vulnerabilities":[]}`)
	if err := v("nvd", p); err != nil {
		t.Errorf("valid NVD file: %v", err)
	}
	if err := v("kev", p); err == nil {
		t.Error("an NVD file validated as KEV")
	}
}

// TestRunAddsUp: two `heir import` commands on one folder add up, and a
// command that only had broken files does not touch what is stored.
func TestRunAddsUp(t *testing.T) {
	dir := testenv.DataDir(t)
	store := t.TempDir()
	ctx := context.Background()
	if _, err := Run(ctx, store, "csaf", []string{filepath.Join(dir, "advisories", "csaf-icsma", "icsma-17-009-01a.json")}, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, store, "kev", []string{filepath.Join(dir, "kev", "known_exploited_vulnerabilities.json")}, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(t.TempDir(), "inv.csv")
	writeFile(t, inv, "name,vendor,model,firmware\nmerlin-1,St. Jude Medical,Inductive models EX1100,8.1\n")
	if _, err := Run(ctx, store, "inventory", []string{inv}, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	writeFile(t, bad, "{")
	rep, err := Run(ctx, store, "csaf", []string{bad}, Options{}, nil)
	if err != nil || rep.Rejected != 1 {
		t.Fatalf("bad file: %+v %v", rep, err)
	}
	kb, devs, err := Store{Dir: store}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if st := kb.Stats(); st.Advisories != 1 || st.KEV != 1404 || len(devs.List()) != 1 {
		t.Fatalf("stored: %+v, %d devices", st, len(devs.List()))
	}
	m, err := vuln.NewMatcher(ctx, kb, vuln.DefaultNormaliser())
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Match(ctx, devs.MatchInputs(), vuln.MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Two products of the advisory fit (EX1100, and EX1100 with
	// MerlinOnDemand, by its words): one CVE for RAMA, the better match.
	if len(res) != 1 || res[0].Device != "name-merlin-1" {
		t.Fatalf("stored inventory matched: %+v", res)
	}
	if r := res[0].Risk(); len(r.Vulns) != 1 || r.Vulns[0].CVE != "CVE-2017-5149" || r.Vulns[0].Confidence != 0.85 || r.Vulns[0].CVSS != 8.9 {
		t.Errorf("risk %+v", r)
	}
}
