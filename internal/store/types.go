package store

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// Risk bands, as DESIGN.md defines them (Low < 40, Medium 40–69, High
// 70–89, Critical ≥ 90). The scorer decides the band; the store checks it
// is one of these so that filters and counts agree.
const (
	BandLow      = "low"
	BandMedium   = "medium"
	BandHigh     = "high"
	BandCritical = "critical"
	// BandNone is the band of a device that has no score yet.
	BandNone = ""
)

// Bands lists the bands from lowest to highest.
var Bands = []string{BandLow, BandMedium, BandHigh, BandCritical}

// ValidBand says whether b is a known band (BandNone excluded).
func ValidBand(b string) bool { return slices.Contains(Bands, b) }

// Severities lists the event severities from lowest to highest; the store
// sorts by this order, not alphabetically.
var Severities = []string{event.SeverityLow, event.SeverityMedium, event.SeverityHigh, event.SeverityCritical}

// SeverityRank is a severity's position (1 low … 4 critical), 0 when
// unknown.
func SeverityRank(s string) int { return slices.Index(Severities, s) + 1 }

// FindingStates lists the states a finding can be in.
var FindingStates = []string{event.StateOpen, event.StateAccepted, event.StateFalsePositive, event.StateFixed}

// Asset is an inventory record: the device's latest snapshot and its
// current risk.
type Asset struct {
	event.Asset
	// Risk is the latest device score, nil until one is stored.
	Risk *Risk `json:"risk,omitempty"`
}

// Risk is a device's latest score.
type Risk struct {
	Score int       `json:"score"`
	Band  string    `json:"band"`
	Day   time.Time `json:"day"`
}

// Finding is a stored finding with the analyst's decision on it. The
// embedded State is the stored state, not the sensor's.
type Finding struct {
	event.Finding
	Comment string `json:"comment,omitempty"`
	// StateBy and StateAt say who last set the state and when (empty
	// for a finding nobody triaged).
	StateBy string    `json:"state_by,omitempty"`
	StateAt time.Time `json:"state_at,omitzero"`
}

// Triage is an analyst's decision on a finding.
type Triage struct {
	ID      string
	State   string // one of FindingStates
	Comment string
	Actor   string // who decided (user id or name), required
	Reason  string // optional, recorded in the audit trail
}

// TagRef names one tag of a taxonomy.
type TagRef struct {
	Taxonomy string `json:"taxonomy"`
	ID       string `json:"id"`
}

// ParseTagRef parses "taxonomy:id" (e.g. "enisa-etl-2018:11").
func ParseTagRef(s string) (TagRef, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			t := TagRef{Taxonomy: s[:i], ID: s[i+1:]}
			if t.Taxonomy == "" || t.ID == "" {
				break
			}
			return t, nil
		}
	}
	return TagRef{}, fmt.Errorf("tag %q: want taxonomy:id: %w", s, ErrInvalid)
}

// AssetQuery selects and orders assets. Empty fields do not filter; a
// list filter matches any of its values.
type AssetQuery struct {
	ListOptions
	Roles   []string
	Vendors []string
	Models  []string
	// Bands filters by risk band; BandNone selects unscored devices.
	Bands []string
	// Network selects devices with an address inside the prefix.
	Network netip.Prefix
	// SeenAfter and SeenBefore bound LastSeen: [after, before).
	SeenAfter, SeenBefore time.Time
	// Text matches part of the host name, an IP address or the MAC,
	// ignoring case.
	Text string
	// Brief leaves out each device's evidence and top peers, which a list
	// of devices does not show and which are most of a device's record.
	Brief bool
}

// AssetSortKeys are the keys ListAssets sorts by; the first is the default
// (descending).
var AssetSortKeys = []string{"risk", "role", "vendor", "model", "last_seen", "first_seen", "name", "id"}

// FindingQuery selects and orders findings.
type FindingQuery struct {
	ListOptions
	States     []string
	Severities []string
	Kinds      []string
	Asset      string
	// Tags matches findings carrying any of these tags.
	Tags                  []TagRef
	SeenAfter, SeenBefore time.Time
}

// FindingSortKeys are the keys ListFindings sorts by; the first is the
// default (descending).
var FindingSortKeys = []string{"severity", "last_seen", "first_seen", "count", "kind", "state", "id"}

// AlertQuery selects and orders alerts.
type AlertQuery struct {
	ListOptions
	Categories []string
	Severities []string
	Rules      []string
	// IP selects alerts whose source or one of whose targets is this
	// address (the device page).
	IP   netip.Addr
	Tags []TagRef
	// Since and Until bound Start: [since, until).
	Since, Until time.Time
	// Brief leaves out each alert's description, counts, samples,
	// evidence and remediation: what scoring does not read, and most of
	// an alert's record.
	Brief bool
}

// AlertSortKeys are the keys ListAlerts sorts by; the first is the default
// (descending).
var AlertSortKeys = []string{"start", "end", "severity", "count", "category", "id"}

// TagCountQuery asks for finding counts per tag of one taxonomy.
type TagCountQuery struct {
	Taxonomy string
	// States counts only findings in these states (default: open).
	States []string
}

// TagCount is the number of findings carrying one tag.
type TagCount struct {
	Taxonomy string `json:"taxonomy"`
	ID       string `json:"id"`
	Count    int64  `json:"count"`
}

// HistogramQuery asks for alert counts per time bucket and category.
type HistogramQuery struct {
	// From and To bound the alerts' Start: [from, to).
	From, To time.Time
	// Bucket is the bucket width; buckets start at multiples of it since
	// the Unix epoch (whole hours are served from a rollup table).
	Bucket     time.Duration
	Severities []string
}

// AlertBucket is the number of alerts of one category that started in
// [Start, Start+Bucket).
type AlertBucket struct {
	Start    time.Time `json:"start"`
	Category string    `json:"category"`
	Count    int64     `json:"count"`
}

// AuditEntry is one change someone made.
type AuditEntry struct {
	Actor      string `json:"actor"`
	Action     string `json:"action"` // e.g. "finding.triage", "user.create"
	ObjectType string `json:"object_type"`
	ObjectID   string `json:"object_id"`
	Reason     string `json:"reason,omitempty"`
	// Before and After are JSON documents (or empty); they are stored and
	// hashed byte for byte.
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// AuditRecord is a stored audit entry with its place in the chain.
type AuditRecord struct {
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	AuditEntry
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// AuditHead is the end of the chain.
type AuditHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// AuditQuery selects audit records, oldest first unless sorted "-seq".
type AuditQuery struct {
	ListOptions
	Actor      string
	ObjectType string
	ObjectID   string
	Since      time.Time
	Until      time.Time
}

// AuditSortKeys: records sort by sequence only.
var AuditSortKeys = []string{"seq"}

// Roles a user can hold.
const (
	RoleAdmin   = "admin"
	RoleAnalyst = "analyst"
	RoleViewer  = "viewer"
	RoleAuditor = "auditor"
	RoleDPO     = "dpo"
)

// Roles lists every role.
var Roles = []string{RoleAdmin, RoleAnalyst, RoleViewer, RoleAuditor, RoleDPO}

// User is a local account.
type User struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name,omitempty"`
	Roles       []string `json:"roles"`
	// PasswordHash is an opaque encoded hash (argon2id, made by the auth
	// package); it is never logged or written to the audit trail.
	PasswordHash string    `json:"-"`
	Disabled     bool      `json:"disabled,omitempty"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// LogValue keeps the password hash out of logs.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", u.ID), slog.String("name", u.Name), slog.Any("roles", u.Roles), slog.Bool("disabled", u.Disabled))
}

// UserUpdate changes the fields that are set.
type UserUpdate struct {
	DisplayName  *string
	Roles        []string // nil: unchanged; empty: no role
	PasswordHash *string
	Disabled     *bool
}

// Session is a server-side login session.
type Session struct {
	ID       string    `json:"-"`
	UserID   string    `json:"user_id"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	LastSeen time.Time `json:"last_seen"`
}

// LogValue keeps the session id (a bearer secret or its hash) out of logs.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user_id", s.UserID), slog.Time("expires", s.Expires))
}

// Token is an API token; only its hash is stored.
type Token struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Owner    string    `json:"owner"` // user id
	Hash     string    `json:"-"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
	Expires  time.Time `json:"expires,omitzero"` // zero: never
	Revoked  time.Time `json:"revoked,omitzero"` // zero: not revoked
}

// LogValue keeps the token hash out of logs.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", t.ID), slog.String("name", t.Name), slog.String("owner", t.Owner))
}

// Sensor is a sensor allowed to publish to the node.
type Sensor struct {
	Name           string    `json:"name"`
	CredentialHash string    `json:"-"`
	Created        time.Time `json:"created"`
	LastSeen       time.Time `json:"last_seen,omitzero"`
	Revoked        time.Time `json:"revoked,omitzero"`
}

// LogValue keeps the credential hash out of logs.
func (s Sensor) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", s.Name), slog.Bool("revoked", !s.Revoked.IsZero()))
}

// ScoreKind says what a score is about.
type ScoreKind string

const (
	ScoreDevice   ScoreKind = "device"   // Subject is an asset id
	ScoreHospital ScoreKind = "hospital" // Subject is the site's id
)

// Score is one day's RAMA score of a device or hospital.
type Score struct {
	Kind    ScoreKind `json:"kind"`
	Subject string    `json:"subject"`
	// Day is the UTC day the score is for (the time of day is ignored).
	Day   time.Time `json:"day"`
	Score int       `json:"score"`
	Band  string    `json:"band"`
	// Breakdown explains the score (a JSON document of the scorer's).
	Breakdown json.RawMessage `json:"breakdown,omitempty"`
}

// Day truncates t to its UTC day.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Validate checks a score before it is stored.
func (s Score) Validate() error {
	switch {
	case s.Kind != ScoreDevice && s.Kind != ScoreHospital:
		return fmt.Errorf("score kind %q: %w", s.Kind, ErrInvalid)
	case s.Subject == "":
		return fmt.Errorf("score without subject: %w", ErrInvalid)
	case s.Day.IsZero():
		return fmt.Errorf("score of %s without day: %w", s.Subject, ErrInvalid)
	case s.Score < 0 || s.Score > 100:
		return fmt.Errorf("score %d of %s outside 0–100: %w", s.Score, s.Subject, ErrInvalid)
	case !ValidBand(s.Band):
		return fmt.Errorf("score band %q of %s: %w", s.Band, s.Subject, ErrInvalid)
	case len(s.Breakdown) > 0 && !json.Valid(s.Breakdown):
		return fmt.Errorf("score breakdown of %s is not JSON: %w", s.Subject, ErrInvalid)
	}
	return nil
}

// Vulnerability statuses: open, or an analyst's decision on the match
// (heir decide), or declared not affecting the device by a VEX or CSAF
// statement (which RAMA leaves out).
const (
	VulnOpen          = "open"
	VulnAccepted      = "accepted"
	VulnFalsePositive = "false-positive"
	VulnNotAffected   = "not-affected"
)

// VulnStatuses lists the statuses a stored vulnerability can have.
var VulnStatuses = []string{VulnOpen, VulnAccepted, VulnFalsePositive, VulnNotAffected}

// Vulnerability is one CVE matched on one device by the latest scoring
// run: the match that speaks for the CVE on that device (the open one of
// highest confidence), with the knowledge joined to it and why it
// matched.
type Vulnerability struct {
	// ID is Asset + "|" + CVE.
	ID    string `json:"id"`
	Asset string `json:"asset"`
	CVE   string `json:"cve"`
	// Product is the matched product's key ("csaf:bd/alaris_pc_unit_8015");
	// with the device (or model) and CVE it keys analysts' decisions.
	Product string `json:"product,omitempty"`
	// Component is what on the device matched (its model, OS, a piece of
	// software).
	Component      string   `json:"component,omitempty"`
	CVSS           float64  `json:"cvss,omitempty"` // base score, 0 when unscored
	Vector         string   `json:"vector,omitempty"`
	EPSS           *float64 `json:"epss,omitempty"`
	EPSSPercentile *float64 `json:"epss_percentile,omitempty"`
	KEV            bool     `json:"kev"`
	Ransomware     bool     `json:"ransomware,omitempty"`
	// Status is one of VulnStatuses.
	Status string `json:"status"`
	// Confidence is how sure the match is, (0, 1].
	Confidence  float64 `json:"confidence"`
	Remediation string  `json:"remediation,omitempty"`
	// Decision is the analyst's decision the status comes from.
	Decision *VulnDecision `json:"decision,omitempty"`
	// Suppressed names the statement that the device is not affected.
	Suppressed *VulnSuppression `json:"suppressed,omitempty"`
	// Evidence says which statement matched which device field.
	Evidence []VulnEvidence `json:"evidence,omitempty"`
	// Updated is when the scoring run that found it ran.
	Updated time.Time `json:"updated"`
}

// VulnDecision is an analyst's decision on a match (heir decide).
type VulnDecision struct {
	// Subject is the device id, or "model:<model key>" for a decision on
	// every device of a model.
	Subject string    `json:"subject"`
	State   string    `json:"state"`
	Comment string    `json:"comment,omitempty"`
	Author  string    `json:"author,omitempty"`
	Time    time.Time `json:"time,omitzero"`
}

// VulnSuppression is a VEX or CSAF statement that the product is not
// affected.
type VulnSuppression struct {
	Source        string `json:"source"`
	Justification string `json:"justification,omitempty"`
	Detail        string `json:"detail,omitempty"`
}

// VulnEvidence is one statement that matched one device field.
type VulnEvidence struct {
	Source      string  `json:"source"` // csaf:ICSMA-…, nvd:…
	ProductName string  `json:"product_name,omitempty"`
	CPE         string  `json:"cpe,omitempty"`
	Rule        string  `json:"rule,omitempty"` // the version rule as written
	Target      string  `json:"target"`         // model, os, software[2], sbom:<ref>
	DeviceValue string  `json:"device_value,omitempty"`
	How         string  `json:"how"`
	Verdict     string  `json:"verdict,omitempty"` // in, unknown
	Confidence  float64 `json:"confidence"`
}

// VulnSet is one device's whole set of matches at one time.
type VulnSet struct {
	Asset string
	At    time.Time
	Items []Vulnerability
}

// Bounds of a stored vulnerability.
const (
	MaxVulnsPerAsset     = 10000
	MaxVulnEvidence      = 8
	maxVulnText          = 4096
	vulnUnscoredCVSS     = 6.8 // docs/rama.md: the median of the ICS medical CVEs
	vulnNoEPSSLikelihood = 0.02
)

// VulnRisk is the number the "risk" sort orders by: known exploitation
// first, then the likelihood RAMA gives the vulnerability (CVSS/10 × EPSS,
// 0.02 without EPSS, CVSS 6.8 when unscored: docs/rama.md), then CVSS.
// It is a whole number so that pages can continue after it.
func VulnRisk(v Vulnerability) int64 {
	cvss := v.CVSS
	if cvss <= 0 {
		cvss = vulnUnscoredCVSS
	}
	p := vulnNoEPSSLikelihood
	if v.EPSS != nil {
		p = *v.EPSS
	}
	part := min(max(cvss/10*p, 0), 1)
	var kev int64
	if v.KEV {
		kev = 1
	}
	return kev*1e12 + int64(part*1e6+0.5)*1e3 + int64(min(max(v.CVSS, 0), 10)*10+0.5)
}

// Validate checks a vulnerability before it is stored.
func (v Vulnerability) Validate() error {
	switch {
	case v.Asset == "":
		return fmt.Errorf("vulnerability without device: %w", ErrInvalid)
	case v.CVE == "" || len(v.CVE) > 64:
		return fmt.Errorf("vulnerability of %s without a CVE id (or longer than 64 bytes): %w", v.Asset, ErrInvalid)
	case !slices.Contains(VulnStatuses, v.Status):
		return fmt.Errorf("vulnerability %s of %s: status %q: %w", v.CVE, v.Asset, v.Status, ErrInvalid)
	case v.CVSS < 0 || v.CVSS > 10:
		return fmt.Errorf("vulnerability %s of %s: CVSS %v outside 0–10: %w", v.CVE, v.Asset, v.CVSS, ErrInvalid)
	case v.EPSS != nil && (*v.EPSS < 0 || *v.EPSS > 1):
		return fmt.Errorf("vulnerability %s of %s: EPSS %v outside 0–1: %w", v.CVE, v.Asset, *v.EPSS, ErrInvalid)
	case v.Confidence < 0 || v.Confidence > 1:
		return fmt.Errorf("vulnerability %s of %s: confidence %v outside 0–1: %w", v.CVE, v.Asset, v.Confidence, ErrInvalid)
	case len(v.Evidence) > MaxVulnEvidence:
		return fmt.Errorf("vulnerability %s of %s: more than %d pieces of evidence: %w", v.CVE, v.Asset, MaxVulnEvidence, ErrInvalid)
	case len(v.Remediation) > maxVulnText || (v.Decision != nil && len(v.Decision.Comment) > maxVulnText):
		return fmt.Errorf("vulnerability %s of %s: text longer than %d bytes: %w", v.CVE, v.Asset, maxVulnText, ErrInvalid)
	}
	return nil
}

// VulnQuery selects and orders stored vulnerabilities.
type VulnQuery struct {
	ListOptions
	Assets   []string
	CVEs     []string
	Statuses []string
	// KEV, when set, keeps only (true) or leaves out (false) CVEs in
	// CISA's Known Exploited Vulnerabilities catalogue.
	KEV *bool
	// MinCVSS and MinEPSS keep vulnerabilities scored at least this much
	// (0: no bound; a vulnerability without EPSS never passes MinEPSS).
	MinCVSS, MinEPSS float64
}

// VulnSortKeys are the keys ListVulnerabilities sorts by; the first is the
// default (descending).
var VulnSortKeys = []string{"risk", "cvss", "epss", "cve", "asset", "id"}

// Setting is one stored setting: a document (the text the administrator
// gave, kept byte for byte) and its version, which every change raises.
type Setting struct {
	Key       string    `json:"key"`
	Version   int64     `json:"version"`
	Value     string    `json:"value"`
	Updated   time.Time `json:"updated"`
	UpdatedBy string    `json:"updated_by"`
}

// SettingRAMA is the key of the RAMA configuration an administrator set
// through the API (a YAML document laid over the shipped defaults, as a
// --rama-config file is; it takes that file's place while it is stored).
const SettingRAMA = "rama"
