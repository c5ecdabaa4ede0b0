// Package features turns heir's flow records into the feature vector of a
// model trained on the CICIoMT2024 flow-feature columns, so that such a
// model can score live traffic.
//
// The dataset's rows are not flows: CICIoMT2024's extractor (the CICIoT2023
// one) computes per-packet values and averages them over windows of 10 or
// 100 consecutive packets of a capture. heir's records are bidirectional
// 5-tuple flows. Map therefore states, per column, an exact equivalent, an
// approximation, or a stand-in; docs/ml.md has the table and the domain
// shift this causes. The packet-length columns need the flow engine's
// features (heir sense --flow-features).
//
// It depends on internal/event only; Map allocates nothing.
package features

import (
	"errors"
	"fmt"
	"math"

	"github.com/heir-emd/heir/internal/event"
)

// WindowPackets is the largest window of the dataset's extractor: counts
// that the dataset takes over a window (Number, the *_count columns, Tot
// sum) are taken over at most this many packets of a flow.
const WindowPackets = 100

// Extra holds per-flow counters the flow engine does not record yet
// (docs/ml.md, "What the flow engine would need"). A zero field means
// unknown: Map then uses the stand-in the docs give.
type Extra struct {
	// TTLMean is the mean IPv4 TTL or IPv6 hop limit over the flow's
	// packets, both directions.
	TTLMean float64
	// ECE and CWR count packets with those TCP flags set.
	ECE, CWR uint32
	// L4HeaderBytes sums the transport headers' lengths (TCP data offset
	// × 4, UDP 8, ICMP 8) over the flow's packets.
	L4HeaderBytes uint64
	// Known says the fields above were measured (a zero is then a zero).
	Known bool
}

// Column is how one model feature is computed.
type Column int

// The CICIoMT2024 columns heir can fill (IAT is never a feature).
const (
	HeaderLength Column = iota
	ProtocolType
	TimeToLive
	Rate
	FinFlagNumber
	SynFlagNumber
	RstFlagNumber
	PshFlagNumber
	AckFlagNumber
	EceFlagNumber
	CwrFlagNumber
	AckCount
	SynCount
	FinCount
	RstCount
	HTTP
	HTTPS
	DNS
	Telnet
	SMTP
	SSH
	IRC
	TCP
	UDP
	DHCP
	ARP
	ICMP
	IGMP
	IPv
	LLC
	TotSum
	Min
	Max
	AVG
	Std
	TotSize
	Number
	Variance
	numColumns
)

// Names are the dataset's column names, by Column.
var Names = [numColumns]string{
	"Header_Length", "Protocol Type", "Time_To_Live", "Rate",
	"fin_flag_number", "syn_flag_number", "rst_flag_number", "psh_flag_number", "ack_flag_number", "ece_flag_number", "cwr_flag_number",
	"ack_count", "syn_count", "fin_count", "rst_count",
	"HTTP", "HTTPS", "DNS", "Telnet", "SMTP", "SSH", "IRC", "TCP", "UDP", "DHCP", "ARP", "ICMP", "IGMP", "IPv", "LLC",
	"Tot sum", "Min", "Max", "AVG", "Std", "Tot size", "Number", "Variance",
}

// ErrNoFeatures: the flow record has no packet features (the sensor runs
// without --flow-features), so the packet-length columns are unknown.
var ErrNoFeatures = errors.New("flow record has no packet features (run the sensor with --flow-features)")

// Mapper fills a model's feature vector, in the model's column order.
type Mapper struct {
	cols []Column
}

// NewMapper prepares a mapping for a model's feature names; a name heir
// cannot compute is an error naming it.
func NewMapper(names []string) (*Mapper, error) {
	index := map[string]Column{}
	for c, n := range Names {
		index[n] = Column(c)
	}
	m := &Mapper{cols: make([]Column, len(names))}
	for i, n := range names {
		c, ok := index[n]
		if !ok {
			return nil, fmt.Errorf("features: model feature %d %q has no equivalent in heir's flow records", i+1, n)
		}
		m.cols[i] = c
	}
	return m, nil
}

// Len is the vector length.
func (m *Mapper) Len() int { return len(m.cols) }

// Map writes the feature vector of flow f into out (Len values). x may be
// nil. It allocates nothing.
func (m *Mapper) Map(f *event.Flow, x *Extra, out []float32) error {
	if len(out) < len(m.cols) {
		return fmt.Errorf("features: vector of %d for %d columns", len(out), len(m.cols))
	}
	if f.Features == nil {
		return ErrNoFeatures
	}
	var v values
	v.compute(f, x)
	for i, c := range m.cols {
		out[i] = float32(v.col[c])
	}
	return nil
}

type values struct {
	col [numColumns]float64
}

// Service ports the extractor recognises application protocols by; heir's
// dissector names count as well.
func appProto(f *event.Flow, ports []uint16, names ...string) float64 {
	for _, n := range names {
		if f.Proto == n {
			return 1
		}
	}
	for _, p := range ports {
		if f.Server.Port == p || f.Client.Port == p {
			return 1
		}
	}
	return 0
}

func (v *values) compute(f *event.Flow, x *Extra) {
	c := &v.col
	ft := f.Features
	pkts := f.Counts[0].Packets + f.Counts[1].Packets
	n := float64(max(pkts, 1))

	proto := 0.0
	switch f.Transport {
	case "tcp":
		proto, c[TCP] = 6, 1
	case "udp":
		proto, c[UDP] = 17, 1
	case "icmp", "icmpv6":
		// The dataset only has ICMPv4 (1); ICMPv6 plays the same part.
		proto, c[ICMP] = 1, 1
	case "igmp":
		proto, c[IGMP] = 2, 1
	}
	c[ProtocolType] = proto
	// heir's flows are IP over Ethernet: the dataset's IPv and LLC are 1
	// for such packets. ARP is not a flow: always 0 here.
	c[IPv], c[LLC], c[ARP] = 1, 1, 0

	if x != nil && x.Known {
		c[HeaderLength] = float64(x.L4HeaderBytes) / n
		c[TimeToLive] = x.TTLMean
		c[EceFlagNumber] = float64(x.ECE) / n
		c[CwrFlagNumber] = float64(x.CWR) / n
	} else {
		// Stand-ins: the transport header without options (TCP 20, UDP
		// and ICMP 8) — wire bytes less payload cannot tell it, Ethernet
		// padding of short frames being counted; TTL 64, the most common
		// initial TTL and the dataset's median; ECE/CWR unseen.
		switch proto {
		case 6:
			c[HeaderLength] = 20
		case 17, 1:
			c[HeaderLength] = 8
		}
		c[TimeToLive] = 64
	}

	// Rate: packets per second over the flow; +Inf when all packets share
	// one timestamp, as the dataset's "inf".
	if d := f.End.Sub(f.Start).Seconds(); d > 0 && pkts > 1 {
		c[Rate] = float64(pkts) / d
	} else {
		c[Rate] = math.Inf(1)
	}

	c[FinFlagNumber] = float64(ft.FIN) / n
	c[SynFlagNumber] = float64(ft.SYN) / n
	c[RstFlagNumber] = float64(ft.RST) / n
	c[PshFlagNumber] = float64(ft.PSH) / n
	c[AckFlagNumber] = float64(ft.ACK) / n

	window := float64(min(pkts, WindowPackets))
	c[Number] = window
	c[AckCount] = c[AckFlagNumber] * window
	c[SynCount] = c[SynFlagNumber] * window
	c[FinCount] = c[FinFlagNumber] * window
	c[RstCount] = c[RstFlagNumber] * window

	c[HTTP] = appProto(f, []uint16{80, 8080}, "http")
	c[HTTPS] = appProto(f, []uint16{443}, "tls")
	c[DNS] = appProto(f, []uint16{53}, "dns")
	c[Telnet] = appProto(f, []uint16{23}, "telnet")
	c[SMTP] = appProto(f, []uint16{25})
	c[SSH] = appProto(f, []uint16{22}, "ssh")
	c[IRC] = appProto(f, []uint16{194, 6667})
	c[DHCP] = appProto(f, []uint16{67, 68}, "dhcp")
	if c[HTTPS] == 1 || c[HTTP] == 1 {
		// A TLS flow on port 80 or HTTP on 443: the port decides, as the
		// extractor's.
		if f.Server.Port == 443 || f.Client.Port == 443 {
			c[HTTP] = 0
		} else if f.Server.Port == 80 || f.Client.Port == 80 {
			c[HTTPS] = 0
		}
	}

	c[Min] = float64(ft.PktLenMin)
	c[Max] = float64(ft.PktLenMax)
	c[AVG] = ft.PktLenMean
	c[TotSize] = ft.PktLenMean
	c[Std] = ft.PktLenStd
	c[Variance] = ft.PktLenStd * ft.PktLenStd
	c[TotSum] = ft.PktLenMean * window
}
