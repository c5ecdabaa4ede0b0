package auth

import "fmt"

// Role is what a user is allowed to be in heir.
type Role string

// The roles. Everything is denied unless a role allows it.
const (
	RoleAdmin   Role = "admin"   // runs heir: users, sensors, settings
	RoleAnalyst Role = "analyst" // triages findings and alerts
	RoleViewer  Role = "viewer"  // reads dashboards
	RoleAuditor Role = "auditor" // reads, and reads the audit trail
	RoleDPO     Role = "dpo"     // data-protection officer: privacy policies and what leaves the hospital
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleAnalyst, RoleViewer, RoleAuditor, RoleDPO}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (roles: admin, analyst, viewer, auditor, dpo)", s)
}

// Permission is one kind of action.
type Permission string

// The permissions routes require.
const (
	PermRead     Permission = "read"     // devices, findings, alerts, vulnerabilities, scores, dashboards
	PermTriage   Permission = "triage"   // change a finding's or a match's state, acknowledge alerts
	PermSettings Permission = "settings" // rules, scoring configuration, networks
	PermUsers    Permission = "users"    // manage users and their roles
	PermSensors  Permission = "sensors"  // issue and revoke sensor credentials
	PermAudit    Permission = "audit"    // read the audit trail
	PermPrivacy  Permission = "privacy"  // privacy policies and sharing approvals
	PermTokens   Permission = "tokens"   // one's own API tokens
)

var grants = map[Role][]Permission{
	RoleAdmin:   {PermRead, PermTriage, PermSettings, PermUsers, PermSensors, PermAudit, PermTokens},
	RoleAnalyst: {PermRead, PermTriage, PermTokens},
	RoleViewer:  {PermRead, PermTokens},
	RoleAuditor: {PermRead, PermAudit, PermTokens},
	RoleDPO:     {PermRead, PermAudit, PermPrivacy, PermTokens},
}

// Allowed says whether role r may do p. Unknown roles and permissions are
// denied.
func Allowed(r Role, p Permission) bool {
	for _, g := range grants[r] {
		if g == p {
			return true
		}
	}
	return false
}
