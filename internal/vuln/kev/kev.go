// Package kev reads the CISA Known Exploited Vulnerabilities catalogue
// (known_exploited_vulnerabilities.json, schema in the same repository).
package kev

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/heir-emd/heir/internal/vuln"
)

// maxEntries bounds the catalogue (1,404 entries in August 2025).
const maxEntries = 200_000

type catalog struct {
	Title           string            `json:"title"`
	CatalogVersion  string            `json:"catalogVersion"`
	DateReleased    string            `json:"dateReleased"`
	Count           *int              `json:"count"`
	Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
}

type entry struct {
	CVEID                      string `json:"cveID"`
	VendorProject              string `json:"vendorProject"`
	Product                    string `json:"product"`
	VulnerabilityName          string `json:"vulnerabilityName"`
	DateAdded                  string `json:"dateAdded"`
	RequiredAction             string `json:"requiredAction"`
	DueDate                    string `json:"dueDate"`
	KnownRansomwareCampaignUse string `json:"knownRansomwareCampaignUse"`
}

// Result is a parsed catalogue.
type Result struct {
	Catalog  string
	Released string
	Entries  map[string]vuln.KEV
	Problems []vuln.Problem
}

// Parse reads a catalogue. A file that is not a KEV catalogue is rejected
// whole; a bad entry costs that entry and is reported with its position.
func Parse(file string, data []byte) (*Result, error) {
	var c catalog
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, vuln.Fatal(vuln.JSONProblem(file, data, err))
	}
	if c.Vulnerabilities == nil || c.CatalogVersion == "" {
		return nil, vuln.Fatal(vuln.Problem{File: file, Msg: "not a KEV catalogue: catalogVersion or vulnerabilities missing"})
	}
	if len(c.Vulnerabilities) > maxEntries {
		return nil, vuln.Fatal(vuln.Problem{File: file, Path: "/vulnerabilities", Msg: fmt.Sprintf("%d entries, more than %d", len(c.Vulnerabilities), maxEntries)})
	}
	r := &Result{Catalog: c.CatalogVersion, Released: c.DateReleased, Entries: make(map[string]vuln.KEV, len(c.Vulnerabilities))}
	for i, raw := range c.Vulnerabilities {
		path := fmt.Sprintf("/vulnerabilities/%d", i)
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			p := vuln.JSONProblem(file, raw, err)
			p.Path, p.Offset, p.Line, p.Column = path, 0, 0, 0
			r.Problems = append(r.Problems, p)
			continue
		}
		id := strings.TrimSpace(e.CVEID)
		if !strings.HasPrefix(id, "CVE-") || len(id) < 13 || len(id) > 24 {
			r.Problems = append(r.Problems, vuln.Problem{File: file, Path: path + "/cveID", Msg: fmt.Sprintf("%q is not a CVE id; entry skipped", clip(id))})
			continue
		}
		if e.DateAdded == "" {
			r.Problems = append(r.Problems, vuln.Problem{File: file, Path: path + "/dateAdded", Msg: "dateAdded missing; entry kept"})
		}
		if _, dup := r.Entries[id]; dup {
			r.Problems = append(r.Problems, vuln.Problem{File: file, Path: path, Msg: id + " listed twice; the first kept"})
			continue
		}
		r.Entries[id] = vuln.KEV{DateAdded: e.DateAdded, DueDate: e.DueDate, Vendor: clip(e.VendorProject), Product: clip(e.Product),
			Name: clip(e.VulnerabilityName), Ransomware: e.KnownRansomwareCampaignUse, Action: clip(e.RequiredAction), Catalog: c.CatalogVersion}
	}
	if c.Count != nil && *c.Count != len(c.Vulnerabilities) {
		r.Problems = append(r.Problems, vuln.Problem{File: file, Path: "/count", Msg: fmt.Sprintf("count says %d, the catalogue lists %d", *c.Count, len(c.Vulnerabilities))})
	}
	return r, nil
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 1024 {
		return s[:1024] + "…"
	}
	return s
}
