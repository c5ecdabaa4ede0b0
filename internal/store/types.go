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
