package packet

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/heir-emd/heir/internal/testenv"
)

// build serialises layers with gopacket, computing lengths, so the tests
// decode frames built by an independent implementation.
func build(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = []byte{0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e}
	ipA  = []byte{10, 77, 0, 20}
	ipB  = []byte{10, 77, 0, 10}
)

func eth(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: et}
}

func ip4(p layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: p, SrcIP: ipA, DstIP: ipB}
}

func tcp(t testing.TB, ip gopacket.NetworkLayer) *layers.TCP {
	l := &layers.TCP{SrcPort: 40000, DstPort: 104, Seq: 1000, Ack: 2000, PSH: true, ACK: true, Window: 512}
	if err := l.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDecodeLinkTypes(t *testing.T) {
	payload := gopacket.Payload("hello DICOM")
	v4 := ip4(layers.IPProtocolTCP)
	tcpFrame := build(t, eth(layers.EthernetTypeIPv4), v4, tcp(t, v4), payload)
	ipOnly := tcpFrame[14:]

	sll := append([]byte{0, 0, 0, 1, 0, 6}, macA...)
	sll = append(sll, 0, 0, 0x08, 0x00)
	sll = append(sll, ipOnly...)

	sll2 := []byte{0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6}
	sll2 = append(sll2, macA...)
	sll2 = append(sll2, 0, 0)
	sll2 = append(sll2, ipOnly...)

	nullLE := append([]byte{2, 0, 0, 0}, ipOnly...)
	loopBE := append([]byte{0, 0, 0, 2}, ipOnly...)

	vlan := build(t, eth(layers.EthernetTypeDot1Q),
		&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeIPv4}, v4, tcp(t, v4), payload)

	cases := []struct {
		name   string
		lt     LinkType
		frame  []byte
		hasEth bool
		vlans  []uint16
	}{
		{"ethernet", LinkEthernet, tcpFrame, true, nil},
		{"raw", LinkRaw, ipOnly, false, nil},
		{"ipv4", LinkIPv4, ipOnly, false, nil},
		{"sll", LinkLinuxSLL, sll, true, nil},
		{"sll2", LinkLinuxSLL2, sll2, true, nil},
		{"null", LinkNull, nullLE, false, nil},
		{"loop", LinkLoop, loopBE, false, nil},
		{"qinq", LinkEthernet, vlan, true, []uint16{100, 200}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			if err := Decode(c.lt, c.frame, &p); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if p.IPVersion != 4 || p.Src != netip.MustParseAddr("10.77.0.20") || p.Dst != netip.MustParseAddr("10.77.0.10") {
				t.Errorf("addresses %v → %v (v%d)", p.Src, p.Dst, p.IPVersion)
			}
			if p.Proto != ProtoTCP || p.SrcPort != 40000 || p.DstPort != 104 || p.Seq != 1000 || p.Ack != 2000 {
				t.Errorf("tcp %d %d→%d seq %d ack %d", p.Proto, p.SrcPort, p.DstPort, p.Seq, p.Ack)
			}
			if p.TCPFlags != PSH|ACK {
				t.Errorf("flags %#x", p.TCPFlags)
			}
			if string(p.Payload) != "hello DICOM" {
				t.Errorf("payload %q", p.Payload)
			}
			if p.HasEth != c.hasEth || (c.hasEth && !bytes.Equal(p.SrcMAC[:], macA)) {
				t.Errorf("hasEth %v src MAC %x", p.HasEth, p.SrcMAC)
			}
			if got := p.VLANs[:p.NVLAN]; len(c.vlans) != len(got) || (len(got) > 0 && (got[0] != c.vlans[0] || got[1] != c.vlans[1])) {
				t.Errorf("vlans %v, want %v", got, c.vlans)
			}
		})
	}
}

func TestDecodeIPv6ExtensionsAndUDP(t *testing.T) {
	v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6HopByHop,
		SrcIP: netip.MustParseAddr("fd00::1").AsSlice(), DstIP: netip.MustParseAddr("fd00::2").AsSlice()}
	hop := &layers.IPv6HopByHop{}
	hop.NextHeader = layers.IPProtocolUDP
	hop.Options = []*layers.IPv6HopByHopOption{{OptionType: 1, OptionData: []byte{0, 0, 0, 0}}}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	_ = udp.SetNetworkLayerForChecksum(v6)
	frame := build(t, eth(layers.EthernetTypeIPv6), v6, hop, udp, gopacket.Payload("query"))
	var p Packet
	if err := Decode(LinkEthernet, frame, &p); err != nil {
		t.Fatal(err)
	}
	if p.IPVersion != 6 || p.Proto != ProtoUDP || p.SrcPort != 5353 || p.DstPort != 53 || string(p.Payload) != "query" {
		t.Fatalf("got v%d proto %d %d→%d %q", p.IPVersion, p.Proto, p.SrcPort, p.DstPort, p.Payload)
	}
	if p.Src != netip.MustParseAddr("fd00::1") {
		t.Errorf("src %v", p.Src)
	}
}

func TestDecodeFragmentsAndPadding(t *testing.T) {
	v4 := ip4(layers.IPProtocolUDP)
	v4.Flags = layers.IPv4MoreFragments
	v4.Id = 77
	frame := build(t, eth(layers.EthernetTypeIPv4), v4, gopacket.Payload(make([]byte, 24)))
	var p Packet
	if err := Decode(LinkEthernet, frame, &p); err != nil {
		t.Fatal(err)
	}
	if !p.Fragment || p.FragID != 77 || !p.MoreFragments || p.FragOffset != 0 || len(p.IPPayload) != 24 {
		t.Fatalf("fragment %+v", p)
	}

	// Ethernet padding after a short IP packet must not become payload.
	v4 = ip4(layers.IPProtocolTCP)
	frame = build(t, eth(layers.EthernetTypeIPv4), v4, tcp(t, v4))
	frame = append(frame, make([]byte, 6)...)
	if err := Decode(LinkEthernet, frame, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Payload) != 0 {
		t.Fatalf("padding decoded as %d payload bytes", len(p.Payload))
	}
}

func TestDecodeARP(t *testing.T) {
	frame := build(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: 2, SourceHwAddress: macA, SourceProtAddress: ipA,
		DstHwAddress: macB, DstProtAddress: ipB})
	var p Packet
	if err := Decode(LinkEthernet, frame, &p); err != nil {
		t.Fatal(err)
	}
	if !p.ARP || p.ARPOp != 2 || p.ARPSenderIP != netip.MustParseAddr("10.77.0.20") || !bytes.Equal(p.ARPSenderMAC[:], macA) {
		t.Fatalf("arp %+v", p)
	}
}

func TestDecodeRejectsLies(t *testing.T) {
	v4 := ip4(layers.IPProtocolTCP)
	good := build(t, eth(layers.EthernetTypeIPv4), v4, tcp(t, v4), gopacket.Payload("x"))
	cases := map[string]struct {
		mutate func([]byte) []byte
		want   Error
	}{
		"short ethernet": {func(b []byte) []byte { return b[:10] }, ErrShortLink},
		"short ipv4":     {func(b []byte) []byte { return b[:20] }, ErrShortIPv4},
		"ihl too small":  {func(b []byte) []byte { b[14] = 0x44; return b }, ErrIPv4Header},
		"ihl past end":   {func(b []byte) []byte { b[14] = 0x4f; return b[:40] }, ErrIPv4Header},
		"tcp offset":     {func(b []byte) []byte { b[14+20+12] = 0x10; return b }, ErrTCPHeader},
		"version":        {func(b []byte) []byte { b[14] = 0x55; return b }, ErrIPVersion},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var p Packet
			err := Decode(LinkEthernet, c.mutate(append([]byte(nil), good...)), &p)
			if err != c.want {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// reference decodes a frame with gopacket's layers, the independent
// implementation the decoder is checked against.
type reference struct {
	src, dst       netip.Addr
	proto          uint8
	sport, dport   uint16
	payload        []byte
	ok, fragmented bool
}

func decodeReference(lt LinkType, frame []byte) reference {
	var r reference
	var first gopacket.Decoder
	switch lt {
	case LinkEthernet:
		first = layers.LayerTypeEthernet
	case LinkLinuxSLL:
		first = layers.LayerTypeLinuxSLL
	case LinkNull, LinkLoop:
		first = layers.LayerTypeLoopback
	case LinkRaw:
		first = layers.LinkTypeRaw
	default:
		return r
	}
	pkt := gopacket.NewPacket(frame, first, gopacket.DecodeOptions{Lazy: false, NoCopy: true})
	if pkt.ErrorLayer() != nil {
		return r
	}
	switch n := pkt.NetworkLayer().(type) {
	case *layers.IPv4:
		if n.Flags&layers.IPv4MoreFragments != 0 || n.FragOffset != 0 {
			r.fragmented = true
		}
		r.src, _ = netip.AddrFromSlice(n.SrcIP)
		r.dst, _ = netip.AddrFromSlice(n.DstIP)
		r.src, r.dst = r.src.Unmap(), r.dst.Unmap()
	case *layers.IPv6:
		r.src, _ = netip.AddrFromSlice(n.SrcIP)
		r.dst, _ = netip.AddrFromSlice(n.DstIP)
		if pkt.Layer(layers.LayerTypeIPv6Fragment) != nil {
			r.fragmented = true
		}
	default:
		return r
	}
	for _, l := range pkt.Layers() {
		switch l := l.(type) {
		case *layers.IPv4, *layers.IPv6:
			// An inner IP header (tunnel) moves the addresses, as in the decoder.
			if l != pkt.NetworkLayer() {
				return reference{}
			}
		}
	}
	switch tl := pkt.TransportLayer().(type) {
	case *layers.TCP:
		r.proto, r.sport, r.dport, r.payload = 6, uint16(tl.SrcPort), uint16(tl.DstPort), tl.Payload
	case *layers.UDP:
		r.proto, r.sport, r.dport, r.payload = 17, uint16(tl.SrcPort), uint16(tl.DstPort), tl.Payload
	default:
		return r
	}
	r.ok = true
	return r
}

// TestDecodeAgreesWithGopacket decodes every frame of every shared capture
// with both decoders and compares addresses, ports and payloads.
func TestDecodeAgreesWithGopacket(t *testing.T) {
	dir := testenv.DataDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "pcap", "*", "*.pcap*"))
	compared := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".out") {
			continue
		}
		forEachFrame(t, f, func(lt LinkType, frame []byte) {
			ref := decodeReference(lt, frame)
			if !ref.ok || ref.fragmented {
				return
			}
			var p Packet
			if err := Decode(lt, frame, &p); err != nil {
				// gopacket accepts some frames whose lengths lie (it trusts
				// the capture); heir refuses them. Count, don't fail.
				return
			}
			compared++
			if p.Src != ref.src || p.Dst != ref.dst || p.Proto != ref.proto || p.SrcPort != ref.sport || p.DstPort != ref.dport {
				t.Errorf("%s: heir %v:%d→%v:%d/%d, gopacket %v:%d→%v:%d/%d", filepath.Base(f),
					p.Src, p.SrcPort, p.Dst, p.DstPort, p.Proto, ref.src, ref.sport, ref.dst, ref.dport, ref.proto)
				return
			}
			if !bytes.Equal(p.Payload, ref.payload) && !p.Truncated {
				t.Errorf("%s: payload %d bytes, gopacket %d", filepath.Base(f), len(p.Payload), len(ref.payload))
			}
		})
	}
	if compared < 10000 {
		t.Fatalf("only %d frames compared; expected the shared captures to give more", compared)
	}
	t.Logf("%d frames agree with gopacket", compared)
}

func forEachFrame(t testing.TB, path string, fn func(LinkType, []byte)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil {
		return
	}
	f.Seek(0, io.SeekStart)
	if bytes.Equal(head, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return
		}
		for {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				return
			}
			lt := LinkType(ci.AncillaryData[0].(layers.LinkType))
			fn(lt, data)
		}
	}
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return
	}
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			return
		}
		fn(LinkType(r.LinkType()), data)
	}
}

// FuzzDecode checks that no frame makes the decoder panic and that what it
// accepts is consistent: payload inside the frame, ports only with a transport.
func FuzzDecode(f *testing.F) {
	v4 := ip4(layers.IPProtocolTCP)
	f.Add(uint16(LinkEthernet), build(f, eth(layers.EthernetTypeIPv4), v4, tcp(f, v4), gopacket.Payload("abc")))
	f.Add(uint16(LinkEthernet), build(f, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeIPv4}, v4, tcp(f, v4)))
	f.Add(uint16(LinkRaw), []byte{0x60, 0, 0, 0, 0, 8, 44, 64})
	f.Add(uint16(LinkLinuxSLL2), make([]byte, 24))
	// Seeds from the real captures, when the shared data is present.
	if dir, ok := testenv.OptionalDataDir(); ok {
		files, _ := filepath.Glob(filepath.Join(dir, "pcap", "*", "*.pcap*"))
		for _, file := range files {
			n := 0
			forEachFrame(f, file, func(lt LinkType, frame []byte) {
				if n < 3 {
					f.Add(uint16(lt), append([]byte(nil), frame...))
				}
				n++
			})
		}
	}
	f.Fuzz(func(t *testing.T, lt uint16, frame []byte) {
		var p Packet
		if err := Decode(LinkType(lt), frame, &p); err != nil {
			return
		}
		if len(p.Payload) > len(frame) || len(p.IPPayload) > len(frame) {
			t.Fatalf("payload longer than the frame")
		}
		if p.Proto != ProtoTCP && p.Proto != ProtoUDP && p.Proto != ProtoSCTP && (p.SrcPort != 0 || p.DstPort != 0) {
			t.Fatalf("ports without a transport (proto %d)", p.Proto)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	v4 := ip4(layers.IPProtocolTCP)
	frame := build(b, eth(layers.EthernetTypeIPv4), v4, tcp(b, v4), gopacket.Payload(make([]byte, 200)))
	b.Run("heir", func(b *testing.B) {
		var p Packet
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for i := 0; i < b.N; i++ {
			if err := Decode(LinkEthernet, frame, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The baseline: gopacket's DecodingLayerParser, its fastest decoding mode.
	b.Run("gopacket-DecodingLayerParser", func(b *testing.B) {
		var (
			e   layers.Ethernet
			ip  layers.IPv4
			ip6 layers.IPv6
			t   layers.TCP
			u   layers.UDP
			pl  gopacket.Payload
		)
		parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &e, &ip, &ip6, &t, &u, &pl)
		decoded := make([]gopacket.LayerType, 0, 8)
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for i := 0; i < b.N; i++ {
			if err := parser.DecodeLayers(frame, &decoded); err != nil {
				b.Fatal(err)
			}
		}
	})
}
