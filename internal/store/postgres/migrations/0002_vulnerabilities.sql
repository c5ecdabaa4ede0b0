-- heir schema 2 (PostgreSQL): each device's vulnerability matches, as the
-- node's latest scoring run found them (one row per device and CVE).
-- CVSS is kept in tenths and EPSS in millionths (-1: unknown) so that
-- sorts and page cursors are integers; risk is store.VulnRisk. Keep in
-- step with sqlite/migrations/0002_vulnerabilities.sql.

CREATE TABLE vulnerabilities (
	id TEXT COLLATE "C" PRIMARY KEY,
	asset_id TEXT COLLATE "C" NOT NULL,
	cve TEXT COLLATE "C" NOT NULL,
	status TEXT COLLATE "C" NOT NULL,
	kev BIGINT NOT NULL,
	risk BIGINT NOT NULL,
	cvss BIGINT NOT NULL,
	epss BIGINT NOT NULL,
	updated_us BIGINT NOT NULL,
	doc TEXT COLLATE "C" NOT NULL
);
-- The device page: one device's matches, most severe first.
CREATE INDEX vulnerabilities_asset_risk ON vulnerabilities (asset_id, risk, id);
CREATE INDEX vulnerabilities_asset_id ON vulnerabilities (asset_id, id);
CREATE INDEX vulnerabilities_risk ON vulnerabilities (risk, id);
CREATE INDEX vulnerabilities_cvss ON vulnerabilities (cvss, id);
CREATE INDEX vulnerabilities_epss ON vulnerabilities (epss, id);
CREATE INDEX vulnerabilities_cve ON vulnerabilities (cve, id);
