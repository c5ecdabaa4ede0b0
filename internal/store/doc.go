// Package store holds what the hospital node keeps: the small interfaces
// its consumers depend on (Assets, Findings, Alerts, Events, Audit, Users,
// Sessions, Tokens, Sensors, Scores), the records and queries they share,
// and the parsing of list parameters (sort keys, cursors).
//
// Two backends implement every interface with one concrete type each:
// store/sqlite (embedded default, pure Go, WAL) and store/postgres (larger
// sites). Both share their SQL in store/sqlstore and pass the same
// conformance suite, store/storetest. docs/storage.md describes the schema,
// the migrations and the semantics callers rely on (finding states, alert
// incidents, ingest-once, the audit chain).
//
// This package depends only on internal/event and the standard library: it
// must not import a backend, so that consumers compile without a driver.
package store
