// Package ui is the hospital node's web dashboard: server-rendered HTML
// pages (overview, devices, alerts, findings triage, threats) with small
// ES modules of heir's own and Apache ECharts, all embedded in the binary.
//
// The pages read the node's data through the JSON API of
// internal/server, in-process: each page makes sub-requests to the API
// handler with the browser's own credentials, so that the API's access
// rules, validation and shaping are the only ones there are. A viewer
// sees no triage control, and if one forges the request the API refuses
// it. Plain HTML forms work without script; the scripts add live alerts
// (Server-Sent Events), charts and in-place triage.
//
// Nothing is fetched from elsewhere at run time: the vendored ECharts
// bundle under static/vendor is built from web/package-lock.json by
// `go generate ./internal/server/ui` and checked by the package's tests.
// docs/ui.md describes the pages, the accessibility choices and the
// build.
//
// The package depends on internal/server (routes, principals, CSRF, the
// API's types), internal/store, internal/event, internal/auth,
// internal/taxonomy and internal/rama (the breakdown's JSON shape). It
// must not depend on a store backend, the bus or the cli.
package ui
