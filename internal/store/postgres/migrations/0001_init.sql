-- heir schema 1 (PostgreSQL): inventory, findings, alerts, ingest-once,
-- audit trail, users, sessions, tokens, sensors, scores.
-- Text compares bytewise (COLLATE "C") as in SQLite, so both backends sort
-- alike. Times are Unix microseconds, addresses 16-byte keys, days 'YYYY-MM-DD';
-- docs/storage.md explains every table. Keep in step with
-- sqlite/migrations/0001_init.sql: the conformance suite runs on both.

CREATE TABLE assets (
	id TEXT COLLATE "C" PRIMARY KEY,
	name TEXT COLLATE "C" NOT NULL DEFAULT '',
	mac TEXT COLLATE "C" NOT NULL DEFAULT '',
	role TEXT COLLATE "C" NOT NULL DEFAULT '',
	vendor TEXT COLLATE "C" NOT NULL DEFAULT '',
	model TEXT COLLATE "C" NOT NULL DEFAULT '',
	first_seen BIGINT NOT NULL,
	last_seen BIGINT NOT NULL,
	risk BIGINT NOT NULL DEFAULT -1,
	band TEXT COLLATE "C" NOT NULL DEFAULT '',
	risk_day TEXT COLLATE "C" NOT NULL DEFAULT '',
	search TEXT COLLATE "C" NOT NULL DEFAULT '',
	doc TEXT COLLATE "C" NOT NULL
);
CREATE INDEX assets_risk ON assets (risk, id);
CREATE INDEX assets_role ON assets (role, id);
CREATE INDEX assets_vendor ON assets (vendor, id);
CREATE INDEX assets_model ON assets (model, id);
CREATE INDEX assets_name ON assets (name, id);
CREATE INDEX assets_last_seen ON assets (last_seen, id);
CREATE INDEX assets_first_seen ON assets (first_seen, id);
CREATE INDEX assets_band ON assets (band);
-- The text filter scans this narrow index (index-only), not the rows.
CREATE INDEX assets_search ON assets (search, id);

CREATE TABLE asset_ips (
	ip BYTEA NOT NULL,
	asset_id TEXT COLLATE "C" NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
	PRIMARY KEY (ip, asset_id)
);
CREATE INDEX asset_ips_asset ON asset_ips (asset_id);

CREATE TABLE findings (
	id TEXT COLLATE "C" PRIMARY KEY,
	asset_id TEXT COLLATE "C" NOT NULL DEFAULT '',
	rule TEXT COLLATE "C" NOT NULL DEFAULT '',
	kind TEXT COLLATE "C" NOT NULL DEFAULT '',
	severity BIGINT NOT NULL,
	state TEXT COLLATE "C" NOT NULL,
	ip BYTEA,
	proto TEXT COLLATE "C" NOT NULL DEFAULT '',
	first_seen BIGINT NOT NULL,
	last_seen BIGINT NOT NULL,
	count BIGINT NOT NULL,
	comment TEXT COLLATE "C" NOT NULL DEFAULT '',
	state_by TEXT COLLATE "C" NOT NULL DEFAULT '',
	state_at BIGINT NOT NULL DEFAULT 0,
	doc TEXT COLLATE "C" NOT NULL
);
CREATE INDEX findings_asset ON findings (asset_id, severity);
CREATE INDEX findings_severity ON findings (severity, id);
CREATE INDEX findings_state ON findings (state, id);
CREATE INDEX findings_last_seen ON findings (last_seen, id);
CREATE INDEX findings_first_seen ON findings (first_seen, id);
CREATE INDEX findings_count ON findings (count, id);
CREATE INDEX findings_kind ON findings (kind, id);

CREATE TABLE finding_tags (
	finding_id TEXT COLLATE "C" NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
	taxonomy TEXT COLLATE "C" NOT NULL,
	tag TEXT COLLATE "C" NOT NULL,
	state TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (finding_id, taxonomy, tag)
);
CREATE INDEX finding_tags_count ON finding_tags (taxonomy, state, tag);
CREATE INDEX finding_tags_tag ON finding_tags (taxonomy, tag);

-- Findings per (taxonomy, tag, state), kept by every change to findings,
-- so that the overview's counts per category read a few hundred rows.
CREATE TABLE finding_tag_counts (
	taxonomy TEXT COLLATE "C" NOT NULL,
	tag TEXT COLLATE "C" NOT NULL,
	state TEXT COLLATE "C" NOT NULL,
	n BIGINT NOT NULL,
	PRIMARY KEY (taxonomy, state, tag)
);

CREATE TABLE alerts (
	id TEXT COLLATE "C" PRIMARY KEY,
	rule TEXT COLLATE "C" NOT NULL DEFAULT '',
	category TEXT COLLATE "C" NOT NULL DEFAULT '',
	severity BIGINT NOT NULL,
	src_ip BYTEA,
	start_us BIGINT NOT NULL,
	end_us BIGINT NOT NULL,
	count BIGINT NOT NULL,
	final BIGINT NOT NULL DEFAULT 0,
	doc TEXT COLLATE "C" NOT NULL
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
	ip BYTEA NOT NULL,
	alert_id TEXT COLLATE "C" NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
	start_us BIGINT NOT NULL,
	PRIMARY KEY (ip, alert_id)
);
CREATE INDEX alert_ips_alert ON alert_ips (alert_id);

CREATE TABLE alert_tags (
	alert_id TEXT COLLATE "C" NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
	taxonomy TEXT COLLATE "C" NOT NULL,
	tag TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (alert_id, taxonomy, tag)
);
CREATE INDEX alert_tags_tag ON alert_tags (taxonomy, tag);

CREATE TABLE alert_hourly (
	hour BIGINT NOT NULL,
	category TEXT COLLATE "C" NOT NULL,
	severity BIGINT NOT NULL,
	n BIGINT NOT NULL,
	PRIMARY KEY (hour, category, severity)
);

CREATE TABLE ingested (
	event_id TEXT COLLATE "C" PRIMARY KEY,
	at_us BIGINT NOT NULL
);
CREATE INDEX ingested_at ON ingested (at_us);

CREATE TABLE audit (
	seq BIGINT PRIMARY KEY,
	at_us BIGINT NOT NULL,
	actor TEXT COLLATE "C" NOT NULL,
	action TEXT COLLATE "C" NOT NULL,
	object_type TEXT COLLATE "C" NOT NULL,
	object_id TEXT COLLATE "C" NOT NULL,
	reason TEXT COLLATE "C" NOT NULL,
	before_doc TEXT COLLATE "C" NOT NULL,
	after_doc TEXT COLLATE "C" NOT NULL,
	prev_hash TEXT COLLATE "C" NOT NULL,
	hash TEXT COLLATE "C" NOT NULL
);
CREATE INDEX audit_object ON audit (object_type, object_id, seq);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_time ON audit (at_us);
-- Append-only against mistakes; the hash chain catches whoever drops these.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit records are append-only';
END
$$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

CREATE TABLE audit_head (
	id BIGINT PRIMARY KEY CHECK (id = 1),
	seq BIGINT NOT NULL,
	hash TEXT COLLATE "C" NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE users (
	id TEXT COLLATE "C" PRIMARY KEY,
	name TEXT COLLATE "C" NOT NULL UNIQUE,
	display_name TEXT COLLATE "C" NOT NULL DEFAULT '',
	password_hash TEXT COLLATE "C" NOT NULL DEFAULT '',
	disabled BIGINT NOT NULL DEFAULT 0,
	created_us BIGINT NOT NULL,
	updated_us BIGINT NOT NULL
);

CREATE TABLE user_roles (
	user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (user_id, role)
);

CREATE TABLE sessions (
	id TEXT COLLATE "C" PRIMARY KEY,
	user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL,
	last_seen_us BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_us);

CREATE TABLE tokens (
	id TEXT COLLATE "C" PRIMARY KEY,
	name TEXT COLLATE "C" NOT NULL,
	owner TEXT COLLATE "C" NOT NULL REFERENCES users (id),
	hash TEXT COLLATE "C" NOT NULL UNIQUE,
	created_us BIGINT NOT NULL,
	last_used_us BIGINT NOT NULL DEFAULT 0,
	expires_us BIGINT NOT NULL DEFAULT 0,
	revoked_us BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tokens_owner ON tokens (owner, created_us);

CREATE TABLE sensors (
	name TEXT COLLATE "C" PRIMARY KEY,
	credential_hash TEXT COLLATE "C" NOT NULL,
	created_us BIGINT NOT NULL,
	last_seen_us BIGINT NOT NULL DEFAULT 0,
	revoked_us BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE scores (
	kind TEXT COLLATE "C" NOT NULL,
	subject TEXT COLLATE "C" NOT NULL,
	day TEXT COLLATE "C" NOT NULL,
	score BIGINT NOT NULL,
	band TEXT COLLATE "C" NOT NULL,
	breakdown TEXT COLLATE "C" NOT NULL DEFAULT '',
	updated_us BIGINT NOT NULL,
	PRIMARY KEY (kind, subject, day)
);
