package vuln

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

// maxVectorLen bounds a CVSS vector string (v4 with every environmental
// metric is about 300 bytes).
const maxVectorLen = 512

// ScoreVector parses a CVSS vector and computes its base score (for v4,
// the CVSS-B/BT/BE/BTE score the vector's metrics give). Version 2 vectors
// have no prefix; a v3 vector without its "CVSS:3.x/" prefix (as some
// advisories print it in prose) is read as 3.1 when hint is "3.1", 3.0
// when "3.0".
func ScoreVector(vector, hint string) (CVSS, error) {
	v := strings.TrimSpace(vector)
	if len(v) > maxVectorLen {
		return CVSS{}, fmt.Errorf("CVSS vector longer than %d bytes", maxVectorLen)
	}
	v = strings.Trim(v, "()")
	if !strings.HasPrefix(v, "CVSS:") && strings.HasPrefix(v, "AV:") && (hint == "3.0" || hint == "3.1") {
		v = "CVSS:" + hint + "/" + v
	}
	switch {
	case strings.HasPrefix(v, "CVSS:4.0/"):
		c, err := gocvss40.ParseVector(v)
		if err != nil {
			return CVSS{}, fmt.Errorf("CVSS 4.0 vector %q: %w", v, err)
		}
		s := round1(c.Score())
		return CVSS{Version: "4.0", Vector: v, BaseScore: s, Severity: severity(s)}, nil
	case strings.HasPrefix(v, "CVSS:3.1/"):
		c, err := gocvss31.ParseVector(v)
		if err != nil {
			return CVSS{}, fmt.Errorf("CVSS 3.1 vector %q: %w", v, err)
		}
		s := c.BaseScore()
		return CVSS{Version: "3.1", Vector: v, BaseScore: s, Severity: severity(s)}, nil
	case strings.HasPrefix(v, "CVSS:3.0/"):
		c, err := gocvss30.ParseVector(v)
		if err != nil {
			return CVSS{}, fmt.Errorf("CVSS 3.0 vector %q: %w", v, err)
		}
		s := c.BaseScore()
		return CVSS{Version: "3.0", Vector: v, BaseScore: s, Severity: severity(s)}, nil
	case strings.HasPrefix(v, "AV:") || hint == "2.0":
		c, err := gocvss20.ParseVector(v)
		if err != nil {
			return CVSS{}, fmt.Errorf("CVSS 2.0 vector %q: %w", v, err)
		}
		s := c.BaseScore()
		return CVSS{Version: "2.0", Vector: v, BaseScore: s, Severity: severity2(s)}, nil
	}
	return CVSS{}, fmt.Errorf("CVSS vector %q: unknown version", v)
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// severity is the qualitative rating of CVSS v3 and v4 scores.
func severity(s float64) string {
	switch {
	case s == 0:
		return "NONE"
	case s < 4:
		return "LOW"
	case s < 7:
		return "MEDIUM"
	case s < 9:
		return "HIGH"
	}
	return "CRITICAL"
}

// severity2 is NVD's rating of CVSS v2 scores (v2 itself defines none).
func severity2(s float64) string {
	switch {
	case s < 4:
		return "LOW"
	case s < 7:
		return "MEDIUM"
	}
	return "HIGH"
}

// reV4 finds CVSS v4 vectors written in text or calculator links.
var reV4 = regexp.MustCompile(`CVSS:4\.0(?:/[A-Za-z]{1,3}:[A-Za-z])+`)

// FindV4Vectors returns the CVSS v4.0 vectors in a text (a note, a
// reference URL to FIRST's calculator), each once.
func FindV4Vectors(text string) []string {
	var out []string
	for _, m := range reV4.FindAllString(text, 4) {
		dup := false
		for _, o := range out {
			dup = dup || o == m
		}
		if !dup {
			out = append(out, m)
		}
	}
	return out
}

// BestCVSS returns the score RAMA should use: a v3.1 base score, else
// v3.0, else v4.0, else v2 (v3 first because most sources and RAMA's
// calibration speak v3; v4 scores run differently), the highest score
// among equals. ok is false when there is none.
func (v *Vulnerability) BestCVSS() (CVSS, bool) {
	rank := map[string]int{"3.1": 4, "3.0": 3, "4.0": 2, "2.0": 1}
	var best CVSS
	found := false
	for _, c := range v.CVSS {
		if !found || rank[c.Version] > rank[best.Version] || (rank[c.Version] == rank[best.Version] && c.BaseScore > best.BaseScore) {
			best, found = c, true
		}
	}
	return best, found
}
