// Package rama computes the RAMA score (Risk Assessment of Medical
// Applications): a risk from 0 to 100 per device, with a breakdown that
// traces every point to an input, its roll-up to the hospital (Local RAMA)
// by device class and by ENISA threat category, and daily snapshots for
// trends. docs/rama.md explains the formula and how to tune it.
//
// The package holds its own input types (Device and what it carries):
// the vulnerability matcher, the sensor's findings and alerts, the
// inventory and the hospital's declarations are turned into them by the
// composition root (internal/cli). It depends only on the standard
// library, internal/event (for the weakness kinds and an adapter from
// inventory records), golang.org/x/sync and the YAML parser; it must not
// depend on the sensor, the store or the server.
//
// Weights live in a YAML file (Config, with embedded shipped defaults).
// A Scorer is compiled from one Config and is immutable; an Engine holds
// the scored devices of one hospital and keeps the roll-up up to date as
// single devices change.
package rama
