// Package baseline learns, without labels, how each device of the
// hospital network behaves — its peers, the services it uses and offers,
// the kinds of message it exchanges, the sizes and rhythm of its flows,
// how many flows and bytes it moves per window — and reports deviations
// from that baseline as alerts that say which feature deviated, what was
// learned and what was seen, and by how much (docs/baselines.md).
//
// Medical devices are regular: a modality stores images on one PACS, a
// pump publishes telemetry to one broker on one topic, an HIS sends a
// handful of HL7 message types to one engine. So the baseline is per
// device (an address in the home networks that has sent a packet), and a
// new peer, port, message kind or size is news.
//
// A device learns for a period (Config.LearnFor of capture time and
// Config.LearnFlows flows, whichever ends later); then categorical
// novelties are alerted once and kept as provisional until seen often
// enough to be normal, and numeric features (median/MAD-seeded,
// Huber-clipped EWMA on a log scale) are scored in robust deviations.
// One incident per device and feature kind is one alert, updated while
// it lasts and final after a quiet period, as in internal/detect.
//
// A Baseline is a sensor.Output; it runs on capture time (Tick for quiet
// periods), keeps every table bounded (Limits, counted in Stats), and
// saves to and loads from a versioned JSON file so that learning survives
// a restart. It depends on the sensor's types (event, proto, sensor, the
// dissectors' Detail types), detect (its Sink), taxonomy and asset (the
// default home networks); nothing in the packet path depends on it.
package baseline
