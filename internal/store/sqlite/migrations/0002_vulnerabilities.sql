-- heir schema 2 (SQLite): each device's vulnerability matches, as the
-- node's latest scoring run found them (one row per device and CVE).
-- CVSS is kept in tenths and EPSS in millionths (-1: unknown) so that
-- sorts and page cursors are integers; risk is store.VulnRisk. Keep in
-- step with postgres/migrations/0002_vulnerabilities.sql.

CREATE TABLE vulnerabilities (
	id TEXT PRIMARY KEY,
	asset_id TEXT NOT NULL,
	cve TEXT NOT NULL,
	status TEXT NOT NULL,
	kev INTEGER NOT NULL,
	risk INTEGER NOT NULL,
	cvss INTEGER NOT NULL,
	epss INTEGER NOT NULL,
	updated_us INTEGER NOT NULL,
	doc TEXT NOT NULL
);
-- The device page: one device's matches, most severe first.
CREATE INDEX vulnerabilities_asset_risk ON vulnerabilities (asset_id, risk, id);
CREATE INDEX vulnerabilities_asset_id ON vulnerabilities (asset_id, id);
CREATE INDEX vulnerabilities_risk ON vulnerabilities (risk, id);
CREATE INDEX vulnerabilities_cvss ON vulnerabilities (cvss, id);
CREATE INDEX vulnerabilities_epss ON vulnerabilities (epss, id);
CREATE INDEX vulnerabilities_cve ON vulnerabilities (cve, id);
