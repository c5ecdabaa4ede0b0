package vuln

import (
	"time"

	"github.com/heir-emd/heir/internal/vuln/version"
)

// The knowledge base's records are plain structs with JSON tags: the store
// (issue 5) persists them as they are, and FileStore writes them to disk
// now.

// Vulnerability is what is known about one CVE (or one advisory-local
// vulnerability id when an advisory gives no CVE), merged from every
// source that spoke of it.
type Vulnerability struct {
	ID          string      `json:"id"`
	Title       string      `json:"title,omitempty"`
	Description string      `json:"description,omitempty"`
	CWEs        []string    `json:"cwes,omitempty"`
	CVSS        []CVSS      `json:"cvss,omitempty"`
	Published   time.Time   `json:"published,omitzero"`
	Modified    time.Time   `json:"modified,omitzero"`
	Sources     []SourceRef `json:"sources,omitempty"`
	KEV         *KEV        `json:"kev,omitempty"`
	EPSS        *EPSS       `json:"epss,omitempty"`
}

// CVSS is one CVSS vector with its base score, computed from the vector
// (github.com/pandatix/go-cvss), not copied from the source: a source's own
// score is kept in Stated and a disagreement is reported at import.
type CVSS struct {
	Version   string  `json:"version"` // "2.0", "3.0", "3.1", "4.0"
	Vector    string  `json:"vector"`
	BaseScore float64 `json:"base_score"`
	Severity  string  `json:"severity,omitempty"`
	Stated    float64 `json:"stated,omitempty"`
	Source    string  `json:"source,omitempty"` // who gave it: advisory id, "nvd"
}

// SourceRef names a document that spoke of a vulnerability.
type SourceRef struct {
	Kind string `json:"kind"` // csaf, nvd, kev, vex
	ID   string `json:"id"`
	URL  string `json:"url,omitempty"`
}

// KEV is a CISA Known Exploited Vulnerabilities catalogue entry.
type KEV struct {
	DateAdded  string `json:"date_added"`
	DueDate    string `json:"due_date,omitempty"`
	Vendor     string `json:"vendor,omitempty"`
	Product    string `json:"product,omitempty"`
	Name       string `json:"name,omitempty"`
	Ransomware string `json:"ransomware,omitempty"` // "Known" or "Unknown"
	Action     string `json:"action,omitempty"`
	Catalog    string `json:"catalog,omitempty"` // catalogue version it came from
}

// EPSS is a FIRST EPSS score: the probability of exploitation activity in
// the next 30 days, and its percentile, on a date.
type EPSS struct {
	Score      float64 `json:"score"`
	Percentile float64 `json:"percentile"`
	Date       string  `json:"date,omitempty"`
	Model      string  `json:"model,omitempty"`
}

// Status of a product with respect to a vulnerability (CSAF product_status,
// VEX analysis state).
const (
	StatusAffected           = "affected"
	StatusFixed              = "fixed"
	StatusNotAffected        = "not_affected"
	StatusUnderInvestigation = "under_investigation"
)

// Affected is one source's statement about one product and one
// vulnerability: which vendor and product (as written, and normalised for
// the index), which versions, and what the source says about them.
type Affected struct {
	CVE    string `json:"cve"`
	Source string `json:"source"` // "csaf:ICSMA-17-009-01A", "nvd", "vex:<serial>"
	// Vendor and Product as the source wrote them; the keys are their
	// normalised forms (see Normaliser).
	Vendor     string `json:"vendor,omitempty"`
	Product    string `json:"product,omitempty"`
	VendorKey  string `json:"vendor_key,omitempty"`
	ProductKey string `json:"product_key,omitempty"`
	// CPE is the NVD criteria (or a CSAF product_identification_helper
	// CPE); PURL a package URL without version.
	CPE  string `json:"cpe,omitempty"`
	PURL string `json:"purl,omitempty"`
	// Versions is the version rule; VersionField says where it came from
	// (product_version, product_version_range, versionEndExcluding, vers).
	Versions     version.Range `json:"versions"`
	VersionField string        `json:"version_field,omitempty"`
	Status       string        `json:"status"`
	// Justification of a not-affected statement (CSAF flag label or VEX
	// justification) and its free-text detail.
	Justification string `json:"justification,omitempty"`
	Detail        string `json:"detail,omitempty"`
	Remediation   string `json:"remediation,omitempty"`
	// ProductID and ProductName are the CSAF product's id and full name.
	ProductID   string `json:"product_id,omitempty"`
	ProductName string `json:"product_name,omitempty"`
	// Platform lists the non-vulnerable CPEs an NVD configuration requires
	// beside this one (firmware AND hardware, application on OS).
	Platform []string `json:"platform,omitempty"`
}

// Advisory is the document-level record of an imported advisory.
type Advisory struct {
	ID        string    `json:"id"`
	Title     string    `json:"title,omitempty"`
	Publisher string    `json:"publisher,omitempty"`
	Released  time.Time `json:"released,omitzero"`
	Updated   time.Time `json:"updated,omitzero"`
	URL       string    `json:"url,omitempty"`
	File      string    `json:"file,omitempty"`
	CVEs      []string  `json:"cves,omitempty"`
}

// EOLProduct is an endoflife.date product: its release cycles with their
// support dates.
type EOLProduct struct {
	Slug        string       `json:"slug"` // file name without .md: windows, rhel …
	Title       string       `json:"title"`
	Category    string       `json:"category,omitempty"`
	Identifiers []string     `json:"identifiers,omitempty"` // cpe and purl identifiers
	Releases    []EOLRelease `json:"releases"`
}

// EOLRelease is one release cycle. EOL and EOAS are dates when known;
// EOLKnown false with EOLBool set means "eol: true" without a date, and
// false means still supported.
type EOLRelease struct {
	Cycle       string    `json:"cycle"`
	Label       string    `json:"label,omitempty"`
	Codename    string    `json:"codename,omitempty"`
	ReleaseDate time.Time `json:"release_date,omitzero"`
	EOL         time.Time `json:"eol,omitzero"`
	EOLFlag     bool      `json:"eol_flag,omitempty"` // eol: true without a date
	EOAS        time.Time `json:"eoas,omitzero"`      // end of active support
	EOES        time.Time `json:"eoes,omitzero"`      // end of extended (paid) support
	Latest      string    `json:"latest,omitempty"`
	LTS         bool      `json:"lts,omitempty"`
}

// Component is a piece of software or hardware a device runs: from an
// SBOM, an inventory column, or the passive inventory.
type Component struct {
	Type    string `json:"type,omitempty"` // application, library, firmware, operating-system, device
	Vendor  string `json:"vendor,omitempty"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	CPE     string `json:"cpe,omitempty"`
	PURL    string `json:"purl,omitempty"`
	BOMRef  string `json:"bom_ref,omitempty"`
}

// SBOM is a software bill of materials attached to a device model.
type SBOM struct {
	Vendor     string      `json:"vendor"`
	Model      string      `json:"model"`
	ModelKey   string      `json:"model_key"`
	Serial     string      `json:"serial,omitempty"`
	File       string      `json:"file,omitempty"`
	Components []Component `json:"components"`
}

// Device is what matching needs to know about one device, from the passive
// inventory (DeviceFromAsset) or an imported inventory.
type Device struct {
	ID       string      `json:"id"`
	Name     string      `json:"name,omitempty"`
	Vendor   string      `json:"vendor,omitempty"`
	Model    string      `json:"model,omitempty"`
	Firmware string      `json:"firmware,omitempty"`
	OS       string      `json:"os,omitempty"`
	Software []Component `json:"software,omitempty"`
}

// Decision states. A false-positive decision hides a match; an accepted
// one keeps it, marked as a risk the hospital has taken knowingly.
const (
	DecisionFalsePositive = "false-positive"
	DecisionAccepted      = "accepted"
)

// Decision is an analyst's verdict on a match. It is keyed by subject (a
// device id, or "model:<vendor key>/<model key>" for every device of a
// model), CVE and the match's product key, all derived from content, so
// it survives re-imports of advisories and inventories.
type Decision struct {
	Subject string    `json:"subject"`
	CVE     string    `json:"cve"`
	Product string    `json:"product"`
	State   string    `json:"state"`
	Comment string    `json:"comment,omitempty"`
	Author  string    `json:"author,omitempty"`
	Time    time.Time `json:"time,omitzero"`
}

// Key is the decision's identity.
func (d Decision) Key() string { return d.Subject + "|" + d.CVE + "|" + d.Product }
