// Package taxonomy holds the threat catalogues heir tags every alert and
// finding with — ENISA Threat Landscape 2018 (top 15), OWASP Top 10 2021
// and 2025, OWASP IoT Top 10 2018 and the MITRE ATT&CK techniques heir
// uses — and the mapping from heir's detection classes to them, each tag
// with the reason it applies.
//
// The catalogues are what hospitals, regulators and the observatory count
// threats by, so an id is only ever tagged if it exists in its catalogue:
// Lookup and Tag refuse unknown ids, and the rule loader in internal/detect
// uses them to reject a rule file that names one.
//
// Catalogue values are built fresh by New and never changed afterwards; the
// package has no mutable package-level state. It depends only on
// internal/event (for the Tag wire type).
package taxonomy
