// Package nvd reads NVD CVE JSON 2.0 feed files (nvdcve-2.0-YYYY.json, as
// the NVD data feeds and the 2.0 API's pages give them): each CVE's
// descriptions, CVSS v2/v3.x/v4 metrics (re-scored from the vectors),
// CWEs, and CPE match configurations with their version ranges
// (versionStartIncluding/Excluding, versionEndIncluding/Excluding), and
// the .meta files that carry the feed's sha256.
package nvd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/vuln"
	"github.com/heir-emd/heir/internal/vuln/cpe"
	"github.com/heir-emd/heir/internal/vuln/version"
)

// Limits per record: NVD's largest configurations have a few thousand
// cpeMatch entries (Linux kernel, Android).
const (
	maxMatches    = 20_000
	maxDescLen    = 4096
	maxRecords    = 1_000_000
	maxConfigs    = 1_000
	maxPlatform   = 64
	sourceNVD     = "nvd"
	timeLayoutNVD = "2006-01-02T15:04:05.000"
)

type feed struct {
	Format          string            `json:"format"`
	Version         string            `json:"version"`
	Timestamp       string            `json:"timestamp"`
	TotalResults    *int              `json:"totalResults"`
	Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
}

type item struct {
	CVE record `json:"cve"`
}

type record struct {
	ID           string `json:"id"`
	Published    string `json:"published"`
	LastModified string `json:"lastModified"`
	VulnStatus   string `json:"vulnStatus"`
	Descriptions []struct {
		Lang  string `json:"lang"`
		Value string `json:"value"`
	} `json:"descriptions"`
	Metrics struct {
		V40 []metric `json:"cvssMetricV40"`
		V31 []metric `json:"cvssMetricV31"`
		V30 []metric `json:"cvssMetricV30"`
		V2  []metric `json:"cvssMetricV2"`
	} `json:"metrics"`
	Weaknesses []struct {
		Description []struct {
			Value string `json:"value"`
		} `json:"description"`
	} `json:"weaknesses"`
	Configurations []configuration `json:"configurations"`
}

type metric struct {
	Source   string `json:"source"`
	Type     string `json:"type"`
	CVSSData struct {
		Version      string  `json:"version"`
		VectorString string  `json:"vectorString"`
		BaseScore    float64 `json:"baseScore"`
	} `json:"cvssData"`
}

type configuration struct {
	Operator string `json:"operator"`
	Negate   bool   `json:"negate"`
	Nodes    []node `json:"nodes"`
}

type node struct {
	Operator string     `json:"operator"`
	Negate   bool       `json:"negate"`
	CPEMatch []cpeMatch `json:"cpeMatch"`
}

type cpeMatch struct {
	Vulnerable            bool   `json:"vulnerable"`
	Criteria              string `json:"criteria"`
	MatchCriteriaID       string `json:"matchCriteriaId"`
	VersionStartIncluding string `json:"versionStartIncluding"`
	VersionStartExcluding string `json:"versionStartExcluding"`
	VersionEndIncluding   string `json:"versionEndIncluding"`
	VersionEndExcluding   string `json:"versionEndExcluding"`
}

// Result is one parsed feed file.
type Result struct {
	Timestamp string
	Records   int
	Batch     vuln.Batch
	Problems  []vuln.Problem
}

// Parse reads one feed file. source names the statements' source: feeds
// are imported file by file, so "nvd:<file base name>" lets a re-import of
// one year's file replace that year only.
func Parse(file, source string, data []byte, norm *vuln.Normaliser) (*Result, error) {
	var f feed
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, vuln.Fatal(vuln.JSONProblem(file, data, err))
	}
	if f.Format != "NVD_CVE" || !strings.HasPrefix(f.Version, "2.") {
		return nil, vuln.Fatal(vuln.Problem{File: file, Msg: fmt.Sprintf("not an NVD CVE 2.0 feed: format %q version %q", f.Format, f.Version)})
	}
	if len(f.Vulnerabilities) > maxRecords {
		return nil, vuln.Fatal(vuln.Problem{File: file, Msg: fmt.Sprintf("%d records, more than %d", len(f.Vulnerabilities), maxRecords)})
	}
	res := &Result{Timestamp: f.Timestamp}
	res.Batch.Source = source
	if f.TotalResults != nil && *f.TotalResults != len(f.Vulnerabilities) {
		res.Problems = append(res.Problems, vuln.Problem{File: file, Path: "/totalResults", Msg: fmt.Sprintf("totalResults %d but %d records (a partial page?)", *f.TotalResults, len(f.Vulnerabilities))})
	}
	for i, raw := range f.Vulnerabilities {
		path := "/vulnerabilities/" + strconv.Itoa(i)
		var it item
		if err := json.Unmarshal(raw, &it); err != nil {
			p := vuln.JSONProblem(file, raw, err)
			p.Path, p.Offset, p.Line, p.Column = path+"/"+strings.ReplaceAll(p.Path, ".", "/"), 0, 0, 0
			p.Msg = "record skipped: " + p.Msg
			res.Problems = append(res.Problems, p)
			continue
		}
		r := it.CVE
		if !strings.HasPrefix(r.ID, "CVE-") || len(r.ID) > 24 {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Path: path + "/cve/id", Msg: fmt.Sprintf("%q is not a CVE id; record skipped", clip(r.ID, 40))})
			continue
		}
		if r.VulnStatus == "Rejected" {
			continue
		}
		res.Records++
		v := vuln.Vulnerability{ID: r.ID, Sources: []vuln.SourceRef{{Kind: sourceNVD, ID: r.ID}}}
		v.Published = parseTime(r.Published)
		v.Modified = parseTime(r.LastModified)
		for _, d := range r.Descriptions {
			if d.Lang == "en" {
				v.Description = clip(d.Value, maxDescLen)
				break
			}
		}
		for _, w := range r.Weaknesses {
			for _, d := range w.Description {
				if strings.HasPrefix(d.Value, "CWE-") {
					v.CWEs = appendUnique(v.CWEs, d.Value)
				}
			}
		}
		for _, group := range []struct {
			list []metric
			hint string
			name string
		}{{r.Metrics.V31, "3.1", "cvssMetricV31"}, {r.Metrics.V30, "3.0", "cvssMetricV30"}, {r.Metrics.V40, "4.0", "cvssMetricV40"}, {r.Metrics.V2, "2.0", "cvssMetricV2"}} {
			for j, m := range group.list {
				if m.CVSSData.VectorString == "" {
					continue
				}
				sc, err := vuln.ScoreVector(m.CVSSData.VectorString, group.hint)
				if err != nil {
					res.Problems = append(res.Problems, vuln.Problem{File: file, Path: fmt.Sprintf("%s/cve/metrics/%s/%d", path, group.name, j), Msg: err.Error()})
					continue
				}
				sc.Stated, sc.Source = m.CVSSData.BaseScore, sourceNVD
				if m.Source != "" && m.Source != "nvd@nist.gov" {
					sc.Source = m.Source
				}
				v.CVSS = append(v.CVSS, sc)
			}
		}
		res.Batch.Vulns = append(res.Batch.Vulns, v)
		n := 0
		if len(r.Configurations) > maxConfigs {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Path: path + "/cve/configurations", Msg: fmt.Sprintf("%d configurations; the first %d read", len(r.Configurations), maxConfigs)})
			r.Configurations = r.Configurations[:maxConfigs]
		}
		for ci, c := range r.Configurations {
			if c.Negate {
				continue
			}
			// In an AND configuration, every non-vulnerable entry of the
			// other nodes is a platform the vulnerable entries need.
			var platform []string
			if strings.EqualFold(c.Operator, "AND") {
				for _, nd := range c.Nodes {
					for _, m := range nd.CPEMatch {
						if !m.Vulnerable && !nd.Negate && len(platform) < maxPlatform {
							platform = append(platform, m.Criteria)
						}
					}
				}
			}
			for ni, nd := range c.Nodes {
				if nd.Negate {
					continue
				}
				for mi, m := range nd.CPEMatch {
					if !m.Vulnerable {
						continue
					}
					if n >= maxMatches {
						break
					}
					mpath := fmt.Sprintf("%s/cve/configurations/%d/nodes/%d/cpeMatch/%d", path, ci, ni, mi)
					a, err := statement(r.ID, source, m, norm)
					if err != nil {
						res.Problems = append(res.Problems, vuln.Problem{File: file, Path: mpath, Msg: err.Error()})
						continue
					}
					a.Platform = platform
					res.Batch.Affected = append(res.Batch.Affected, a)
					n++
				}
			}
		}
	}
	return res, nil
}

func statement(id, source string, m cpeMatch, norm *vuln.Normaliser) (vuln.Affected, error) {
	name, err := cpe.Parse(m.Criteria)
	if err != nil {
		return vuln.Affected{}, err
	}
	vendor, product := name.Get(cpe.Vendor), name.Get(cpe.Product)
	a := vuln.Affected{CVE: id, Source: source, Vendor: vendor, Product: product, CPE: m.Criteria, Status: vuln.StatusAffected}
	if vendor != "" {
		a.VendorKey = norm.Vendor(vendor)
	}
	if product != "" {
		a.ProductKey = norm.Product(a.VendorKey, product)
	}
	a.Versions = version.FromBounds(name.Attr(cpe.Version), m.VersionStartIncluding, m.VersionStartExcluding, m.VersionEndIncluding, m.VersionEndExcluding)
	var fields []string
	for _, f := range []struct{ k, v string }{{"versionStartIncluding", m.VersionStartIncluding}, {"versionStartExcluding", m.VersionStartExcluding},
		{"versionEndIncluding", m.VersionEndIncluding}, {"versionEndExcluding", m.VersionEndExcluding}} {
		if f.v != "" {
			fields = append(fields, f.k)
		}
	}
	if len(fields) == 0 {
		fields = []string{"criteria version"}
	}
	a.VersionField = strings.Join(fields, "+")
	return a, nil
}

// Meta is an NVD feed's .meta file.
type Meta struct {
	LastModified string
	Size         int64
	SHA256       string // of the uncompressed JSON, upper-case hex as NVD writes it
}

// ParseMeta reads a .meta file: "key:value" lines.
func ParseMeta(r io.Reader) (Meta, error) {
	var m Meta
	sc := bufio.NewScanner(io.LimitReader(r, 64<<10))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		switch k {
		case "lastModifiedDate":
			m.LastModified = v
		case "size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return m, fmt.Errorf("meta size %q: %w", v, err)
			}
			m.Size = n
		case "sha256":
			m.SHA256 = strings.ToUpper(v)
		}
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if len(m.SHA256) != 64 {
		return m, fmt.Errorf("meta file without a sha256")
	}
	return m, nil
}

func parseTime(s string) time.Time {
	for _, l := range []string{timeLayoutNVD, time.RFC3339Nano, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
