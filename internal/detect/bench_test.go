package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/flow"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/testenv"
)

func labCapture(b *testing.B) string { return testenv.DataFile(b, "pcap/lab/medlab-dev.pcap") }

// discard is a Sink that keeps nothing.
type discard struct{ alerts, findings int }

func (d *discard) Alert(*event.Alert)     { d.alerts++ }
func (d *discard) Finding(*event.Finding) { d.findings++ }

func benchEngine(b *testing.B) *Engine {
	e, err := New(Config{}, &discard{})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkPacket: the per-packet path for ordinary traffic (TCP data and
// UDP between a few hosts, counted for floods).
func BenchmarkPacket(b *testing.B) {
	e := benchEngine(b)
	pkts := make([]*packet.Packet, 64)
	for i := range pkts {
		p := &packet.Packet{IPVersion: 4, Src: netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), Dst: netip.AddrFrom4([4]byte{10, 0, 0, byte(i % 8)}),
			SrcPort: 40000, DstPort: 443, Proto: packet.ProtoTCP, TCPFlags: packet.ACK | packet.PSH}
		if i%4 == 0 {
			p.Proto = packet.ProtoUDP
			p.DstPort = 53
		}
		pkts[i] = p
	}
	ts := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts = ts.Add(10 * time.Microsecond)
		e.Packet(pkts[i&63], ts, 100)
	}
}

// BenchmarkFlowStart: a new flow per call (SYN from 256 clients to 16
// services), counted towards scans and matched against indicators.
func BenchmarkFlowStart(b *testing.B) {
	e := benchEngine(b)
	conns := make([]*proto.Conn, 4096)
	pkts := make([]*packet.Packet, len(conns))
	for i := range conns {
		src := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8 & 0xff), byte(i)})
		dst := netip.AddrFrom4([4]byte{10, 0, 0, byte(i % 16)})
		pkts[i] = &packet.Packet{IPVersion: 4, Src: src, Dst: dst, SrcPort: uint16(40000 + i), DstPort: 443, Proto: packet.ProtoTCP, TCPFlags: packet.SYN}
		conns[i] = &proto.Conn{ID: "f", Transport: proto.TCP, Client: event.Endpoint{IP: src, Port: uint16(40000 + i)}, Server: event.Endpoint{IP: dst, Port: 443}}
	}
	ts := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts = ts.Add(10 * time.Microsecond)
		k := i & 4095
		e.Packet(pkts[k], ts, 60)
		e.FlowStart(conns[k], ts)
	}
}

// BenchmarkScanInProgress: the steady state of an open port-scan alert —
// every probe a new port, every one refused.
func BenchmarkScanInProgress(b *testing.B) {
	e := benchEngine(b)
	src := netip.MustParseAddr("10.0.0.66")
	syn := &packet.Packet{IPVersion: 4, Src: src, Proto: packet.ProtoTCP, SrcPort: 45000, TCPFlags: packet.SYN}
	rst := &packet.Packet{IPVersion: 4, Dst: src, Proto: packet.ProtoTCP, DstPort: 45000, TCPFlags: packet.RST | packet.ACK}
	c := &proto.Conn{ID: "scan", Transport: proto.TCP, Client: event.Endpoint{IP: src, Port: 45000}}
	ts := t0
	step := func(i int) {
		ts = ts.Add(20 * time.Microsecond)
		dst := netip.AddrFrom4([4]byte{10, 0, byte(i >> 16), byte(i >> 8)})
		syn.Dst, syn.DstPort = dst, uint16(i)
		c.Server = event.Endpoint{IP: dst, Port: uint16(i)}
		e.Packet(syn, ts, 60)
		e.FlowStart(c, ts)
		rst.Src, rst.SrcPort = dst, uint16(i)
		e.Packet(rst, ts, 60)
	}
	for i := 0; i < 100; i++ {
		step(i)
	}
	if e.Stats().AlertsOpened == 0 {
		b.Fatal("no scan alert")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step(100 + i)
	}
}

// BenchmarkLabReplay runs the lab capture through the sensor with and
// without the engine (the baseline), per packet.
func BenchmarkLabReplay(b *testing.B) {
	pkts := loadPackets(b, labCapture(b))
	shift := pkts[len(pkts)-1].Time.Sub(pkts[0].Time) + 10*time.Minute
	for _, withEngine := range []bool{false, true} {
		name := "sensor"
		if withEngine {
			name = "sensor+detect"
		}
		b.Run(name, func(b *testing.B) {
			e, _ := New(Config{}, &discard{})
			cfg := sensor.Config{Flow: flow.DefaultConfig}
			var out sensor.Output = discardOutput{}
			if withEngine {
				cfg.Packets, out = e, e
			}
			s := sensor.New(cfg, dissectors(e), out)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				loop, k := i/len(pkts), i%len(pkts)
				p := pkts[k]
				p.Time = p.Time.Add(time.Duration(loop) * shift)
				s.Packet(&p)
			}
		})
	}
}
