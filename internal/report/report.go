// Package report summarises what the sensor saw in a capture for a
// person (aligned text) or a program (JSON): the devices, the protocols,
// and the weaknesses, with the packet path's counters so that nothing
// dropped goes unmentioned.
package report

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
)

// Report is the result of an analysis.
type Report struct {
	V            int                  `json:"v"`
	Type         string               `json:"type"`
	Inputs       []capture.InputStats `json:"inputs"`
	Start        time.Time            `json:"start"`
	End          time.Time            `json:"end"`
	Packets      sensor.Stats         `json:"packets"`
	Devices      []event.Asset        `json:"devices"`
	Protocols    []Protocol           `json:"protocols"`
	Weaknesses   []Weakness           `json:"weaknesses"`
	Observations map[string]uint64    `json:"observations"`
	// Findings and Alerts are what the detection rules reported
	// (internal/detect), as they stood at the end of the capture.
	Findings []event.Finding `json:"findings,omitempty"`
	Alerts   []event.Alert   `json:"alerts,omitempty"`
	// Detection says the detection rules ran (they do unless turned off):
	// findings then stand for the weaknesses in the text report.
	Detection bool `json:"detection"`
}

// Protocol is the traffic of one application protocol (or transport, for
// flows no dissector recognised).
type Protocol struct {
	Name    string `json:"name"`
	Flows   uint64 `json:"flows"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	Servers int    `json:"servers"`
	Clients int    `json:"clients"`
}

// Weakness is one kind of weakness seen on one endpoint.
type Weakness struct {
	Kind      event.WeaknessKind `json:"kind"`
	Severity  string             `json:"severity"`
	Proto     string             `json:"proto"`
	Endpoint  netip.Addr         `json:"endpoint"`
	Port      uint16             `json:"port,omitempty"`
	Detail    string             `json:"detail"`
	Count     uint64             `json:"count"`
	FirstSeen time.Time          `json:"first_seen"`
	LastSeen  time.Time          `json:"last_seen"`
	Flows     []string           `json:"flows"`
}

// maxWeaknessFlows bounds the example flow ids kept per weakness.
const maxWeaknessFlows = 5

// maxWeaknesses bounds the distinct weaknesses kept; more are counted.
const maxWeaknesses = 10000

// Severity ranks weakness kinds for sorting and display.
func Severity(k event.WeaknessKind) string {
	switch k {
	case event.WeakCleartextPHI, event.WeakDefaultCredentials:
		return "high"
	case event.WeakCleartextCredentials, event.WeakObsoleteTLS, event.WeakSMBv1,
		event.WeakUnauthenticated, event.WeakCipher, event.WeakCertificate:
		return "medium"
	}
	return "low"
}

func severityRank(s string) int {
	switch s {
	case "high":
		return 0
	case "medium":
		return 1
	}
	return 2
}

type weakKey struct {
	kind   event.WeaknessKind
	proto  string
	ep     netip.Addr
	port   uint16
	detail string
}

type protoAgg struct {
	Protocol
	servers, clients map[netip.Addr]struct{}
}

// Collector aggregates the sensor's output into a report. It implements
// sensor.Output.
type Collector struct {
	protos       map[string]*protoAgg
	weak         map[weakKey]*Weakness
	weakOverflow uint64
	kinds        map[string]uint64
}

// NewCollector returns an empty collector.
func NewCollector() *Collector {
	return &Collector{protos: map[string]*protoAgg{}, weak: map[weakKey]*Weakness{}, kinds: map[string]uint64{}}
}

// Observe counts the observation and aggregates its weaknesses.
func (c *Collector) Observe(o *event.Observation) {
	c.kinds[o.Proto+"/"+o.Kind]++
	for _, w := range o.Weaknesses {
		ep := o.Src
		if w.About == event.AboutDst {
			ep = o.Dst
		}
		k := weakKey{kind: w.Kind, proto: o.Proto, ep: ep.IP, port: ep.Port, detail: w.Detail}
		// A client's ephemeral port says nothing; keep ports of servers only.
		if !isServerSide(o, w.About) {
			k.port = 0
		}
		agg := c.weak[k]
		if agg == nil {
			if len(c.weak) >= maxWeaknesses {
				c.weakOverflow++
				continue
			}
			agg = &Weakness{Kind: w.Kind, Severity: Severity(w.Kind), Proto: o.Proto, Endpoint: ep.IP,
				Port: k.port, Detail: w.Detail, FirstSeen: o.Time}
			c.weak[k] = agg
		}
		agg.Count++
		if o.Time.Before(agg.FirstSeen) {
			agg.FirstSeen = o.Time
		}
		if o.Time.After(agg.LastSeen) {
			agg.LastSeen = o.Time
		}
		if len(agg.Flows) < maxWeaknessFlows && !slices.Contains(agg.Flows, o.Flow) {
			agg.Flows = append(agg.Flows, o.Flow)
		}
	}
}

// isServerSide says whether the endpoint a weakness is about is the
// observation's server, judged by which end has the lower port.
func isServerSide(o *event.Observation, about event.About) bool {
	if about == event.AboutDst {
		return o.Dst.Port <= o.Src.Port
	}
	return o.Src.Port < o.Dst.Port
}

// FlowStart does nothing; flows are counted when they end.
func (c *Collector) FlowStart(*proto.Conn, time.Time) {}

// ARP does nothing.
func (c *Collector) ARP(*sensor.ARP) {}

// Flow adds a finished flow to its protocol's totals.
func (c *Collector) Flow(f *event.Flow) {
	name := f.Proto
	if name == "" {
		name = f.Transport
		if f.Transport == "tcp" || f.Transport == "udp" {
			name = "unknown-" + f.Transport
		}
	}
	p := c.protos[name]
	if p == nil {
		p = &protoAgg{Protocol: Protocol{Name: name}, servers: map[netip.Addr]struct{}{}, clients: map[netip.Addr]struct{}{}}
		c.protos[name] = p
	}
	if !f.Continuing {
		p.Flows++
	}
	p.Packets += f.Counts[0].Packets + f.Counts[1].Packets
	p.Bytes += f.Counts[0].Bytes + f.Counts[1].Bytes
	if len(p.servers) < 1<<16 {
		p.servers[f.Server.IP] = struct{}{}
		p.clients[f.Client.IP] = struct{}{}
	}
}

// Report builds the report from what was collected and the other parts'
// results.
func (c *Collector) Report(stats sensor.Stats, inputs []capture.InputStats, devices []event.Asset) *Report {
	r := &Report{
		V:            event.Version,
		Type:         "report",
		Inputs:       inputs,
		Start:        stats.FirstPacket.UTC(),
		End:          stats.LastPacket.UTC(),
		Packets:      stats,
		Devices:      devices,
		Observations: c.kinds,
		Protocols:    []Protocol{},
		Weaknesses:   []Weakness{},
	}
	if r.Devices == nil {
		r.Devices = []event.Asset{}
	}
	for _, p := range c.protos {
		p.Servers, p.Clients = len(p.servers), len(p.clients)
		r.Protocols = append(r.Protocols, p.Protocol)
	}
	slices.SortFunc(r.Protocols, func(a, b Protocol) int {
		return cmp.Or(cmp.Compare(b.Flows, a.Flows), cmp.Compare(a.Name, b.Name))
	})
	for _, w := range c.weak {
		r.Weaknesses = append(r.Weaknesses, *w)
	}
	slices.SortFunc(r.Weaknesses, func(a, b Weakness) int {
		return cmp.Or(
			cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)),
			cmp.Compare(a.Kind, b.Kind),
			a.Endpoint.Compare(b.Endpoint),
			cmp.Compare(a.Port, b.Port),
			cmp.Compare(a.Proto, b.Proto),
			cmp.Compare(a.Detail, b.Detail))
	})
	return r
}
