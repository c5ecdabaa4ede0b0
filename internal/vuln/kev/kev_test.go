package kev

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/heir-emd/heir/internal/testenv"
	"github.com/heir-emd/heir/internal/vuln"
)

const small = `{"title":"t","catalogVersion":"2025.08.25","dateReleased":"2025-08-25T17:04:19.9796Z","count":3,"vulnerabilities":[
{"cveID":"CVE-2017-0144","vendorProject":"Microsoft","product":"SMBv1","vulnerabilityName":"EternalBlue","dateAdded":"2022-02-10","dueDate":"2022-08-10","knownRansomwareCampaignUse":"Known","requiredAction":"Apply updates"},
{"cveID":"not-a-cve","dateAdded":"2022-02-10"},
{"cveID":["CVE-2019-0708"]}]}`

func TestParse(t *testing.T) {
	r, err := Parse("kev.json", []byte(small))
	if err != nil {
		t.Fatal(err)
	}
	k, ok := r.Entries["CVE-2017-0144"]
	if len(r.Entries) != 1 || !ok || k.Ransomware != "Known" || k.DateAdded != "2022-02-10" || r.Catalog != "2025.08.25" {
		t.Errorf("entries %+v", r.Entries)
	}
	if len(r.Problems) != 2 || r.Problems[0].Path != "/vulnerabilities/1/cveID" || r.Problems[1].Path != "/vulnerabilities/2" {
		t.Errorf("problems %v, want the bad id and the bad type, by path", r.Problems)
	}
	_, err = Parse("x.json", []byte(`{"title":"t","catalogVersion":"1",`))
	var fe *vuln.FileError
	if !errors.As(err, &fe) || fe.Problem.Line != 1 {
		t.Errorf("truncated file: %v", err)
	}
}

func TestRealCatalogue(t *testing.T) {
	data, err := os.ReadFile(testenv.DataFile(t, filepath.Join("kev", "known_exploited_vulnerabilities.json")))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse("kev.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Entries) != 1404 || len(r.Problems) != 0 {
		t.Errorf("%d entries, problems %v; want 1404 and none", len(r.Entries), r.Problems)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(small))
	f.Add([]byte(`{"catalogVersion":"1","vulnerabilities":[],"count":5}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz.json", data)
		if err != nil {
			return
		}
		for id := range r.Entries {
			if len(id) < 13 || id[:4] != "CVE-" {
				t.Fatalf("bad id kept: %q", id)
			}
		}
	})
}
