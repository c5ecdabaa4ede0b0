package csaf

import (
	"errors"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/vuln"
)

func TestParseSeed(t *testing.T) {
	res, err := Parse("seed.json", []byte(seedDoc), vuln.DefaultNormaliser(), Options{Schema: true})
	if err != nil {
		t.Fatal(err)
	}
	var aff, notAff *vuln.Affected
	for i := range res.Batch.Affected {
		a := &res.Batch.Affected[i]
		switch a.Status {
		case vuln.StatusAffected:
			aff = a
		case vuln.StatusNotAffected:
			notAff = a
		}
	}
	if aff == nil || aff.VendorKey != "bd" || aff.ProductKey != "alaris_pc_unit" || len(aff.Versions.Intervals) != 1 || aff.Remediation != "vendor_fix: update" {
		t.Errorf("affected statement = %+v", aff)
	}
	// The version branch holds a model number: it joins the name.
	if notAff == nil || notAff.ProductKey != "alaris_pc_unit_mmt_1710" || notAff.Justification != "component_not_present" || notAff.Detail != "no web UI" || !notAff.Versions.All {
		t.Errorf("not-affected statement = %+v", notAff)
	}
	v := res.Batch.Vulns[0]
	if len(v.CVSS) != 2 || v.CVSS[0].BaseScore != 9.8 || v.CVSS[1].Version != "4.0" || v.CVSS[1].BaseScore != 9.3 {
		t.Errorf("CVSS = %+v, want 3.1 9.8 and 4.0 9.3", v.CVSS)
	}
}

func TestParseErrorsHavePositions(t *testing.T) {
	// A syntax error on line 3.
	_, err := Parse("bad.json", []byte("{\n\"document\": {\n\"csaf_version\": \"2.0\",,\n}}"), vuln.DefaultNormaliser(), Options{})
	var fe *vuln.FileError
	if !errors.As(err, &fe) || fe.Problem.Line != 3 || fe.Problem.Offset == 0 {
		t.Fatalf("err = %v, want a file error on line 3 with an offset", err)
	}
	// A wrong type inside one vulnerability costs that vulnerability only.
	doc := strings.Replace(seedDoc, `"vulnerabilities":[{`, `"vulnerabilities":[{"cve":42},{`, 1)
	res, err := Parse("partial.json", []byte(doc), vuln.DefaultNormaliser(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Batch.Vulns) != 1 || len(res.Problems) == 0 || res.Problems[0].Line == 0 || !strings.Contains(res.Problems[0].Path, "/vulnerabilities/0") {
		t.Errorf("vulns %d problems %v; want 1 vulnerability kept and a positioned problem", len(res.Batch.Vulns), res.Problems)
	}
	// Schema validation reports what gocsaf's schema check finds.
	res, err = Parse("schema.json", []byte(strings.Replace(seedDoc, `"category":"csaf_security_advisory",`, ``, 1)), vuln.DefaultNormaliser(), Options{Schema: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range res.Problems {
		found = found || strings.HasPrefix(p.Msg, "schema:")
	}
	if !found {
		t.Errorf("document without category: no schema problem in %v", res.Problems)
	}
	if _, err := Parse("strict.json", []byte(strings.Replace(seedDoc, `"category":"csaf_security_advisory",`, ``, 1)), vuln.DefaultNormaliser(), Options{Schema: true, Strict: true}); err == nil {
		t.Error("strict mode accepted a schema violation")
	}
}
