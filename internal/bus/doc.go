// Package bus carries events from sensors (heir sense) to the hospital node
// (heir serve) over NATS JetStream: an embedded server with file storage by
// default (Server), or an existing NATS cluster (Dial).
//
// Sensors publish envelopes (Envelope: a record of docs/events.md with the
// sensor's name, a sequence number and a content-derived id) on
// <prefix>.<sensor>.<type>. A Publisher never blocks its caller: records go
// to a bounded in-memory queue, a writer goroutine appends them to a disk
// spool (package spool), and a sender goroutine publishes the spool in
// order, deleting records only after JetStream acknowledged them. The node's
// Consumer pulls from a durable consumer, hands each envelope to a Handler
// and acknowledges it only after the handler has committed it; the handler
// stores idempotently by envelope id, so redeliveries and resends are
// stored exactly once.
//
// Sensors authenticate with nkeys the node issues (Registry); each may
// publish only to its own subjects. Revoking a sensor disconnects it.
//
// The package depends on internal/event (the record types) and the NATS
// libraries; it must not depend on the sensor, the store or the cli.
// docs/bus.md describes the subjects, the envelope, the guarantees and the
// counters.
package bus
