// Package server is the hospital node's HTTP server (heir serve): the JSON
// REST API under /api/v1 with its OpenAPI 3.1 description, sign-in with
// local users (argon2id), API tokens and optional OpenID Connect, roles
// that deny everything they do not grant, the live alert stream
// (Server-Sent Events), health, readiness and Prometheus metrics, and a
// mount point for the web UI.
//
// Every route is declared in one table with its access rule (Public,
// Authenticated or Require(permission)); New refuses a route without
// one, so nothing is exposed by omission. Errors are RFC 9457 problem
// details. docs/api.md is the reference for clients and operators.
//
// The package depends on internal/store (its small interfaces and
// records), internal/auth, internal/event and internal/taxonomy. It must
// not depend on a store backend, the bus or the cli: the composition root
// passes concrete types in Options, and the bus's sensor credentials come
// through SensorIssuer.
package server
