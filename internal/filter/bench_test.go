package filter

import (
	"net/netip"
	"testing"

	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/testenv"
)

// The benchmarks run the filter over every decoded packet of the lab
// capture; the "handwritten" ones are the same conditions written in Go,
// the floor a compiled filter can be compared with.

const benchExpr = "tcp and port 4242 and net 10.77.0.0/24"

func handwritten(p *packet.Packet, pfx netip.Prefix) bool {
	return p.IPVersion != 0 && p.Proto == packet.ProtoTCP && !p.Fragment &&
		(p.SrcPort == 4242 || p.DstPort == 4242) &&
		(pfx.Contains(p.Src) || pfx.Contains(p.Dst))
}

const benchExprLong = "not arp and (host 10.77.0.66 or src net 10.77.0.64/26) and not (port 1883 or port 23)"

func handwrittenLong(p *packet.Packet, h netip.Addr, pfx netip.Prefix) bool {
	if p.EtherType == packet.EtherTypeARP {
		return false
	}
	if p.IPVersion == 0 || !(p.Src == h || p.Dst == h || pfx.Contains(p.Src)) {
		return false
	}
	ported := !p.Fragment && (p.Proto == packet.ProtoTCP || p.Proto == packet.ProtoUDP || p.Proto == packet.ProtoSCTP)
	return !(ported && (p.SrcPort == 1883 || p.DstPort == 1883 || p.SrcPort == 23 || p.DstPort == 23))
}

func benchPackets(b *testing.B) []packet.Packet {
	return decodeFile(b, testenv.DataFile(b, "pcap/lab/medlab-dev.pcap"))
}

func BenchmarkMatch(b *testing.B) {
	pkts := benchPackets(b)
	f, err := Parse(benchExpr)
	if err != nil {
		b.Fatal(err)
	}
	pfx := netip.MustParsePrefix("10.77.0.0/24")
	n := 0
	for i := range pkts {
		if f.Match(&pkts[i]) != handwritten(&pkts[i], pfx) {
			b.Fatalf("filter and hand-written condition disagree on packet %d", i)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if f.Match(&pkts[i%len(pkts)]) {
			n++
		}
	}
	_ = n
}

func BenchmarkMatchHandwritten(b *testing.B) {
	pkts := benchPackets(b)
	pfx := netip.MustParsePrefix("10.77.0.0/24")
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if handwritten(&pkts[i%len(pkts)], pfx) {
			n++
		}
	}
	_ = n
}

func BenchmarkMatchLong(b *testing.B) {
	pkts := benchPackets(b)
	f, err := Parse(benchExprLong)
	if err != nil {
		b.Fatal(err)
	}
	h, pfx := netip.MustParseAddr("10.77.0.66"), netip.MustParsePrefix("10.77.0.64/26")
	for i := range pkts {
		if f.Match(&pkts[i]) != handwrittenLong(&pkts[i], h, pfx) {
			b.Fatalf("filter and hand-written condition disagree on packet %d", i)
		}
	}
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if f.Match(&pkts[i%len(pkts)]) {
			n++
		}
	}
	_ = n
}

func BenchmarkMatchLongHandwritten(b *testing.B) {
	pkts := benchPackets(b)
	h, pfx := netip.MustParseAddr("10.77.0.66"), netip.MustParsePrefix("10.77.0.64/26")
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if handwrittenLong(&pkts[i%len(pkts)], h, pfx) {
			n++
		}
	}
	_ = n
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(benchExprLong); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMatchAllocs keeps Match allocation-free outside benchmarks too.
func TestMatchAllocs(t *testing.T) {
	f, err := Parse(benchExprLong + " or vlan 20 or ether host 02:4d:4c:00:00:0a or ip6 net fd00::/8 or portrange 1-5")
	if err != nil {
		t.Fatal(err)
	}
	pkts := []*packet.Packet{&tcp4, &udp6, &icmp4, &arp4, &vlanUDP, &frag4}
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range pkts {
			f.Match(p)
		}
	})
	if allocs != 0 {
		t.Errorf("Match allocates %.1f times per run", allocs)
	}
}
