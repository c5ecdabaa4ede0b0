package ftp

import (
	"regexp"
)

// BannerDetail is the Detail of a "banner" observation: the server's
// greeting.
type BannerDetail struct {
	// Banner is the text of the 220 greeting (all lines of a multi-line
	// one), at most Limits.BannerBytes, control characters removed.
	Banner string `json:"banner,omitempty"`
	// TLS says the client switched the control connection to TLS (AUTH
	// TLS/SSL answered 234) before logging in.
	TLS bool `json:"tls,omitempty"`
	// AuthRefused says the client asked for AUTH and the server refused.
	AuthRefused bool `json:"auth_refused,omitempty"`
}

// LoginDetail is the Detail of a "login" observation: one USER/PASS
// exchange.
type LoginDetail struct {
	// User is the USER argument; empty when PASS came without USER.
	User string `json:"user"`
	// Outcome is "success" (230/202), "failure" (4xx/5xx to USER, PASS or
	// ACCT) or "unknown" (no answer seen).
	Outcome string `json:"outcome"`
	// Attempt numbers the attempts within the flow, from 1.
	Attempt int `json:"attempt"`
	// PasswordSent says PASS was sent.
	PasswordSent bool `json:"password_sent"`
	// Anonymous says the user was "anonymous" or "ftp" (RFC 1635).
	Anonymous bool `json:"anonymous,omitempty"`
	// DefaultCredential says the user name and password are a known
	// default pair (per the injected checker), whatever the outcome.
	DefaultCredential bool `json:"default_credential,omitempty"`
}

// SummaryDetail is the Detail of the "session-summary" observation
// emitted when the control connection ends.
type SummaryDetail struct {
	// Commands counts the commands the client sent by verb ("RETR": 2);
	// unknown verbs count as "other". Arguments are never kept.
	Commands map[string]int `json:"commands,omitempty"`
	// LoginAttempts counts the login attempts reported (a password sent,
	// or a verdict on USER), including those past Limits.MaxLogins that
	// got no observation of their own; LoginsOK and LoginsFailed count
	// those with a seen outcome.
	LoginAttempts int `json:"login_attempts"`
	LoginsOK      int `json:"logins_ok"`
	LoginsFailed  int `json:"logins_failed"`
	// DataEndpoints lists the data-connection endpoints announced (PASV,
	// EPSV replies; PORT, EPRT commands) as "ip:port", at most
	// Limits.MaxEndpoints; DataEndpointCount counts them all.
	DataEndpoints     []string `json:"data_endpoints,omitempty"`
	DataEndpointCount int      `json:"data_endpoint_count"`
	// TLS says the control connection switched to TLS; AuthMechanism is
	// the AUTH argument the client asked for.
	TLS           bool   `json:"tls,omitempty"`
	AuthMechanism string `json:"auth_mechanism,omitempty"`
	// Truncated says the session stopped reading at Limits.MaxBytes.
	Truncated bool `json:"truncated,omitempty"`
}

// softwarePatterns name FTP server software from its greeting. The first
// match wins. os, when set, is the operating system the software implies.
var softwarePatterns = []struct {
	re   *regexp.Regexp
	tmpl string
	os   string
}{
	{regexp.MustCompile(`(?i)\bvsftpd (\d+\.\d+\.\d+\w*)`), "vsftpd $1", ""},
	{regexp.MustCompile(`(?i)\bvsftpd\b`), "vsftpd", ""},
	{regexp.MustCompile(`\bProFTPD (\d+\.\d+\.\w+)`), "ProFTPD $1", ""},
	{regexp.MustCompile(`\bProFTPD\b`), "ProFTPD", ""},
	{regexp.MustCompile(`\bFileZilla Server(?: version)? (\d[\w.]*(?: beta)?)`), "FileZilla Server $1", "Windows"},
	{regexp.MustCompile(`\bFileZilla Server\b`), "FileZilla Server", "Windows"},
	{regexp.MustCompile(`\bMicrosoft FTP Service\b`), "Microsoft FTP Service", "Windows"},
	{regexp.MustCompile(`\bPure-FTPd\b`), "Pure-FTPd", ""},
	{regexp.MustCompile(`\bServ-U FTP Server v(\d[\w.]*)`), "Serv-U $1", "Windows"},
	{regexp.MustCompile(`\bwu-(\d+\.\d+\.\d+[\w.()-]*)`), "wu-ftpd $1", ""},
	{regexp.MustCompile(`\bbftpd (\d[\w.]*)`), "bftpd $1", ""},
	{regexp.MustCompile(`\bWS_FTP Server (\d[\w.]*)`), "WS_FTP Server $1", "Windows"},
	{regexp.MustCompile(`\bGene6 FTP Server\b`), "Gene6 FTP Server", "Windows"},
	{regexp.MustCompile(`\bCrushFTP\b`), "CrushFTP", ""},
	{regexp.MustCompile(`\bMikroTik FTP server \(MikroTik (\d[\w.]*)\)`), "MikroTik RouterOS $1", "RouterOS"},
}
