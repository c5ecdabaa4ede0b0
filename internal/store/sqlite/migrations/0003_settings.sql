-- heir schema 3 (SQLite): settings an administrator changes while the
-- node runs (the RAMA weights), one versioned document per key; every
-- change is also in the audit trail. Keep in step with
-- postgres/migrations/0003_settings.sql.

CREATE TABLE settings (
	key TEXT PRIMARY KEY,
	version INTEGER NOT NULL,
	value TEXT NOT NULL,
	updated_us INTEGER NOT NULL,
	updated_by TEXT NOT NULL
);
