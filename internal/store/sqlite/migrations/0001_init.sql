-- heir schema 1 (SQLite): inventory, findings, alerts, ingest-once,
-- audit trail, users, sessions, tokens, sensors, scores.
-- Times are Unix microseconds, addresses 16-byte keys, days 'YYYY-MM-DD';
-- docs/storage.md explains every table. Keep in step with
-- postgres/migrations/0001_init.sql: the conformance suite runs on both.

CREATE TABLE assets (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL DEFAULT '',
	mac TEXT NOT NULL DEFAULT '',
	role TEXT NOT NULL DEFAULT '',
	vendor TEXT NOT NULL DEFAULT '',
	model TEXT NOT NULL DEFAULT '',
	first_seen INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	risk INTEGER NOT NULL DEFAULT -1,
	band TEXT NOT NULL DEFAULT '',
	risk_day TEXT NOT NULL DEFAULT '',
	search TEXT NOT NULL DEFAULT '',
	doc TEXT NOT NULL
);
CREATE INDEX assets_risk ON assets (risk, id);
CREATE INDEX assets_role ON assets (role, id);
CREATE INDEX assets_vendor ON assets (vendor, id);
CREATE INDEX assets_model ON assets (model, id);
CREATE INDEX assets_name ON assets (name, id);
CREATE INDEX assets_last_seen ON assets (last_seen, id);
CREATE INDEX assets_first_seen ON assets (first_seen, id);
CREATE INDEX assets_band ON assets (band);
-- The text filter scans this narrow index, not the rows (see sqlstore).
CREATE INDEX assets_search ON assets (search);

CREATE TABLE asset_ips (
	ip BLOB NOT NULL,
	asset_id TEXT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
	PRIMARY KEY (ip, asset_id)
) WITHOUT ROWID;
CREATE INDEX asset_ips_asset ON asset_ips (asset_id);

CREATE TABLE findings (
	id TEXT PRIMARY KEY,
	asset_id TEXT NOT NULL DEFAULT '',
	rule TEXT NOT NULL DEFAULT '',
	kind TEXT NOT NULL DEFAULT '',
	severity INTEGER NOT NULL,
	state TEXT NOT NULL,
	ip BLOB,
	proto TEXT NOT NULL DEFAULT '',
	first_seen INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	count INTEGER NOT NULL,
	comment TEXT NOT NULL DEFAULT '',
	state_by TEXT NOT NULL DEFAULT '',
	state_at INTEGER NOT NULL DEFAULT 0,
	doc TEXT NOT NULL
);
CREATE INDEX findings_asset ON findings (asset_id, severity);
CREATE INDEX findings_severity ON findings (severity, id);
CREATE INDEX findings_state ON findings (state, id);
CREATE INDEX findings_last_seen ON findings (last_seen, id);
CREATE INDEX findings_first_seen ON findings (first_seen, id);
CREATE INDEX findings_count ON findings (count, id);
CREATE INDEX findings_kind ON findings (kind, id);

CREATE TABLE finding_tags (
	finding_id TEXT NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
	taxonomy TEXT NOT NULL,
	tag TEXT NOT NULL,
	state TEXT NOT NULL,
	PRIMARY KEY (finding_id, taxonomy, tag)
) WITHOUT ROWID;
CREATE INDEX finding_tags_count ON finding_tags (taxonomy, state, tag);
CREATE INDEX finding_tags_tag ON finding_tags (taxonomy, tag);

-- Findings per (taxonomy, tag, state), kept by every change to findings,
-- so that the overview's counts per category read a few hundred rows.
CREATE TABLE finding_tag_counts (
	taxonomy TEXT NOT NULL,
	tag TEXT NOT NULL,
	state TEXT NOT NULL,
	n INTEGER NOT NULL,
	PRIMARY KEY (taxonomy, state, tag)
) WITHOUT ROWID;

CREATE TABLE alerts (
	id TEXT PRIMARY KEY,
	rule TEXT NOT NULL DEFAULT '',
	category TEXT NOT NULL DEFAULT '',
	severity INTEGER NOT NULL,
	src_ip BLOB,
	start_us INTEGER NOT NULL,
	end_us INTEGER NOT NULL,
	count INTEGER NOT NULL,
	final INTEGER NOT NULL DEFAULT 0,
	doc TEXT NOT NULL
);
CREATE INDEX alerts_start ON alerts (start_us, id);
CREATE INDEX alerts_end ON alerts (end_us, id);
CREATE INDEX alerts_severity ON alerts (severity, id);
CREATE INDEX alerts_count ON alerts (count, id);
CREATE INDEX alerts_category ON alerts (category, id);
-- A category or severity over a time range (chart drill-downs, the
-- overview's "last day") reads one index range, sorted by start.
CREATE INDEX alerts_category_start ON alerts (category, start_us, id);
CREATE INDEX alerts_severity_start ON alerts (severity, start_us, id);

CREATE TABLE alert_ips (
	ip BLOB NOT NULL,
	alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
	start_us INTEGER NOT NULL,
	PRIMARY KEY (ip, alert_id)
) WITHOUT ROWID;
CREATE INDEX alert_ips_alert ON alert_ips (alert_id);

CREATE TABLE alert_tags (
	alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
	taxonomy TEXT NOT NULL,
	tag TEXT NOT NULL,
	PRIMARY KEY (alert_id, taxonomy, tag)
) WITHOUT ROWID;
CREATE INDEX alert_tags_tag ON alert_tags (taxonomy, tag);

CREATE TABLE alert_hourly (
	hour INTEGER NOT NULL,
	category TEXT NOT NULL,
	severity INTEGER NOT NULL,
	n INTEGER NOT NULL,
	PRIMARY KEY (hour, category, severity)
) WITHOUT ROWID;

CREATE TABLE ingested (
	event_id TEXT PRIMARY KEY,
	at_us INTEGER NOT NULL
);
CREATE INDEX ingested_at ON ingested (at_us);

CREATE TABLE audit (
	seq INTEGER PRIMARY KEY,
	at_us INTEGER NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	object_type TEXT NOT NULL,
	object_id TEXT NOT NULL,
	reason TEXT NOT NULL,
	before_doc TEXT NOT NULL,
	after_doc TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash TEXT NOT NULL
);
CREATE INDEX audit_object ON audit (object_type, object_id, seq);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_time ON audit (at_us);
-- Append-only against mistakes; the hash chain catches whoever drops these.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;

CREATE TABLE audit_head (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE users (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	display_name TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL DEFAULT '',
	disabled INTEGER NOT NULL DEFAULT 0,
	created_us INTEGER NOT NULL,
	updated_us INTEGER NOT NULL
);

CREATE TABLE user_roles (
	user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role TEXT NOT NULL,
	PRIMARY KEY (user_id, role)
) WITHOUT ROWID;

CREATE TABLE sessions (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_us INTEGER NOT NULL,
	expires_us INTEGER NOT NULL,
	last_seen_us INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_us);

CREATE TABLE tokens (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	owner TEXT NOT NULL REFERENCES users (id),
	hash TEXT NOT NULL UNIQUE,
	created_us INTEGER NOT NULL,
	last_used_us INTEGER NOT NULL DEFAULT 0,
	expires_us INTEGER NOT NULL DEFAULT 0,
	revoked_us INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tokens_owner ON tokens (owner, created_us);

CREATE TABLE sensors (
	name TEXT PRIMARY KEY,
	credential_hash TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	last_seen_us INTEGER NOT NULL DEFAULT 0,
	revoked_us INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE scores (
	kind TEXT NOT NULL,
	subject TEXT NOT NULL,
	day TEXT NOT NULL,
	score INTEGER NOT NULL,
	band TEXT NOT NULL,
	breakdown TEXT NOT NULL DEFAULT '',
	updated_us INTEGER NOT NULL,
	PRIMARY KEY (kind, subject, day)
) WITHOUT ROWID;
