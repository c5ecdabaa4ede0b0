package epss

import (
	"strings"
	"testing"
)

// The daily file's exact format: a comment line, then the header.
const daily = `#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z
cve,epss,percentile
CVE-2017-0144,0.94358,0.99947
CVE-2020-11023,0.33123,0.96871
CVE-2024-21907,0.00214,0.44012
`

func TestParse(t *testing.T) {
	r, err := Parse("epss.csv", strings.NewReader(daily))
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "v2025.03.14" || r.Date != "2025-08-25" || len(r.Scores) != 3 {
		t.Fatalf("model %q date %q %d scores", r.Model, r.Date, len(r.Scores))
	}
	if s := r.Scores["CVE-2017-0144"]; s.Score != 0.94358 || s.Percentile != 0.99947 || s.Date != "2025-08-25" {
		t.Errorf("CVE-2017-0144 = %+v", s)
	}
	bad := daily + "CVE-2021-10001,1.5,0.2\nnot-a-cve,0.1,0.1\nCVE-2021-20002,0.1\nCVE-2021-30003,0.5,0.5\n"
	r, err = Parse("epss.csv", strings.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, p := range r.Problems {
		lines = append(lines, p.Line)
	}
	if len(r.Scores) != 4 || len(lines) != 3 || lines[0] != 6 || lines[1] != 7 || lines[2] != 8 {
		t.Errorf("%d scores, problem lines %v; want 4 and [6 7 8]", len(r.Scores), lines)
	}
	if _, err := Parse("x.csv", strings.NewReader("cve,score\nCVE-1,1\n")); err == nil {
		t.Error("wrong header accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(daily))
	f.Add([]byte("cve,epss,percentile\n\"CVE-2020-0001\",\"0.1\",0.2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz.csv", strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for id, s := range r.Scores {
			if !(s.Score >= 0 && s.Score <= 1) || !strings.HasPrefix(id, "CVE-") {
				t.Fatalf("bad score kept: %s %+v", id, s)
			}
		}
	})
}
