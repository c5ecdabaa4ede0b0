package ramagen

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/heir-emd/heir/internal/testenv"
)

// The embedded table is what the shared data says (regenerate it with
// `go run gen_icsma.go` when the data changes).
func TestTableMatchesSharedData(t *testing.T) {
	dir := testenv.DataDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "kev", "known_exploited_vulnerabilities.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cat struct {
		Vulnerabilities []struct {
			CVE        string `json:"cveID"`
			Ransomware string `json:"knownRansomwareCampaignUse"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(b, &cat); err != nil {
		t.Fatal(err)
	}
	kev := map[string]string{}
	for _, v := range cat.Vulnerabilities {
		kev[v.CVE] = v.Ransomware
	}
	files, _ := filepath.Glob(filepath.Join(dir, "advisories", "csaf-icsma", "*.json"))
	if len(files) != 144 || len(icsma) != 144 {
		t.Fatalf("%d advisory files, %d in the table", len(files), len(icsma))
	}
	byID := map[string]advisory{}
	for _, a := range icsma {
		byID[a.ID] = a
	}
	kevCVEs := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Vulnerabilities []struct {
				CVE    string `json:"cve"`
				Scores []struct {
					V3 *struct {
						Base   float64 `json:"baseScore"`
						Vector string  `json:"vectorString"`
					} `json:"cvss_v3"`
				} `json:"scores"`
			} `json:"vulnerabilities"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		id := filepath.Base(f[:len(f)-len(".json")])
		a, ok := byID[id]
		if !ok {
			t.Errorf("%s missing from the table", id)
			continue
		}
		got := map[string]cve{}
		for _, c := range a.CVEs {
			got[c.ID] = c
		}
		for _, v := range d.Vulnerabilities {
			if v.CVE == "" || len(v.Scores) == 0 || v.Scores[0].V3 == nil {
				continue
			}
			c, ok := got[v.CVE]
			if !ok {
				t.Errorf("%s: %s missing", id, v.CVE)
				continue
			}
			r, inKEV := kev[v.CVE]
			if c.CVSS != v.Scores[0].V3.Base || c.Vector != v.Scores[0].V3.Vector || c.KEV != inKEV || c.Ransomware != (r == "Known") {
				t.Errorf("%s %s: table %+v", id, v.CVE, c)
			}
			if inKEV {
				kevCVEs[v.CVE] = true
			}
		}
	}
	if len(kevCVEs) != 11 {
		t.Errorf("%d KEV CVEs, the data README says 11", len(kevCVEs))
	}
}

func TestGenerateSmall(t *testing.T) {
	if n := len(Generate(Options{Devices: 0, Seed: 1})); n != 0 {
		t.Errorf("%d devices", n)
	}
	d := Generate(Options{Devices: 50, Seed: 2})
	if len(d) != 50 || d[0].ID != "dev-000000" || d[49].ID != "dev-000049" {
		t.Errorf("ids %s … %s", d[0].ID, d[len(d)-1].ID)
	}
	for _, x := range d {
		for _, v := range x.Vulnerabilities {
			if v.EPSS == nil || *v.EPSS <= 0 || *v.EPSS > 1 || *v.EPSSPercentile < 0 || *v.EPSSPercentile > 1 || v.CVSS <= 0 {
				t.Fatalf("%s: %+v", x.ID, v)
			}
		}
	}
}
