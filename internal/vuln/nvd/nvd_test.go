package nvd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/vuln"
)

func fixture(t testing.TB) []byte {
	data, err := os.ReadFile(filepath.Join("..", "importer", "testdata", "nvdcve-2.0-sbom-fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParse(t *testing.T) {
	r, err := Parse("f.json", "nvd:f", fixture(t), vuln.DefaultNormaliser())
	if err != nil {
		t.Fatal(err)
	}
	if r.Records != 11 || len(r.Problems) != 0 {
		t.Fatalf("%d records, problems %v", r.Records, r.Problems)
	}
	for _, a := range r.Batch.Affected {
		if a.CVE == "CVE-2020-11022" {
			if a.VendorKey != "jquery" || a.ProductKey != "jquery" || a.Versions.Raw != ">=1.2|<3.5.0" || a.VersionField != "versionStartIncluding+versionEndExcluding" {
				t.Errorf("CVE-2020-11022 statement %+v", a)
			}
		}
	}
}

const andConfig = `{"format":"NVD_CVE","version":"2.0","totalResults":1,"vulnerabilities":[{"cve":{"id":"CVE-2099-0001","vulnStatus":"Analyzed",
"metrics":{"cvssMetricV2":[{"cvssData":{"version":"2.0","vectorString":"AV:N/AC:L/Au:N/C:P/I:P/A:P","baseScore":7.5}}]},
"configurations":[{"operator":"AND","nodes":[{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:o:acme:pump_firmware:*:*:*:*:*:*:*:*","versionEndIncluding":"2.3.1 SP4"}]},
{"operator":"OR","cpeMatch":[{"vulnerable":false,"criteria":"cpe:2.3:h:acme:pump:-:*:*:*:*:*:*:*"}]}]}]}},
{"cve":{"id":"CVE-2099-0002","configurations":[{"nodes":[{"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:bad"}]}]}]}},
{"cve":{"id":42}}]}`

func TestParseANDAndErrors(t *testing.T) {
	r, err := Parse("a.json", "nvd:a", []byte(andConfig), vuln.DefaultNormaliser())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Batch.Affected) != 1 {
		t.Fatalf("statements %+v", r.Batch.Affected)
	}
	a := r.Batch.Affected[0]
	if len(a.Platform) != 1 || a.Platform[0] != "cpe:2.3:h:acme:pump:-:*:*:*:*:*:*:*" || a.Versions.Intervals[0].Hi != "2.3.1 SP4" || !a.Versions.Intervals[0].HiIncl {
		t.Errorf("AND statement %+v", a)
	}
	if v := r.Batch.Vulns[0]; len(v.CVSS) != 1 || v.CVSS[0].Version != "2.0" || v.CVSS[0].BaseScore != 7.5 {
		t.Errorf("v2 score %+v", v.CVSS)
	}
	msgs := ""
	for _, p := range r.Problems {
		msgs += p.String() + "\n"
	}
	if !strings.Contains(msgs, "/vulnerabilities/1/cve/configurations/0/nodes/0/cpeMatch/0") || !strings.Contains(msgs, "/vulnerabilities/2") || !strings.Contains(msgs, "totalResults 1 but 3") {
		t.Errorf("problems:\n%s", msgs)
	}
}

func TestParseMeta(t *testing.T) {
	m, err := ParseMeta(strings.NewReader("lastModifiedDate:2024-06-01T03:00:01-04:00\r\nsize:123\r\nzipSize:4\r\ngzSize:5\r\nsha256:" + strings.Repeat("ab", 32) + "\r\n"))
	if err != nil || m.Size != 123 || m.SHA256 != strings.Repeat("AB", 32) {
		t.Errorf("meta %+v %v", m, err)
	}
	if _, err := ParseMeta(strings.NewReader("size:1\n")); err == nil {
		t.Error("meta without sha256 accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(andConfig))
	f.Add(fixture(f))
	norm := vuln.DefaultNormaliser()
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz.json", "nvd:fuzz", data, norm)
		if err != nil {
			return
		}
		for _, a := range r.Batch.Affected {
			if a.CPE == "" || a.CVE == "" {
				t.Fatalf("statement without CPE or CVE: %+v", a)
			}
			_ = a.Versions.Compile()
		}
	})
}
