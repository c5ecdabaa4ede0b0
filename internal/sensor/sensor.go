// Package sensor is heir's packet path: it takes captured frames from a
// capture.Source, decodes them, reassembles IP fragments, applies the
// user's filter, and drives the flow engine, whose flows and observations
// go to an Output. Both `heir analyze` and `heir sense` run it.
package sensor

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/defrag"
	"github.com/heir-emd/heir/internal/flow"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto"
)

// ARP is one ARP message: the strongest evidence of which MAC holds which
// IPv4 address on the local link.
type ARP struct {
	Time      time.Time
	Frame     uint64
	Op        uint16
	SenderMAC [6]byte
	SenderIP  netip.Addr
	TargetMAC [6]byte
	TargetIP  netip.Addr
	VLAN      uint16
}

// Output receives everything the sensor produces.
type Output interface {
	flow.Output
	ARP(a *ARP)
}

// Matcher selects packets; packets it rejects are counted and ignored.
type Matcher interface {
	Match(p *packet.Packet) bool
}

// PacketObserver sees every IP packet the sensor keeps (after
// defragmentation and the filter), before the flow engine: detectors that
// count packets (floods) need them as they come. It must be quick and
// must not keep p, which is reused.
type PacketObserver interface {
	Packet(p *packet.Packet, ts time.Time, wireLen int)
}

// Config tunes the sensor.
type Config struct {
	Flow   flow.Config
	Defrag defrag.Limits
	// Filter, if set, keeps only the packets it matches (ARP always passes,
	// since the inventory needs it).
	Filter Matcher
	// Packets, if set, sees every IP packet kept.
	Packets PacketObserver
}

// Stats count the packet path's work and every frame it could not use.
type Stats struct {
	Frames      uint64            `json:"frames"`
	Bytes       uint64            `json:"bytes"`
	IP          uint64            `json:"ip_packets"`
	ARP         uint64            `json:"arp"`
	NonIP       uint64            `json:"non_ip"`
	Filtered    uint64            `json:"filtered"`
	Malformed   uint64            `json:"malformed"`
	Truncated   uint64            `json:"truncated"`
	Errors      map[string]uint64 `json:"decode_errors,omitempty"`
	Defrag      defrag.Stats      `json:"defrag"`
	Flow        flow.Stats        `json:"flow"`
	FirstPacket time.Time         `json:"first_packet,omitzero"`
	LastPacket  time.Time         `json:"last_packet,omitzero"`
}

// Sensor runs the packet path. It is single-threaded.
type Sensor struct {
	cfg    Config
	out    Output
	engine *flow.Engine
	defrag *defrag.Defragmenter
	pkt    packet.Packet
	arp    ARP
	stats  Stats
	errs   [packet.NumErrors]uint64
}

// New returns a sensor dissecting with ds and reporting to out.
func New(cfg Config, ds []proto.Dissector, out Output) *Sensor {
	return &Sensor{
		cfg:    cfg,
		out:    out,
		engine: flow.New(cfg.Flow, ds, out),
		defrag: defrag.New(cfg.Defrag),
	}
}

// Run reads src until it ends or ctx is cancelled, then flushes every flow.
// It returns nil at the end of the input and ctx's error when cancelled.
func (s *Sensor) Run(ctx context.Context, src capture.Source) error {
	for {
		p, err := src.Next(ctx)
		if err != nil {
			s.Finish()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		s.Packet(p)
	}
}

// Packet processes one captured frame.
func (s *Sensor) Packet(cp *capture.Packet) {
	st := &s.stats
	st.Frames++
	st.Bytes += uint64(cp.WireLen)
	if st.FirstPacket.IsZero() {
		st.FirstPacket = cp.Time
	}
	st.LastPacket = cp.Time
	p := &s.pkt
	if err := packet.Decode(cp.LinkType, cp.Data, p); err != nil {
		st.Malformed++
		if e, ok := err.(packet.Error); ok {
			s.errs[e]++
		}
		return
	}
	if p.Truncated {
		st.Truncated++
	}
	if p.ARP {
		st.ARP++
		s.arp = ARP{Time: cp.Time, Frame: cp.Frame, Op: p.ARPOp, SenderMAC: p.ARPSenderMAC, SenderIP: p.ARPSenderIP,
			TargetMAC: p.ARPTargetMAC, TargetIP: p.ARPTargetIP}
		if p.NVLAN > 0 {
			s.arp.VLAN = p.VLANs[p.NVLAN-1]
		}
		s.out.ARP(&s.arp)
		return
	}
	if p.IPVersion == 0 {
		st.NonIP++
		return
	}
	if p.Fragment {
		payload, ok := s.defrag.Add(p, cp.Time)
		if !ok {
			return
		}
		if err := p.DecodeTransport(payload); err != nil {
			st.Malformed++
			if e, ok := err.(packet.Error); ok {
				s.errs[e]++
			}
			return
		}
	}
	if s.cfg.Filter != nil && !s.cfg.Filter.Match(p) {
		st.Filtered++
		return
	}
	st.IP++
	if s.cfg.Packets != nil {
		s.cfg.Packets.Packet(p, cp.Time, cp.WireLen)
	}
	s.engine.Packet(p, cp.Time, cp.Frame, cp.WireLen)
}

// Tick lets a live sensor expire idle flows when no packet arrives.
func (s *Sensor) Tick(now time.Time) {
	s.engine.Advance(now)
	s.defrag.Expire(now)
}

// Finish ends every flow, as at the end of a capture.
func (s *Sensor) Finish() {
	s.engine.Flush(s.stats.LastPacket)
}

// Stats returns the counters so far.
func (s *Sensor) Stats() Stats {
	st := s.stats
	st.Defrag = s.defrag.Stats()
	st.Flow = s.engine.Stats()
	st.Errors = map[string]uint64{}
	for i, n := range s.errs {
		if n > 0 {
			st.Errors[packet.Error(i).Error()] = n
		}
	}
	return st
}
