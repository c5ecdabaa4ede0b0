// Package httpproto dissects HTTP/1.0 and HTTP/1.1 on TCP and recognises
// FHIR REST traffic carried by it.
//
// A session follows both directions of a connection message by message:
// pipelined requests and responses, bodies framed by Content-Length,
// chunked transfer coding or connection close, all skipped unseen except
// for the first 4 KiB of JSON and XML bodies, which are looked at for a
// FHIR resourceType. It reports requests (method, host, decoded path,
// query parameter names), responses (status, server, challenges), the
// authentication that travelled in cleartext, FHIR interactions and the
// patient-data resources sent over plain HTTP.
//
// It keeps no query values, passwords, tokens or body contents: those are
// where patient data and secrets live. Passwords from Basic credentials
// are handed to an injected DefaultChecker and wiped.
//
// The package depends only on internal/proto and internal/event. The
// observation format is documented in docs/proto/http.md.
package httpproto
