-- heir schema 3 (PostgreSQL): settings an administrator changes while the
-- node runs (the RAMA weights), one versioned document per key; every
-- change is also in the audit trail. Keep in step with
-- sqlite/migrations/0003_settings.sql.

CREATE TABLE settings (
	key TEXT COLLATE "C" PRIMARY KEY,
	version BIGINT NOT NULL,
	value TEXT NOT NULL,
	updated_us BIGINT NOT NULL,
	updated_by TEXT COLLATE "C" NOT NULL
);
