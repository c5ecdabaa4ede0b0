// Package csaf reads CSAF 2.0 (and 2.1's metrics) security advisories into
// the knowledge base's records: the product tree's vendor / product /
// version branches become product statements with version rules, each
// vulnerability's CVE, CWE, CVSS vectors (scored from the vector), product
// status (known_affected, fixed, known_not_affected with its justification)
// and remediations.
//
// Decoding is lenient and positional (a wrong type costs one field and is
// reported with its byte offset, line and column); schema validation with
// github.com/gocsaf/csaf/v3 is optional (Options.Schema) and reported as
// problems, because real advisories (CISA's among them) often break one
// schema rule while their content is sound.
package csaf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	gocsaf "github.com/gocsaf/csaf/v3/csaf"

	"github.com/heir-emd/heir/internal/vuln"
	"github.com/heir-emd/heir/internal/vuln/version"
)

// Options tunes parsing.
type Options struct {
	// Schema validates each document against the CSAF 2.0 JSON schema
	// (gocsaf) and reports violations as problems.
	Schema bool
	// Strict rejects a document with schema violations.
	Strict bool
}

// Limits on one document: more products, vulnerabilities or branch depth
// than any real advisory has are refused.
const (
	maxDepth    = 32
	maxProducts = 100_000
	maxVulns    = 20_000
	maxTextLen  = 4096
)

// Result is one parsed advisory.
type Result struct {
	Batch    vuln.Batch
	Problems []vuln.Problem
	// Products is the number of products in the product tree.
	Products int
}

// document mirrors the parts of CSAF this package reads. Fields are raw
// JSON where the spec allows several shapes or a wrong type must cost
// only that field.
type document struct {
	Document struct {
		Category    string `json:"category"`
		CSAFVersion string `json:"csaf_version"`
		Title       string `json:"title"`
		Publisher   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"publisher"`
		Tracking struct {
			ID                 string `json:"id"`
			InitialReleaseDate string `json:"initial_release_date"`
			CurrentReleaseDate string `json:"current_release_date"`
		} `json:"tracking"`
		References []reference `json:"references"`
	} `json:"document"`
	ProductTree struct {
		Branches         []branch          `json:"branches"`
		FullProductNames []fullProductName `json:"full_product_names"`
		Relationships    []struct {
			Category                  string          `json:"category"`
			ProductReference          string          `json:"product_reference"`
			RelatesToProductReference string          `json:"relates_to_product_reference"`
			FullProductName           fullProductName `json:"full_product_name"`
		} `json:"relationships"`
		ProductGroups []struct {
			GroupID    string   `json:"group_id"`
			ProductIDs []string `json:"product_ids"`
		} `json:"product_groups"`
	} `json:"product_tree"`
	Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
}

type reference struct {
	Category string `json:"category"`
	Summary  string `json:"summary"`
	URL      string `json:"url"`
}

type branch struct {
	Category string           `json:"category"`
	Name     string           `json:"name"`
	Branches []branch         `json:"branches"`
	Product  *fullProductName `json:"product"`
}

type fullProductName struct {
	Name      string `json:"name"`
	ProductID string `json:"product_id"`
	Helper    *struct {
		CPE  string `json:"cpe"`
		PURL string `json:"purl"`
	} `json:"product_identification_helper"`
}

type vulnerability struct {
	CVE   string `json:"cve"`
	Title string `json:"title"`
	CWE   *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"cwe"`
	CWEs []struct { // CSAF 2.1
		ID string `json:"id"`
	} `json:"cwes"`
	IDs []struct {
		SystemName string `json:"system_name"`
		Text       string `json:"text"`
	} `json:"ids"`
	Notes []struct {
		Category string `json:"category"`
		Text     string `json:"text"`
		Title    string `json:"title"`
	} `json:"notes"`
	ReleaseDate   string              `json:"release_date"`
	ProductStatus map[string][]string `json:"product_status"`
	Flags         []flag              `json:"flags"`
	Threats       []threat            `json:"threats"`
	Remediations  []remediation       `json:"remediations"`
	Scores        []score             `json:"scores"`
	Metrics       []metric            `json:"metrics"`
	References    []reference         `json:"references"`
}

type flag struct {
	Label      string   `json:"label"`
	ProductIDs []string `json:"product_ids"`
	GroupIDs   []string `json:"group_ids"`
}

type threat struct {
	Category   string   `json:"category"`
	Details    string   `json:"details"`
	ProductIDs []string `json:"product_ids"`
	GroupIDs   []string `json:"group_ids"`
}

type remediation struct {
	Category   string   `json:"category"`
	Details    string   `json:"details"`
	URL        string   `json:"url"`
	ProductIDs []string `json:"product_ids"`
	GroupIDs   []string `json:"group_ids"`
}

type cvssObj struct {
	Version      string  `json:"version"`
	VectorString string  `json:"vectorString"`
	BaseScore    float64 `json:"baseScore"`
}

type score struct {
	CVSS2    *cvssObj `json:"cvss_v2"`
	CVSS3    *cvssObj `json:"cvss_v3"`
	CVSS4    *cvssObj `json:"cvss_v4"`
	Products []string `json:"products"`
}

type metric struct { // CSAF 2.1
	Content struct {
		CVSS2 *cvssObj `json:"cvss_v2"`
		CVSS3 *cvssObj `json:"cvss_v3"`
		CVSS4 *cvssObj `json:"cvss_v4"`
	} `json:"content"`
	Products []string `json:"products"`
}

// product is one leaf of the product tree with what its branches said.
type product struct {
	id       string
	fullName string
	vendor   string
	name     string // product_family + product_name (+ variant)
	rng      version.Range
	field    string
	cpe      string
	purl     string
}

// Parse reads one CSAF document. file names it in problems. A document
// that is not JSON, or not a CSAF advisory, is rejected whole (a
// *vuln.FileError); problems inside it cost only what they touch.
func Parse(file string, data []byte, norm *vuln.Normaliser, opt Options) (*Result, error) {
	var doc document
	// Vulnerabilities stay raw here so that a wrong type inside one costs
	// that vulnerability only; an error elsewhere rejects the document.
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, vuln.Fatal(vuln.JSONProblem(file, data, err))
	}
	res := &Result{}
	if doc.Document.CSAFVersion == "" || doc.Document.Tracking.ID == "" {
		return nil, vuln.Fatal(vuln.Problem{File: file, Path: "/document", Msg: "not a CSAF document: csaf_version or tracking.id missing"})
	}
	if !strings.HasPrefix(doc.Document.CSAFVersion, "2.") {
		return nil, vuln.Fatal(vuln.Problem{File: file, Path: "/document/csaf_version", Msg: fmt.Sprintf("CSAF version %q not supported (2.0, 2.1)", doc.Document.CSAFVersion)})
	}
	if opt.Schema {
		var generic any
		if err := json.Unmarshal(data, &generic); err == nil {
			errs, err := gocsaf.ValidateCSAF(generic)
			if err != nil {
				res.Problems = append(res.Problems, vuln.Problem{File: file, Msg: "schema validation could not run: " + err.Error()})
			}
			for i, e := range errs {
				if i == 20 {
					res.Problems = append(res.Problems, vuln.Problem{File: file, Msg: fmt.Sprintf("… %d more schema violations", len(errs)-20)})
					break
				}
				res.Problems = append(res.Problems, vuln.Problem{File: file, Msg: "schema: " + e})
			}
			if opt.Strict && len(errs) > 0 {
				return nil, vuln.Fatal(vuln.Problem{File: file, Msg: fmt.Sprintf("%d CSAF schema violations (first: %s)", len(errs), errs[0])})
			}
		}
	}
	id := doc.Document.Tracking.ID
	source := "csaf:" + id
	adv := &vuln.Advisory{ID: id, Title: clip(doc.Document.Title), Publisher: doc.Document.Publisher.Name, File: file}
	adv.Released = parseTime(doc.Document.Tracking.InitialReleaseDate)
	adv.Updated = parseTime(doc.Document.Tracking.CurrentReleaseDate)
	for _, r := range doc.Document.References {
		if r.Category == "self" && adv.URL == "" && !strings.HasSuffix(strings.ToLower(r.URL), ".json") {
			adv.URL = r.URL
		}
	}

	// Products.
	products := map[string]*product{}
	var order []string
	add := func(p *product) {
		if p.id == "" {
			return
		}
		if _, dup := products[p.id]; dup {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Path: "/product_tree", Msg: "product_id " + p.id + " defined twice; the first kept"})
			return
		}
		if len(products) >= maxProducts {
			return
		}
		products[p.id] = p
		order = append(order, p.id)
	}
	var walk func(bs []branch, cur product, depth int, path string)
	walk = func(bs []branch, cur product, depth int, path string) {
		if depth > maxDepth {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Path: path, Msg: "product tree deeper than 32 levels; the rest ignored"})
			return
		}
		for i, b := range bs {
			p := cur
			bp := fmt.Sprintf("%s/branches/%d", path, i)
			name := strings.TrimSpace(b.Name)
			switch b.Category {
			case "vendor":
				p.vendor = name
			case "product_family":
				p.name = joinName(p.name, name)
			case "product_name":
				p.name = joinName(p.name, name)
			case "product_version":
				r := version.ParseRange(name)
				if isVersionRule(r) {
					p.rng, p.field = r, "product_version"
				} else {
					// A model number or variant ("MMT-1710", "882160 Gemini
					// Dual") in the version branch names the product.
					p.name = joinName(p.name, name)
				}
			case "product_version_range":
				p.rng, p.field = version.ParseRange(name), "product_version_range"
				if p.rng.Unparsed != "" {
					res.Problems = append(res.Problems, vuln.Problem{File: file, Path: bp, Msg: fmt.Sprintf("version rule %q not machine-readable (%s): matched on the product only", clip(name), p.rng.Unparsed)})
				}
			case "service_pack", "patch_level", "architecture", "language", "legacy", "specification", "host_name":
				// Narrower than the product: kept in the name so that the
				// evidence shows it.
				p.name = joinName(p.name, name)
			}
			if b.Product != nil {
				leaf := p
				leaf.id = b.Product.ProductID
				leaf.fullName = b.Product.Name
				if b.Product.Helper != nil {
					leaf.cpe, leaf.purl = b.Product.Helper.CPE, b.Product.Helper.PURL
				}
				add(&leaf)
			}
			walk(b.Branches, p, depth+1, bp)
		}
	}
	walk(doc.ProductTree.Branches, product{}, 0, "/product_tree")
	for _, f := range doc.ProductTree.FullProductNames {
		p := &product{id: f.ProductID, fullName: f.Name, name: f.Name}
		if f.Helper != nil {
			p.cpe, p.purl = f.Helper.CPE, f.Helper.PURL
		}
		add(p)
	}
	for _, r := range doc.ProductTree.Relationships {
		// "X installed on Y", "X default component of Y": the combined
		// product is Y's product; the statement is about X within it.
		base, ok := products[r.RelatesToProductReference]
		if !ok {
			if comp, ok2 := products[r.ProductReference]; ok2 {
				base = comp
			} else {
				continue
			}
		}
		p := *base
		p.id, p.fullName = r.FullProductName.ProductID, r.FullProductName.Name
		if comp, ok := products[r.ProductReference]; ok && r.Category == "default_component_of" {
			p.rng, p.field = comp.rng, comp.field
		}
		add(&p)
	}
	groups := map[string][]string{}
	for _, g := range doc.ProductTree.ProductGroups {
		groups[g.GroupID] = g.ProductIDs
	}
	res.Products = len(products)

	// Vulnerabilities.
	if len(doc.Vulnerabilities) > maxVulns {
		res.Problems = append(res.Problems, vuln.Problem{File: file, Path: "/vulnerabilities", Msg: fmt.Sprintf("%d vulnerabilities; only the first %d read", len(doc.Vulnerabilities), maxVulns)})
		doc.Vulnerabilities = doc.Vulnerabilities[:maxVulns]
	}
	b := vuln.Batch{Source: source, Advisory: adv}
	vulnStart := bytes.Index(data, []byte(`"vulnerabilities"`))
	for i, raw := range doc.Vulnerabilities {
		path := fmt.Sprintf("/vulnerabilities/%d", i)
		var v vulnerability
		if err := json.Unmarshal(raw, &v); err != nil {
			p := vuln.JSONProblem(file, raw, err)
			// Offsets are within the vulnerability: point into the file.
			if off := bytes.Index(data[max(vulnStart, 0):], raw); off >= 0 && vulnStart >= 0 {
				p.Offset += int64(vulnStart + off)
				p.Line, p.Column = vuln.LineCol(data, p.Offset)
			}
			p.Path = path + pathSuffix(p.Path)
			p.Msg = "vulnerability skipped: " + p.Msg
			res.Problems = append(res.Problems, p)
			continue
		}
		vid := strings.TrimSpace(v.CVE)
		if vid == "" {
			for _, x := range v.IDs {
				if x.Text != "" {
					vid = x.SystemName + ":" + x.Text
					break
				}
			}
		}
		if vid == "" {
			vid = fmt.Sprintf("%s#%d", id, i+1)
			res.Problems = append(res.Problems, vuln.Problem{File: file, Path: path, Msg: "vulnerability without CVE or id: recorded as " + vid})
		}
		if strings.HasPrefix(vid, "CVE-") && !validCVE(vid) {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Path: path + "/cve", Msg: fmt.Sprintf("%q is not a CVE id; kept as written", clip(vid))})
		}
		rec := vuln.Vulnerability{ID: vid, Title: clip(v.Title), Sources: []vuln.SourceRef{{Kind: "csaf", ID: id, URL: adv.URL}}}
		rec.Published = parseTime(v.ReleaseDate)
		if v.CWE != nil && v.CWE.ID != "" {
			rec.CWEs = append(rec.CWEs, v.CWE.ID)
		}
		for _, c := range v.CWEs {
			if c.ID != "" {
				rec.CWEs = append(rec.CWEs, c.ID)
			}
		}
		for _, n := range v.Notes {
			if (n.Category == "summary" || n.Category == "description") && rec.Description == "" {
				rec.Description = clip(n.Text)
			}
		}
		addScore := func(c *cvssObj, hint, where string) {
			if c == nil || c.VectorString == "" {
				return
			}
			sc, err := vuln.ScoreVector(c.VectorString, hint)
			if err != nil {
				res.Problems = append(res.Problems, vuln.Problem{File: file, Path: path + where, Msg: err.Error()})
				return
			}
			sc.Stated, sc.Source = c.BaseScore, id
			if c.BaseScore != 0 && abs(c.BaseScore-sc.BaseScore) > 0.05 {
				res.Problems = append(res.Problems, vuln.Problem{File: file, Path: path + where, Msg: fmt.Sprintf("stated base score %.1f differs from the vector's %.1f; the vector's is used", c.BaseScore, sc.BaseScore)})
			}
			rec.CVSS = appendCVSS(rec.CVSS, sc)
		}
		for j, s := range v.Scores {
			addScore(s.CVSS3, s.version3(), fmt.Sprintf("/scores/%d/cvss_v3", j))
			addScore(s.CVSS2, "2.0", fmt.Sprintf("/scores/%d/cvss_v2", j))
			addScore(s.CVSS4, "4.0", fmt.Sprintf("/scores/%d/cvss_v4", j))
		}
		for j, m := range v.Metrics {
			addScore(m.Content.CVSS3, "", fmt.Sprintf("/metrics/%d/content/cvss_v3", j))
			addScore(m.Content.CVSS2, "2.0", fmt.Sprintf("/metrics/%d/content/cvss_v2", j))
			addScore(m.Content.CVSS4, "4.0", fmt.Sprintf("/metrics/%d/content/cvss_v4", j))
		}
		// CSAF 2.0 has no place for CVSS v4; CISA puts the v4 vector in a
		// calculator link among the references.
		var texts []string
		for _, r := range v.References {
			texts = append(texts, r.URL)
		}
		for _, n := range v.Notes {
			texts = append(texts, n.Text)
		}
		for _, vec := range vuln.FindV4Vectors(strings.Join(texts, " ")) {
			if sc, err := vuln.ScoreVector(vec, "4.0"); err == nil {
				sc.Source = id + " (reference)"
				rec.CVSS = appendCVSS(rec.CVSS, sc)
			} else {
				res.Problems = append(res.Problems, vuln.Problem{File: file, Path: path + "/references", Msg: err.Error()})
			}
		}
		b.Vulns = append(b.Vulns, rec)
		adv.CVEs = append(adv.CVEs, vid)

		// Product status → statements.
		expand := func(ids, gids []string) []string {
			out := append([]string(nil), ids...)
			for _, g := range gids {
				out = append(out, groups[g]...)
			}
			return out
		}
		justification := map[string]string{}
		for _, f := range v.Flags {
			for _, pid := range expand(f.ProductIDs, f.GroupIDs) {
				justification[pid] = f.Label
			}
		}
		impact := map[string]string{}
		for _, t := range v.Threats {
			if t.Category != "impact" {
				continue
			}
			for _, pid := range expand(t.ProductIDs, t.GroupIDs) {
				impact[pid] = clip(t.Details)
			}
		}
		remedy := map[string]string{}
		for _, r := range v.Remediations {
			txt := strings.TrimSpace(r.Category + ": " + r.Details)
			if r.URL != "" {
				txt += " " + r.URL
			}
			for _, pid := range expand(r.ProductIDs, r.GroupIDs) {
				if cur, ok := remedy[pid]; !ok || (r.Category == "vendor_fix" && !strings.HasPrefix(cur, "vendor_fix")) {
					remedy[pid] = clip(txt)
				}
			}
		}
		statusKeys := make([]string, 0, len(v.ProductStatus))
		for k := range v.ProductStatus {
			statusKeys = append(statusKeys, k)
		}
		sort.Strings(statusKeys)
		for _, st := range statusKeys {
			status := ""
			switch st {
			case "known_affected", "first_affected", "last_affected":
				status = vuln.StatusAffected
			case "fixed", "first_fixed":
				status = vuln.StatusFixed
			case "known_not_affected":
				status = vuln.StatusNotAffected
			case "under_investigation":
				status = vuln.StatusUnderInvestigation
			default:
				continue // recommended: not a statement about affectedness
			}
			for _, pid := range v.ProductStatus[st] {
				p, ok := products[pid]
				if !ok {
					res.Problems = append(res.Problems, vuln.Problem{File: file, Path: path + "/product_status/" + st, Msg: "unknown product_id " + clip(pid)})
					continue
				}
				for _, a := range statements(p, vid, source, status, norm) {
					if status == vuln.StatusNotAffected {
						a.Justification = justification[pid]
						a.Detail = impact[pid]
					}
					a.Remediation = remedy[pid]
					b.Affected = append(b.Affected, a)
				}
			}
		}
	}
	res.Batch = b
	return res, nil
}

// statements turns a product into one statement per vendor key (an
// advisory may name several vendors in one branch).
func statements(p *product, cve, source, status string, norm *vuln.Normaliser) []vuln.Affected {
	base := vuln.Affected{
		CVE: cve, Source: source, Vendor: p.vendor, Product: p.name, CPE: p.cpe, PURL: p.purl,
		Versions: p.rng, VersionField: p.field, Status: status, ProductID: p.id, ProductName: clip(p.fullName),
	}
	if p.field == "" {
		base.Versions = version.AllVersions("")
		base.VersionField = "none (every version)"
	}
	name := p.name
	if name == "" {
		name = p.fullName
	}
	keys := norm.VendorKeys(p.vendor)
	if len(keys) == 0 {
		keys = []string{""}
	}
	out := make([]vuln.Affected, 0, len(keys))
	for _, vk := range keys {
		a := base
		a.VendorKey = vk
		a.ProductKey = norm.Product(vk, name)
		out = append(out, a)
	}
	return out
}

// isVersionRule says whether a product_version branch holds versions
// (every bound starts with a digit, or v/r and a digit, or is a dotted
// letter revision such as A.01) rather than a model or variant name.
func isVersionRule(r version.Range) bool {
	if r.All {
		return true
	}
	if r.Unparsed != "" || len(r.Intervals) == 0 {
		return false
	}
	for _, iv := range r.Intervals {
		for _, s := range []string{iv.Exact, iv.Prefix, iv.Lo, iv.Hi} {
			if s != "" && !versionish(s) {
				return false
			}
		}
	}
	return true
}

func versionish(s string) bool {
	s = strings.ToLower(s)
	if s == "" {
		return false
	}
	if s[0] >= '0' && s[0] <= '9' {
		return true
	}
	if len(s) > 1 && (s[0] == 'v' || s[0] == 'r') && s[1] >= '0' && s[1] <= '9' {
		return true
	}
	// A.01, B.02: a letter, a dot and digits.
	return len(s) > 2 && s[0] >= 'a' && s[0] <= 'z' && s[1] == '.' && s[2] >= '0' && s[2] <= '9'
}

func (s score) version3() string {
	if s.CVSS3 == nil {
		return ""
	}
	return s.CVSS3.Version
}

func appendCVSS(list []vuln.CVSS, c vuln.CVSS) []vuln.CVSS {
	for _, x := range list {
		if x.Version == c.Version && x.Vector == c.Vector {
			return list
		}
	}
	return append(list, c)
}

func joinName(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || strings.Contains(strings.ToLower(a), strings.ToLower(b)):
		return a
	}
	return a + " " + b
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxTextLen {
		return s[:maxTextLen] + "…"
	}
	return s
}

func parseTime(s string) time.Time {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z07:00", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func validCVE(s string) bool {
	if len(s) < 13 || len(s) > 24 || s[8] != '-' {
		return false
	}
	for i, c := range s[4:] {
		if i == 4 {
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func pathSuffix(field string) string {
	if field == "" {
		return ""
	}
	return "/" + strings.ReplaceAll(field, ".", "/")
}
