// Package asset is heir's passive device inventory. It consumes what the
// sensor produces (observations, flow starts, flow records, ARP messages)
// and keeps the devices of the monitored networks: their MAC and IP
// addresses, vendor, host name, model, firmware, software, the services
// they offer, the protocols they speak, their role (PACS, modality, HL7
// engine, infusion pump …) and the weaknesses seen on them. Every
// attribute keeps the evidence that said so and a confidence.
//
// Internally the inventory keeps two kinds of record: one per IP address
// of a device (facts seen on that address) and one per MAC address. A
// device is rendered as a MAC record together with the addresses bound to
// it, or as a lone address record when no MAC is (validly) bound. Keeping
// them apart until rendering is what lets the inventory undo a binding
// without mixing devices: when a MAC turns out to be a router, the
// addresses seen behind it become devices of their own; when an address
// moves to another MAC (DHCP reassignment), what was learnt on it stays
// with the device that held it.
//
// Role inference is data: rules.json (embedded, documented in
// docs/inventory.md) lists conditions on facts and services per role.
//
// Everything is bounded (devices, addresses per device, values and
// evidence per attribute, services, peers, weaknesses, tracked flows); each
// bound that bites is counted in Stats.
//
// The package depends on event, proto (for the flow-start connection),
// sensor (for its ARP record) and oui; never on a dissector package.
package asset
