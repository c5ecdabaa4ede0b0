// Package tls dissects the cleartext start of TLS conversations (and SSL
// 3.0, SSL 2.0 format hellos, and DTLS on UDP): the ClientHello (offered
// versions, SNI, ALPN, JA3), the ServerHello (negotiated version and
// cipher suite, JA3S), the certificate chains of TLS ≤ 1.2, and alerts
// sent before encryption. From them it reports obsolete protocol
// versions, weak cipher suites and weak certificates.
//
// It reads handshake messages across record and TCP segment boundaries,
// skips encrypted records without buffering them, and stops as soon as
// both sides have nothing more in cleartext to say. Every length is
// checked and everything it keeps is bounded (messages of 64 KiB, 10
// certificates per chain, 20 names per certificate, 128 extensions).
//
// Observation details and weakness rules are documented in
// docs/proto/tls.md. The package depends only on internal/proto,
// internal/event and the standard library.
package tls
