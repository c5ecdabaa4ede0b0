package server

import (
	"net/http"

	"github.com/heir-emd/heir/internal/auth"
)

// apiRoutes is the route table: every path the node serves, with who may
// call it. docs/api.md and openapi.yaml describe the same table; a test
// keeps the three in step.
func (s *Server) apiRoutes() []Route {
	h := func(f http.HandlerFunc) http.Handler { return f }
	read := Require(auth.PermRead)
	metricsAccess := read
	if s.opts.MetricsPublic {
		metricsAccess = Public()
	}
	return []Route{
		// Health and metrics.
		{Method: "GET", Pattern: "/healthz", Access: Public(), Handler: h(s.healthz)},
		{Method: "GET", Pattern: "/readyz", Access: Public(), Handler: h(s.readyz)},
		{Method: "GET", Pattern: "/metrics", Access: metricsAccess, Handler: s.metrics.handler()},

		// Browser sign-in (HTML, no script).
		{Method: "GET", Pattern: "/auth/login", Access: Public(), Handler: h(s.loginPage), Browser: true},
		{Method: "POST", Pattern: "/auth/login", Access: Public(), Handler: h(s.loginForm), Browser: true},
		{Method: "POST", Pattern: "/auth/logout", Access: Authenticated(), Handler: h(s.logoutForm), Browser: true},
		{Method: "GET", Pattern: "/auth/login.css", Access: Public(), Handler: h(s.loginCSS)},
		{Method: "GET", Pattern: "/auth/oidc/login", Access: Public(), Handler: h(s.oidcLogin), Browser: true},
		{Method: "GET", Pattern: "/auth/oidc/callback", Access: Public(), Handler: h(s.oidcCallback), Browser: true},

		// API sign-in and the signed-in user.
		{Method: "POST", Pattern: "/api/v1/auth/login", Access: Public(), Handler: h(s.apiLogin)},
		{Method: "POST", Pattern: "/api/v1/auth/logout", Access: Authenticated(), Handler: h(s.apiLogout)},
		{Method: "GET", Pattern: "/api/v1/auth/me", Access: Authenticated(), Handler: h(s.me)},
		{Method: "POST", Pattern: "/api/v1/auth/password", Access: Authenticated(), Handler: h(s.changePassword)},

		// The API's own description.
		{Method: "GET", Pattern: "/api/v1/openapi.json", Access: read, Handler: h(s.openapiJSON)},
		{Method: "GET", Pattern: "/api/v1/openapi.yaml", Access: read, Handler: h(s.openapiYAML)},

		// Hospital data.
		{Method: "GET", Pattern: "/api/v1/overview", Access: read, Handler: h(s.overview)},
		{Method: "GET", Pattern: "/api/v1/assets", Access: read, Handler: h(s.listAssets)},
		{Method: "GET", Pattern: "/api/v1/assets/{id}", Access: read, Handler: h(s.getAsset)},
		{Method: "GET", Pattern: "/api/v1/findings", Access: read, Handler: h(s.listFindings)},
		{Method: "GET", Pattern: "/api/v1/findings/{id}", Access: read, Handler: h(s.getFinding)},
		{Method: "POST", Pattern: "/api/v1/findings/{id}/triage", Access: Require(auth.PermTriage), Handler: h(s.triageFinding)},
		{Method: "GET", Pattern: "/api/v1/alerts", Access: read, Handler: h(s.listAlerts)},
		{Method: "GET", Pattern: "/api/v1/alerts/stream", Access: read, Handler: h(s.alertStream), Stream: true},
		{Method: "GET", Pattern: "/api/v1/alerts/{id}", Access: read, Handler: h(s.getAlert)},
		{Method: "GET", Pattern: "/api/v1/vulnerabilities", Access: read, Handler: h(s.listVulnerabilities)},
		{Method: "GET", Pattern: "/api/v1/scores/hospital", Access: read, Handler: h(s.hospitalScores)},
		{Method: "GET", Pattern: "/api/v1/scores/assets/{id}", Access: read, Handler: h(s.assetScores)},

		// Administration.
		{Method: "GET", Pattern: "/api/v1/users", Access: Require(auth.PermUsers), Handler: h(s.listUsers)},
		{Method: "POST", Pattern: "/api/v1/users", Access: Require(auth.PermUsers), Handler: h(s.createUser)},
		{Method: "GET", Pattern: "/api/v1/users/{id}", Access: Require(auth.PermUsers), Handler: h(s.getUser)},
		{Method: "PATCH", Pattern: "/api/v1/users/{id}", Access: Require(auth.PermUsers), Handler: h(s.updateUser)},
		{Method: "GET", Pattern: "/api/v1/tokens", Access: Require(auth.PermTokens), Handler: h(s.listTokens)},
		{Method: "POST", Pattern: "/api/v1/tokens", Access: Require(auth.PermTokens), Handler: h(s.createToken)},
		{Method: "DELETE", Pattern: "/api/v1/tokens/{id}", Access: Require(auth.PermTokens), Handler: h(s.revokeToken)},
		{Method: "GET", Pattern: "/api/v1/sensors", Access: Require(auth.PermSensors), Handler: h(s.listSensors)},
		{Method: "POST", Pattern: "/api/v1/sensors", Access: Require(auth.PermSensors), Handler: h(s.issueSensor)},
		{Method: "DELETE", Pattern: "/api/v1/sensors/{name}", Access: Require(auth.PermSensors), Handler: h(s.revokeSensor)},
		{Method: "GET", Pattern: "/api/v1/settings/rama", Access: read, Handler: h(s.getRAMASettings)},
		{Method: "PUT", Pattern: "/api/v1/settings/rama", Access: Require(auth.PermSettings), Handler: h(s.putRAMASettings)},
		{Method: "DELETE", Pattern: "/api/v1/settings/rama", Access: Require(auth.PermSettings), Handler: h(s.resetRAMASettings)},
		{Method: "GET", Pattern: "/api/v1/audit", Access: Require(auth.PermAudit), Handler: h(s.listAudit)},
		{Method: "GET", Pattern: "/api/v1/audit/verify", Access: Require(auth.PermAudit), Handler: h(s.verifyAudit)},
	}
}
