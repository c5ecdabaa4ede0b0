package inventory

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/heir-emd/heir/internal/vuln"
	"github.com/heir-emd/heir/internal/vuln/version"
)

// Limits on one BOM.
const (
	maxComponents = 100_000
	maxDepth      = 16
	maxVulns      = 100_000
)

// decodeBOM reads CycloneDX JSON or XML (chosen by the first non-space
// byte), reporting the position of a decoding error.
func decodeBOM(file string, data []byte) (*cdx.BOM, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	format := cdx.BOMFileFormatJSON
	if len(trimmed) > 0 && trimmed[0] == '<' {
		format = cdx.BOMFileFormatXML
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), format).Decode(&bom); err != nil {
		if format == cdx.BOMFileFormatXML {
			p := vuln.Problem{File: file, Msg: "CycloneDX XML: " + err.Error()}
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				p.Line = se.Line
			}
			return nil, vuln.Fatal(p)
		}
		return nil, vuln.Fatal(vuln.JSONProblem(file, data, err))
	}
	if format == cdx.BOMFileFormatJSON && bom.BOMFormat != "CycloneDX" {
		return nil, vuln.Fatal(vuln.Problem{File: file, Path: "/bomFormat", Msg: fmt.Sprintf("bomFormat %q, want CycloneDX", clip(bom.BOMFormat))})
	}
	return &bom, nil
}

// SBOMResult is an imported SBOM.
type SBOMResult struct {
	SBOM     vuln.SBOM
	Problems []vuln.Problem
	// VEX holds the statements of the BOM's own vulnerabilities section,
	// when it has one.
	VEX []vuln.Affected
}

// ReadSBOM reads a CycloneDX SBOM (JSON or XML, spec 1.2-1.6) and attaches
// it to a device model. vendor and model name the model; when empty they
// come from the BOM's metadata (component manufacturer, supplier or
// author, and name). A BOM that names no model and is given none is
// rejected: an SBOM nobody can attach to devices matches nothing.
func ReadSBOM(file string, data []byte, vendor, model string, norm *vuln.Normaliser) (*SBOMResult, error) {
	bom, err := decodeBOM(file, data)
	if err != nil {
		return nil, err
	}
	res := &SBOMResult{}
	if bom.Metadata != nil && bom.Metadata.Component != nil {
		mc := bom.Metadata.Component
		if model == "" && !redacted(mc.Name) {
			model = mc.Name
		}
		if vendor == "" {
			for _, v := range []string{orgName(mc.Manufacturer), orgName(mc.Supplier), orgName(bom.Metadata.Manufacturer), orgName(bom.Metadata.Supplier), mc.Author, mc.Publisher} {
				if v != "" && !redacted(v) {
					vendor = v
					break
				}
			}
		}
	}
	if model == "" {
		return nil, vuln.Fatal(vuln.Problem{File: file, Path: "/metadata/component/name", Msg: "the SBOM names no device model (or it is redacted): give the vendor and model it belongs to"})
	}
	s := vuln.SBOM{Vendor: vendor, Model: model, ModelKey: norm.ModelKey(vendor, model), Serial: bom.SerialNumber, File: file}
	var walk func(list *[]cdx.Component, path string, depth int)
	walk = func(list *[]cdx.Component, path string, depth int) {
		if list == nil {
			return
		}
		if depth > maxDepth {
			res.Problems = append(res.Problems, vuln.Problem{File: file, Path: path, Msg: "components nested deeper than 16 levels; ignored"})
			return
		}
		for i := range *list {
			c := &(*list)[i]
			p := fmt.Sprintf("%s/%d", path, i)
			if len(s.Components) >= maxComponents {
				res.Problems = append(res.Problems, vuln.Problem{File: file, Path: p, Msg: fmt.Sprintf("more than %d components; the rest ignored", maxComponents)})
				return
			}
			comp := vuln.Component{Type: string(c.Type), Name: c.Name, Version: c.Version, CPE: c.CPE, PURL: c.PackageURL, BOMRef: c.BOMRef}
			comp.Vendor = firstNonEmpty(orgName(c.Manufacturer), orgName(c.Supplier), c.Publisher, c.Author)
			if redacted(comp.Vendor) {
				comp.Vendor = ""
			}
			if comp.Name == "" && comp.CPE == "" && comp.PURL == "" {
				res.Problems = append(res.Problems, vuln.Problem{File: file, Path: p, Msg: "component without name, cpe or purl; skipped"})
				continue
			}
			if comp.CPE != "" {
				if err := checkCPE(comp.CPE); err != nil {
					res.Problems = append(res.Problems, vuln.Problem{File: file, Path: p + "/cpe", Msg: err.Error() + "; the CPE is ignored"})
					comp.CPE = ""
				}
			}
			s.Components = append(s.Components, comp)
			walk(c.Components, p+"/components", depth+1)
		}
	}
	walk(bom.Components, "/components", 0)
	res.SBOM = s
	if bom.Vulnerabilities != nil && len(*bom.Vulnerabilities) > 0 {
		vex, probs := vexStatements(file, bom, s, norm)
		res.VEX, res.Problems = vex, append(res.Problems, probs...)
	}
	return res, nil
}

// VEXResult is an imported VEX document.
type VEXResult struct {
	Source     string
	Statements []vuln.Affected
	Problems   []vuln.Problem
}

// ReadVEX reads a CycloneDX VEX (a BOM whose vulnerabilities section
// carries analysis states). Each affects.ref is resolved against the
// BOM's own components, then against sbom (the SBOM of the model the VEX
// is about, may be empty); a ref that is a package URL stands for itself.
// vendor and model name the device model when the VEX's metadata does not.
func ReadVEX(file string, data []byte, vendor, model string, sbom vuln.SBOM, norm *vuln.Normaliser) (*VEXResult, error) {
	bom, err := decodeBOM(file, data)
	if err != nil {
		return nil, err
	}
	if bom.Vulnerabilities == nil || len(*bom.Vulnerabilities) == 0 {
		return nil, vuln.Fatal(vuln.Problem{File: file, Path: "/vulnerabilities", Msg: "no vulnerabilities section: not a VEX document"})
	}
	if bom.Metadata != nil && bom.Metadata.Component != nil {
		if model == "" && !redacted(bom.Metadata.Component.Name) {
			model = bom.Metadata.Component.Name
		}
		if vendor == "" {
			vendor = firstNonEmpty(orgName(bom.Metadata.Component.Manufacturer), orgName(bom.Metadata.Component.Supplier), orgName(bom.Metadata.Manufacturer))
		}
	}
	if sbom.Model == "" {
		sbom.Vendor, sbom.Model = vendor, model
		sbom.ModelKey = norm.ModelKey(vendor, model)
	}
	st, probs := vexStatements(file, bom, sbom, norm)
	src := "vex:" + bom.SerialNumber
	if bom.SerialNumber == "" {
		src = "vex:" + file
	}
	for i := range st {
		st[i].Source = src
	}
	return &VEXResult{Source: src, Statements: st, Problems: probs}, nil
}

// vexStatements turns a BOM's vulnerabilities into statements. A ref to
// the BOM's metadata component (the device) gives a statement about the
// model; a ref to a component gives one about that component's purl or
// CPE product.
func vexStatements(file string, bom *cdx.BOM, sbom vuln.SBOM, norm *vuln.Normaliser) ([]vuln.Affected, []vuln.Problem) {
	var out []vuln.Affected
	var probs []vuln.Problem
	refs := map[string]vuln.Component{}
	for _, c := range sbom.Components {
		if c.BOMRef != "" {
			refs[c.BOMRef] = c
		}
	}
	var walk func(list *[]cdx.Component, depth int)
	walk = func(list *[]cdx.Component, depth int) {
		if list == nil || depth > maxDepth {
			return
		}
		for _, c := range *list {
			if c.BOMRef != "" && len(refs) < maxComponents {
				refs[c.BOMRef] = vuln.Component{Name: c.Name, Version: c.Version, CPE: c.CPE, PURL: c.PackageURL, BOMRef: c.BOMRef}
			}
			walk(c.Components, depth+1)
		}
	}
	walk(bom.Components, 0)
	deviceRef := ""
	if bom.Metadata != nil && bom.Metadata.Component != nil {
		deviceRef = bom.Metadata.Component.BOMRef
	}
	vendorKey, productKey, _ := strings.Cut(sbom.ModelKey, "/")
	src := "vex:" + bom.SerialNumber
	list := *bom.Vulnerabilities
	if len(list) > maxVulns {
		probs = append(probs, vuln.Problem{File: file, Path: "/vulnerabilities", Msg: fmt.Sprintf("%d vulnerabilities; the first %d read", len(list), maxVulns)})
		list = list[:maxVulns]
	}
	for i, v := range list {
		path := fmt.Sprintf("/vulnerabilities/%d", i)
		if v.ID == "" {
			probs = append(probs, vuln.Problem{File: file, Path: path + "/id", Msg: "vulnerability without id; skipped"})
			continue
		}
		if v.Analysis == nil || v.Analysis.State == "" {
			probs = append(probs, vuln.Problem{File: file, Path: path + "/analysis", Msg: v.ID + " has no analysis state; skipped"})
			continue
		}
		status := ""
		switch v.Analysis.State {
		case cdx.IASFalsePositive, cdx.IASNotAffected:
			status = vuln.StatusNotAffected
		case cdx.IASResolved, cdx.IASResolvedWithPedigree:
			status = vuln.StatusFixed
		case cdx.IASExploitable:
			status = vuln.StatusAffected
		case cdx.IASInTriage:
			status = vuln.StatusUnderInvestigation
		default:
			probs = append(probs, vuln.Problem{File: file, Path: path + "/analysis/state", Msg: fmt.Sprintf("unknown state %q; skipped", clip(string(v.Analysis.State)))})
			continue
		}
		justification := string(v.Analysis.Justification)
		if v.Analysis.State == cdx.IASFalsePositive && justification == "" {
			justification = "false_positive"
		}
		if v.Affects == nil || len(*v.Affects) == 0 {
			probs = append(probs, vuln.Problem{File: file, Path: path + "/affects", Msg: v.ID + " affects nothing; skipped"})
			continue
		}
		for j, af := range *v.Affects {
			a := vuln.Affected{CVE: v.ID, Source: src, Status: status, Justification: justification, Detail: clip(v.Analysis.Detail),
				Versions: version.AllVersions(""), VersionField: "vex"}
			ref := af.Ref
			if k := strings.LastIndexByte(ref, '#'); k >= 0 && strings.HasPrefix(ref, "urn:cdx:") {
				ref = ref[k+1:] // a BOM-Link to a component of another BOM
			}
			switch c, ok := refs[ref]; {
			case ref == deviceRef && ref != "":
				a.Vendor, a.Product, a.VendorKey, a.ProductKey = sbom.Vendor, sbom.Model, vendorKey, productKey
			case ok:
				a.Product, a.PURL, a.CPE = c.Name, stripPURLVersion(c.PURL), c.CPE
				a.VendorKey, a.ProductKey = componentKeys(c, norm)
				if c.Version != "" {
					a.Versions = version.Exact(c.Version)
				}
			case strings.HasPrefix(ref, "pkg:"):
				a.PURL = stripPURLVersion(ref)
				if _, ver, ok := strings.Cut(ref, "@"); ok {
					ver, _, _ = strings.Cut(ver, "?")
					a.Versions = version.Exact(ver)
				}
			default:
				probs = append(probs, vuln.Problem{File: file, Path: fmt.Sprintf("%s/affects/%d/ref", path, j), Msg: fmt.Sprintf("ref %q names no component of this BOM or of the model's SBOM; skipped", clip(af.Ref))})
				continue
			}
			if af.Range != nil {
				for _, rv := range *af.Range {
					switch {
					case rv.Range != "":
						a.Versions = version.ParseRange(rv.Range)
					case rv.Version != "":
						a.Versions = version.Exact(rv.Version)
					}
				}
			}
			out = append(out, a)
		}
	}
	return out, probs
}

func componentKeys(c vuln.Component, norm *vuln.Normaliser) (string, string) {
	if c.CPE != "" {
		if vk, pk, ok := cpeKeys(c.CPE, norm); ok {
			return vk, pk
		}
	}
	vk := norm.Vendor(c.Vendor)
	if c.Vendor == "" {
		vk = ""
	}
	return vk, norm.Product(vk, c.Name)
}

func stripPURLVersion(p string) string {
	if p == "" {
		return ""
	}
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if i := strings.LastIndexByte(p, '@'); i > strings.LastIndexByte(p, '/') {
		p = p[:i]
	}
	return p
}

func orgName(o *cdx.OrganizationalEntity) string {
	if o == nil {
		return ""
	}
	return strings.TrimSpace(o.Name)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return strings.TrimSpace(x)
		}
	}
	return ""
}

// redacted says whether a name was anonymised ("REDACTED").
func redacted(s string) bool {
	return strings.EqualFold(strings.TrimSpace(s), "redacted")
}
