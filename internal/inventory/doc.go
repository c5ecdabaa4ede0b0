// Package inventory reads imported inventories: a CSV export of the
// hospital's device list (CMMS, asset register), CycloneDX SBOMs attached
// to a device model (JSON or XML), and CycloneDX VEX documents whose
// not-affected statements suppress vulnerability matches. It turns them
// into the matching inputs of package vuln.
//
// It depends on vuln's plain types and on cyclonedx-go; it must not
// depend on the sensor, the store or the CLI.
package inventory
