package csaf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/heir-emd/heir/internal/testenv"
	"github.com/heir-emd/heir/internal/vuln"
)

// FuzzParse feeds CSAF documents: the smallest real ICSMA advisories as
// seeds, plus hand-made ones with CSAF 2.1 metrics, groups and
// not-affected flags. Parsing must not panic, and every statement must
// name a CVE and a product of the document.
func FuzzParse(f *testing.F) {
	f.Add([]byte(seedDoc))
	f.Add([]byte(`{"document":{"csaf_version":"2.0","tracking":{"id":"X"}},"vulnerabilities":[{"cve":"CVE-1","product_status":{"known_affected":["nope"]}}]}`))
	if dir, ok := testenv.OptionalDataDir(); ok {
		for _, name := range []string{"icsma-17-009-01a.json", "icsma-24-151-01.json", "icsma-21-322-02.json"} {
			if data, err := os.ReadFile(filepath.Join(dir, "advisories", "csaf-icsma", name)); err == nil {
				f.Add(data)
			}
		}
	}
	norm := vuln.DefaultNormaliser()
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Parse("fuzz.json", data, norm, Options{})
		if err != nil {
			return
		}
		for _, a := range res.Batch.Affected {
			if a.CVE == "" || a.Source == "" || a.Status == "" {
				t.Fatalf("incomplete statement %+v", a)
			}
			_ = a.Versions.Compile()
		}
	})
}

const seedDoc = `{"document":{"category":"csaf_security_advisory","csaf_version":"2.0","title":"T","publisher":{"name":"P","namespace":"https://p"},
"tracking":{"id":"SEED-1","initial_release_date":"2024-01-01T00:00:00Z","current_release_date":"2024-01-02T00:00:00Z"}},
"product_tree":{"branches":[{"category":"vendor","name":"Becton, Dickinson and Company (BD)","branches":[{"category":"product_name","name":"BD Alaris PC Unit",
"branches":[{"category":"product_version_range","name":"vers:generic/>=9.0|<9.33","product":{"name":"Alaris 9.x","product_id":"P1"}},
{"category":"product_version","name":"MMT-1710","product":{"name":"variant","product_id":"P2","product_identification_helper":{"cpe":"cpe:2.3:h:bd:alaris:-:*:*:*:*:*:*:*"}}}]}]}],
"product_groups":[{"group_id":"G1","product_ids":["P1","P2"]}]},
"vulnerabilities":[{"cve":"CVE-2024-0001","cwe":{"id":"CWE-79","name":"x"},"product_status":{"known_affected":["P1"],"known_not_affected":["P2"]},
"flags":[{"label":"component_not_present","product_ids":["P2"]}],"threats":[{"category":"impact","details":"no web UI","group_ids":["G1"]}],
"remediations":[{"category":"vendor_fix","details":"update","group_ids":["G1"]}],
"scores":[{"cvss_v3":{"version":"3.1","vectorString":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","baseScore":9.8},"products":["P1"]}],
"metrics":[{"content":{"cvss_v4":{"version":"4.0","vectorString":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}},"products":["P1"]}]}]}`
