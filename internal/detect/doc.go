// Package detect is heir's threat-hunting engine: it runs detection rules
// and built-in detectors over what the sensor produces and reports
// findings (standing weaknesses of devices) and alerts (events in time),
// tagged with the threat taxonomies of internal/taxonomy.
//
// An Engine is a sensor.Output and a sensor.PacketObserver: it sees every
// IP packet (floods, refused probes), every new flow (scans, listed
// peers), every dissector observation (field rules, findings, DICOM
// query/retrieve, web attacks, DNS/TLS/HTTP names and certificates), every
// flow record and every ARP message (sweeps, spoofing). It runs on event
// (capture) time, never the wall clock; Tick advances that clock when the
// network is quiet. Output goes to a Sink.
//
// Rules are one YAML file (docs/rules.md): field rules count matching
// events per group over a sliding window; built-in detectors
// (port-scan, host-sweep, flood, arp-spoofing, arp-storm,
// dicom-exfiltration, indicator, indicator-certificate, web-attack) take
// their parameters from their rule. The shipped set is embedded
// (default.yaml, described in docs/detections.md). Rules and indicator
// lists reload without a restart (Reload, ReloadFiles, WatchFiles); a
// broken file is refused with file:line:column and the old rules stay.
//
// One incident is one alert: an alert is emitted when it opens, again at
// most every rule.update while it grows (same ID), and a last time with
// Final set after the rule's quiet period. Findings are kept per rule,
// kind, device and protocol.
//
// All state is bounded (Limits) and what a bound drops is counted
// (Stats). Packet and FlowStart allocate nothing in steady state.
//
// Sub-packages: indicator (known-bad lists: plain, CSV, STIX 2.1) and
// webattack (the HTTP request inspector). The package depends on the
// sensor's types (event, packet, proto, sensor, httpproto for the
// inspector hook) and on internal/taxonomy; nothing in the packet path
// depends on it.
package detect
