package store

import (
	"context"
	"errors"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// Errors callers branch on. Backends wrap them with context, so test with
// errors.Is.
var (
	// ErrNotFound: no record has that id (or the session or token expired).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a record with that unique name already exists.
	ErrConflict = errors.New("already exists")
	// ErrInvalid: the input broke a rule the store enforces (an unknown
	// state, role or band, a score outside 0–100, an empty id).
	ErrInvalid = errors.New("invalid input")
	// ErrBadCursor: a page cursor was malformed or belongs to another
	// sort order; the caller should restart from the first page.
	ErrBadCursor = errors.New("bad page cursor")
	// ErrSchemaTooNew: the database was migrated by a newer heir; this
	// binary refuses to touch it rather than misread it.
	ErrSchemaTooNew = errors.New("database schema is newer than this heir knows")
	// ErrTampered: the audit chain does not verify.
	ErrTampered = errors.New("audit trail tampered with")
	// ErrStale: the record changed since the caller read it (its version
	// moved on); the caller should read it again and redo its change.
	ErrStale = errors.New("changed since it was read")
)

// Assets keeps the device inventory: one record per stable asset id, the
// latest snapshot with the first and last time it was seen.
type Assets interface {
	// UpsertAsset stores a snapshot. A snapshot older (by LastSeen) than
	// the stored one only widens FirstSeen; a newer one replaces it.
	UpsertAsset(ctx context.Context, a event.Asset) error
	Asset(ctx context.Context, id string) (Asset, error)
	ListAssets(ctx context.Context, q AssetQuery) (Page[Asset], error)
	// CountAssetsByBand counts devices per risk band; unscored devices
	// count under BandNone.
	CountAssetsByBand(ctx context.Context) (map[string]int64, error)
}

// Findings keeps standing weaknesses with the analysts' decisions on them.
type Findings interface {
	// UpsertFinding records a sighting. It never changes the state or
	// comment an analyst set, except that a sighting after a finding was
	// marked fixed reopens it (and says so in the audit trail).
	UpsertFinding(ctx context.Context, f event.Finding) error
	Finding(ctx context.Context, id string) (Finding, error)
	ListFindings(ctx context.Context, q FindingQuery) (Page[Finding], error)
	// TriageFinding sets the state and comment and appends the change to
	// the audit trail in the same transaction.
	TriageFinding(ctx context.Context, t Triage) (Finding, error)
	// CountFindingsByTag counts findings per tag of one taxonomy, for the
	// overview's "open findings per ENISA/OWASP category".
	CountFindingsByTag(ctx context.Context, q TagCountQuery) ([]TagCount, error)
}

// Alerts keeps incidents: one record per alert id, updated while the
// incident lasts.
type Alerts interface {
	// UpsertAlert stores an incident update; the update with the latest
	// End wins, Start only moves earlier, Count only grows.
	UpsertAlert(ctx context.Context, a event.Alert) error
	Alert(ctx context.Context, id string) (event.Alert, error)
	ListAlerts(ctx context.Context, q AlertQuery) (Page[event.Alert], error)
	// AlertHistogram counts alerts by the bucket their Start falls in, per
	// category, for charts.
	AlertHistogram(ctx context.Context, q HistogramQuery) ([]AlertBucket, error)
}

// Tx is the write side available inside Events.IngestOnce: everything it
// does commits or rolls back with the event's id.
type Tx interface {
	UpsertAsset(ctx context.Context, a event.Asset) error
	UpsertFinding(ctx context.Context, f event.Finding) error
	UpsertAlert(ctx context.Context, a event.Alert) error
	PutScore(ctx context.Context, s Score) error
}

// Events makes at-least-once bus delivery store exactly once.
type Events interface {
	// IngestOnce runs fn in one transaction together with recording
	// eventID as seen. When eventID was already stored it returns
	// (false, nil) without calling fn; when fn fails nothing is recorded.
	// fn must use only tx (the backend may hold its single writer for
	// it) and may run again when the database asks for a retry
	// (a PostgreSQL deadlock), so it must have no other side effects.
	IngestOnce(ctx context.Context, eventID string, fn func(ctx context.Context, tx Tx) error) (bool, error)
	// PruneIngested forgets event ids recorded before the given time:
	// call it with a time older than the bus's redelivery window.
	PruneIngested(ctx context.Context, before time.Time) (int64, error)
}

// Audit is the append-only, hash-chained record of changes people make.
type Audit interface {
	AppendAudit(ctx context.Context, e AuditEntry) (AuditRecord, error)
	ListAudit(ctx context.Context, q AuditQuery) (Page[AuditRecord], error)
	// AuditHead is the last record's sequence number and hash: exporting
	// or signing it elsewhere lets Verify catch a truncated tail too.
	AuditHead(ctx context.Context) (AuditHead, error)
	// VerifyAudit recomputes the chain; it returns an error wrapping
	// ErrTampered (a *TamperError) at the first record that does not fit.
	VerifyAudit(ctx context.Context) (AuditHead, error)
}

// Users keeps local accounts. Password hashes are opaque strings made by
// the auth package; the store never sees a password.
type Users interface {
	CreateUser(ctx context.Context, actor string, u User) (User, error)
	User(ctx context.Context, id string) (User, error)
	UserByName(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	UpdateUser(ctx context.Context, actor, id string, up UserUpdate) (User, error)
}

// Sessions keeps server-side login sessions. IDs are whatever the server
// stores (a hash of the cookie value, so a leaked table opens nothing).
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	// Session returns ErrNotFound for a session that expired before now.
	Session(ctx context.Context, id string, now time.Time) (Session, error)
	TouchSession(ctx context.Context, id string, lastSeen, expires time.Time) error
	DeleteSession(ctx context.Context, id string) error
	DeleteUserSessions(ctx context.Context, userID string) (int64, error)
	PruneSessions(ctx context.Context, now time.Time) (int64, error)
}

// Tokens keeps API tokens, stored hashed.
type Tokens interface {
	CreateToken(ctx context.Context, actor string, t Token) (Token, error)
	// TokenByHash finds an unrevoked, unexpired token by its hash.
	TokenByHash(ctx context.Context, hash string, now time.Time) (Token, error)
	ListTokens(ctx context.Context, owner string) ([]Token, error)
	TouchToken(ctx context.Context, id string, at time.Time) error
	RevokeToken(ctx context.Context, actor, id string) error
}

// Sensors keeps the sensors allowed to publish to this node.
type Sensors interface {
	CreateSensor(ctx context.Context, actor string, s Sensor) (Sensor, error)
	Sensor(ctx context.Context, name string) (Sensor, error)
	ListSensors(ctx context.Context) ([]Sensor, error)
	TouchSensor(ctx context.Context, name string, at time.Time) error
	RevokeSensor(ctx context.Context, actor, name string) error
}

// Scores keeps daily RAMA snapshots per device and per hospital.
type Scores interface {
	// PutScore stores (replaces) the score of a subject on a day. A
	// device score also becomes the device's current risk when its day is
	// the latest the store has for it.
	PutScore(ctx context.Context, s Score) error
	// ScoreTrend returns the subject's scores on the days in [from, to],
	// oldest first.
	ScoreTrend(ctx context.Context, kind ScoreKind, subject string, from, to time.Time) ([]Score, error)
}

// Vulnerabilities keeps each device's vulnerability matches as the latest
// scoring run found them: a set per device, replaced whole.
type Vulnerabilities interface {
	// ReplaceVulnerabilities replaces the match set of each device in
	// sets (an empty set clears it), all in one transaction; devices not
	// in sets keep theirs.
	ReplaceVulnerabilities(ctx context.Context, sets []VulnSet) error
	ListVulnerabilities(ctx context.Context, q VulnQuery) (Page[Vulnerability], error)
}

// Settings keeps what administrators change while the node runs (the
// RAMA weights): one versioned document per key. Changes are
// compare-and-set on the version, so two administrators editing at once
// cannot silently overwrite each other, and each is in the audit trail,
// written in the same transaction.
type Settings interface {
	// Setting returns a stored setting; ErrNotFound when it was never
	// set or was reset.
	Setting(ctx context.Context, key string) (Setting, error)
	// PutSetting stores s.Value under s.Key when the stored version is
	// s.Version (0: not stored) and returns the setting with its new
	// version; ErrStale otherwise.
	PutSetting(ctx context.Context, actor string, s Setting) (Setting, error)
	// ResetSetting removes a setting whose stored version is version;
	// ErrNotFound when none is stored, ErrStale when the version differs.
	ResetSetting(ctx context.Context, actor, key string, version int64) error
}

// Store is every interface at once: what a backend's DB type offers and
// what the composition root and the conformance suite hold. Consumers take
// the small interfaces.
type Store interface {
	Assets
	Findings
	Alerts
	Events
	Audit
	Users
	Sessions
	Tokens
	Sensors
	Scores
	Vulnerabilities
	Settings
	// SchemaVersion is the highest migration applied.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}
