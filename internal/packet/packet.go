// Package packet decodes captured frames into the fields the flow engine
// needs: link addresses, VLAN tags, IP addresses, ports, TCP state and the
// transport payload.
//
// Decoding is on the sensor's hot path, so Decode allocates nothing and keeps
// slices into the frame it was given. It trusts nothing in the frame: every
// length is checked, and a frame that lies about its lengths is reported as
// an error the caller counts, never a panic. Its results are checked against
// gopacket's layer decoders in the tests.
package packet

import (
	"encoding/binary"
	"net/netip"
)

// LinkType is a capture's data link type, as numbered by tcpdump.org.
type LinkType uint16

// Link types the decoder understands.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family in host order
	LinkEthernet  LinkType = 1   // IEEE 802.3 Ethernet
	LinkRawOld    LinkType = 12  // DLT_RAW on OpenBSD, raw IP
	LinkRawOld2   LinkType = 14  // DLT_RAW on BSD/OS, raw IP
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6
	LinkLoop      LinkType = 108 // OpenBSD loopback: address family in network order
	LinkLinuxSLL  LinkType = 113 // Linux "cooked" capture v1
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux "cooked" capture v2
)

// EtherTypes the decoder follows.
const (
	EtherTypeIPv4  = 0x0800
	EtherTypeARP   = 0x0806
	EtherTypeVLAN  = 0x8100
	EtherTypeQinQ  = 0x88a8
	EtherTypeQinQ2 = 0x9100
	EtherTypeIPv6  = 0x86dd
	EtherTypeMPLS  = 0x8847
	EtherTypeMPLSm = 0x8848
	EtherTypePPPoE = 0x8864
)

// IP protocol numbers the decoder follows.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	ProtoIPIP   = 4
	ProtoIPv6   = 41
	ProtoSCTP   = 132
)

// TCP flags.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
	URG = 0x20
	ECE = 0x40
	CWR = 0x80
)

// MaxVLANs is how many 802.1Q tags are kept; deeper stacks are decoded but
// only the outermost two are recorded.
const MaxVLANs = 2

// Packet holds a decoded frame. Slices point into the frame passed to
// Decode and are valid only as long as it is.
type Packet struct {
	// HasEth is set when the frame carried Ethernet (or Ethernet-like) addresses.
	HasEth bool
	SrcMAC [6]byte
	DstMAC [6]byte
	// VLANs holds the outermost NVLAN (at most MaxVLANs) 802.1Q VLAN ids.
	VLANs [MaxVLANs]uint16
	NVLAN uint8
	// EtherType of the network layer (after VLAN tags).
	EtherType uint16

	// ARP is set for ARP frames, with ARPOp and the four addresses.
	ARP          bool
	ARPOp        uint16
	ARPSenderMAC [6]byte
	ARPTargetMAC [6]byte
	ARPSenderIP  netip.Addr
	ARPTargetIP  netip.Addr

	// IPVersion is 4 or 6, 0 for frames without IP.
	IPVersion uint8
	Src, Dst  netip.Addr
	// Proto is the transport protocol number (after IPv6 extension headers).
	Proto uint8
	TTL   uint8
	// Tunnelled is set when the addresses are those of an inner IP header.
	Tunnelled bool

	// Fragment is set for an IP fragment (not the whole datagram): FragID,
	// FragOffset (bytes) and MoreFragments describe it and IPPayload holds
	// its data; the transport fields are not decoded.
	Fragment      bool
	FragID        uint32
	FragOffset    int
	MoreFragments bool
	// IPPayload is the data after the IP header(s).
	IPPayload []byte

	SrcPort, DstPort uint16
	TCPFlags         uint8
	Seq, Ack         uint32
	Window           uint16
	ICMPType         uint8
	ICMPCode         uint8
	// Payload is the transport payload (TCP/UDP data, ICMP body).
	Payload []byte
	// Truncated is set when the capture holds fewer bytes than the IP
	// header says the packet had (a short snap length); the payload is
	// what was captured.
	Truncated bool
}

// Error is a reason a frame could not be decoded. It is a small integer so
// that returning it allocates nothing and counting by reason is cheap.
type Error uint8

// Decode errors.
const (
	ErrLinkType Error = iota + 1
	ErrShortLink
	ErrShortVLAN
	ErrEtherType
	ErrShortARP
	ErrShortIPv4
	ErrIPv4Header
	ErrShortIPv6
	ErrIPv6ExtHeader
	ErrIPVersion
	ErrShortTCP
	ErrTCPHeader
	ErrShortUDP
	ErrUDPLength
	ErrShortICMP
	ErrShortMPLS
	ErrShortPPPoE
	errMax
)

var errorNames = [...]string{
	ErrLinkType:      "unsupported link type",
	ErrShortLink:     "truncated link header",
	ErrShortVLAN:     "truncated 802.1Q tag",
	ErrEtherType:     "unsupported ethertype",
	ErrShortARP:      "truncated ARP",
	ErrShortIPv4:     "truncated IPv4 header",
	ErrIPv4Header:    "bad IPv4 header length",
	ErrShortIPv6:     "truncated IPv6 header",
	ErrIPv6ExtHeader: "bad IPv6 extension header",
	ErrIPVersion:     "bad IP version",
	ErrShortTCP:      "truncated TCP header",
	ErrTCPHeader:     "bad TCP header length",
	ErrShortUDP:      "truncated UDP header",
	ErrUDPLength:     "bad UDP length",
	ErrShortICMP:     "truncated ICMP header",
	ErrShortMPLS:     "truncated MPLS label",
	ErrShortPPPoE:    "truncated PPPoE header",
}

func (e Error) Error() string {
	if e > 0 && e < errMax {
		return errorNames[e]
	}
	return "decode error"
}

// NumErrors is one more than the largest Error value, for counter arrays.
const NumErrors = int(errMax)

// Decode decodes frame, captured with link type lt, into p. It resets p
// first. Frames that are not IP (ARP aside) decode without error but with
// IPVersion 0 when their ethertype is merely uninteresting; ErrEtherType is
// returned only for link-layer payloads it cannot identify at all.
func Decode(lt LinkType, frame []byte, p *Packet) error {
	*p = Packet{}
	switch lt {
	case LinkEthernet:
		return p.ethernet(frame)
	case LinkRaw, LinkRawOld, LinkRawOld2:
		return p.ip(frame)
	case LinkIPv4:
		return p.ipv4(frame, false)
	case LinkIPv6:
		return p.ipv6(frame, false)
	case LinkNull, LinkLoop:
		return p.null(frame)
	case LinkLinuxSLL:
		return p.sll(frame)
	case LinkLinuxSLL2:
		return p.sll2(frame)
	}
	return ErrLinkType
}

func (p *Packet) ethernet(b []byte) error {
	if len(b) < 14 {
		return ErrShortLink
	}
	p.HasEth = true
	copy(p.DstMAC[:], b[0:6])
	copy(p.SrcMAC[:], b[6:12])
	et := binary.BigEndian.Uint16(b[12:14])
	if et <= 1500 {
		// 802.3 length field: LLC frames (STP, CDP …) carry no IP we follow.
		p.EtherType = 0
		return nil
	}
	return p.ether(et, b[14:])
}

// ether decodes the network layer named by an ethertype, following VLAN,
// MPLS and PPPoE encapsulations.
func (p *Packet) ether(et uint16, b []byte) error {
	for depth := 0; depth < 8; depth++ {
		switch et {
		case EtherTypeVLAN, EtherTypeQinQ, EtherTypeQinQ2:
			if len(b) < 4 {
				return ErrShortVLAN
			}
			if int(p.NVLAN) < MaxVLANs {
				p.VLANs[p.NVLAN] = binary.BigEndian.Uint16(b[0:2]) & 0x0fff
				p.NVLAN++
			}
			et = binary.BigEndian.Uint16(b[2:4])
			b = b[4:]
			continue
		case EtherTypeMPLS, EtherTypeMPLSm:
			// Walk the label stack to its bottom; MPLS does not say what it
			// carries, so guess from the IP version nibble, as tcpdump does.
			for {
				if len(b) < 4 {
					return ErrShortMPLS
				}
				bos := b[2]&1 == 1
				b = b[4:]
				if bos {
					break
				}
			}
			p.EtherType = et
			if len(b) == 0 {
				return ErrShortMPLS
			}
			return p.ip(b)
		case EtherTypePPPoE:
			// PPPoE session: 6-byte header, then a 2-byte PPP protocol.
			if len(b) < 8 {
				return ErrShortPPPoE
			}
			switch binary.BigEndian.Uint16(b[6:8]) {
			case 0x0021:
				p.EtherType = EtherTypeIPv4
				return p.ipv4(b[8:], false)
			case 0x0057:
				p.EtherType = EtherTypeIPv6
				return p.ipv6(b[8:], false)
			}
			p.EtherType = et
			return nil
		}
		p.EtherType = et
		switch et {
		case EtherTypeIPv4:
			return p.ipv4(b, false)
		case EtherTypeIPv6:
			return p.ipv6(b, false)
		case EtherTypeARP:
			return p.arp(b)
		}
		// Some other network protocol (LLDP, EAPOL, …): nothing to follow.
		return nil
	}
	return ErrShortVLAN
}

func (p *Packet) null(b []byte) error {
	if len(b) < 4 {
		return ErrShortLink
	}
	// The family is in the capturing host's byte order (or network order
	// for LINKTYPE_LOOP); accept either. AF_INET is 2 everywhere; AF_INET6
	// is 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (Darwin).
	fam := binary.LittleEndian.Uint32(b[0:4])
	if fam > 0xffff {
		fam = binary.BigEndian.Uint32(b[0:4])
	}
	switch fam {
	case 2:
		p.EtherType = EtherTypeIPv4
		return p.ipv4(b[4:], false)
	case 10, 24, 28, 30:
		p.EtherType = EtherTypeIPv6
		return p.ipv6(b[4:], false)
	}
	return ErrEtherType
}

func (p *Packet) sll(b []byte) error {
	if len(b) < 16 {
		return ErrShortLink
	}
	arphrd := binary.BigEndian.Uint16(b[2:4])
	alen := binary.BigEndian.Uint16(b[4:6])
	if arphrd == 1 && alen == 6 {
		p.HasEth = true
		copy(p.SrcMAC[:], b[6:12])
	}
	return p.ether(binary.BigEndian.Uint16(b[14:16]), b[16:])
}

func (p *Packet) sll2(b []byte) error {
	if len(b) < 20 {
		return ErrShortLink
	}
	arphrd := binary.BigEndian.Uint16(b[8:10])
	alen := b[11]
	if arphrd == 1 && alen == 6 {
		p.HasEth = true
		copy(p.SrcMAC[:], b[12:18])
	}
	return p.ether(binary.BigEndian.Uint16(b[0:2]), b[20:])
}

func (p *Packet) arp(b []byte) error {
	// Only Ethernet/IPv4 ARP is interesting for the inventory.
	if len(b) < 8 {
		return ErrShortARP
	}
	htype := binary.BigEndian.Uint16(b[0:2])
	ptype := binary.BigEndian.Uint16(b[2:4])
	if htype != 1 || ptype != EtherTypeIPv4 || b[4] != 6 || b[5] != 4 {
		return nil
	}
	if len(b) < 28 {
		return ErrShortARP
	}
	p.ARP = true
	p.ARPOp = binary.BigEndian.Uint16(b[6:8])
	copy(p.ARPSenderMAC[:], b[8:14])
	p.ARPSenderIP = netip.AddrFrom4([4]byte(b[14:18]))
	copy(p.ARPTargetMAC[:], b[18:24])
	p.ARPTargetIP = netip.AddrFrom4([4]byte(b[24:28]))
	return nil
}

// ip decodes an IP header whose version is known only from its first nibble.
func (p *Packet) ip(b []byte) error {
	if len(b) < 1 {
		return ErrShortIPv4
	}
	switch b[0] >> 4 {
	case 4:
		if p.EtherType == 0 {
			p.EtherType = EtherTypeIPv4
		}
		return p.ipv4(b, false)
	case 6:
		if p.EtherType == 0 {
			p.EtherType = EtherTypeIPv6
		}
		return p.ipv6(b, false)
	}
	return ErrIPVersion
}

func (p *Packet) ipv4(b []byte, inner bool) error {
	if len(b) < 20 {
		return ErrShortIPv4
	}
	if b[0]>>4 != 4 {
		return ErrIPVersion
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || len(b) < ihl {
		return ErrIPv4Header
	}
	switch {
	case total < ihl:
		// TCP segmentation offload leaves a zero total length in captures
		// taken on the sending host; trust the frame then.
		if total != 0 {
			return ErrIPv4Header
		}
	case total < len(b):
		b = b[:total] // drop Ethernet padding
	case total > len(b):
		p.Truncated = true
	}
	if inner {
		p.Tunnelled = true
	}
	p.IPVersion = 4
	p.TTL = b[8]
	p.Proto = b[9]
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	flags := binary.BigEndian.Uint16(b[6:8])
	p.IPPayload = b[ihl:]
	if flags&0x3fff != 0 { // MF set or offset non-zero
		p.Fragment = true
		p.FragID = uint32(binary.BigEndian.Uint16(b[4:6]))
		p.FragOffset = int(flags&0x1fff) * 8
		p.MoreFragments = flags&0x2000 != 0
		return nil
	}
	return p.transport(p.Proto, p.IPPayload, inner)
}

func (p *Packet) ipv6(b []byte, inner bool) error {
	if len(b) < 40 {
		return ErrShortIPv6
	}
	if b[0]>>4 != 6 {
		return ErrIPVersion
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	rest := b[40:]
	switch {
	case plen < len(rest):
		if plen != 0 { // zero: jumbogram or offload; trust the frame
			rest = rest[:plen]
		}
	case plen > len(rest):
		p.Truncated = true
	}
	if inner {
		p.Tunnelled = true
	}
	p.IPVersion = 6
	p.TTL = b[7]
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	next := b[6]
	// Walk extension headers; a bounded number so that a hostile chain
	// cannot keep the decoder busy.
	for i := 0; i < 8; i++ {
		switch next {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, destination, mobility, HIP, shim6
			if len(rest) < 8 {
				return ErrIPv6ExtHeader
			}
			n := (int(rest[1]) + 1) * 8
			if len(rest) < n {
				return ErrIPv6ExtHeader
			}
			next = rest[0]
			rest = rest[n:]
		case 51: // authentication header: length in 4-octet units, minus 2
			if len(rest) < 8 {
				return ErrIPv6ExtHeader
			}
			n := (int(rest[1]) + 2) * 4
			if len(rest) < n {
				return ErrIPv6ExtHeader
			}
			next = rest[0]
			rest = rest[n:]
		case 44: // fragment
			if len(rest) < 8 {
				return ErrIPv6ExtHeader
			}
			off := binary.BigEndian.Uint16(rest[2:4])
			p.Proto = rest[0]
			p.FragID = binary.BigEndian.Uint32(rest[4:8])
			p.FragOffset = int(off>>3) * 8
			p.MoreFragments = off&1 != 0
			p.IPPayload = rest[8:]
			if p.FragOffset == 0 && !p.MoreFragments {
				// An atomic fragment (RFC 6946): the whole datagram.
				next = rest[0]
				rest = rest[8:]
				continue
			}
			p.Fragment = true
			return nil
		default:
			p.Proto = next
			p.IPPayload = rest
			return p.transport(next, rest, inner)
		}
	}
	return ErrIPv6ExtHeader
}

// DecodeTransport decodes the transport header of a reassembled IP
// datagram into p, whose network fields are already set.
func (p *Packet) DecodeTransport(payload []byte) error {
	p.Fragment = false
	p.IPPayload = payload
	return p.transport(p.Proto, payload, p.Tunnelled)
}

func (p *Packet) transport(proto uint8, b []byte, inner bool) error {
	switch proto {
	case ProtoTCP:
		if len(b) < 20 {
			return ErrShortTCP
		}
		off := int(b[12]>>4) * 4
		if off < 20 {
			return ErrTCPHeader
		}
		p.SrcPort = binary.BigEndian.Uint16(b[0:2])
		p.DstPort = binary.BigEndian.Uint16(b[2:4])
		p.Seq = binary.BigEndian.Uint32(b[4:8])
		p.Ack = binary.BigEndian.Uint32(b[8:12])
		p.TCPFlags = b[13]
		p.Window = binary.BigEndian.Uint16(b[14:16])
		if len(b) < off {
			if !p.Truncated {
				return ErrTCPHeader
			}
			return nil // options cut by the snap length; no payload
		}
		p.Payload = b[off:]
	case ProtoUDP:
		if len(b) < 8 {
			return ErrShortUDP
		}
		p.SrcPort = binary.BigEndian.Uint16(b[0:2])
		p.DstPort = binary.BigEndian.Uint16(b[2:4])
		ulen := int(binary.BigEndian.Uint16(b[4:6]))
		switch {
		case ulen == 0 && p.IPVersion == 6:
			p.Payload = b[8:] // jumbogram
		case ulen < 8:
			return ErrUDPLength
		case ulen <= len(b):
			p.Payload = b[8:ulen]
		case p.Truncated:
			p.Payload = b[8:]
		default:
			return ErrUDPLength
		}
	case ProtoICMP, ProtoICMPv6:
		if len(b) < 4 {
			return ErrShortICMP
		}
		p.ICMPType = b[0]
		p.ICMPCode = b[1]
		p.Payload = b[4:]
	case ProtoIPIP:
		if !inner {
			return p.ipv4(b, true)
		}
	case ProtoIPv6:
		if !inner {
			return p.ipv6(b, true)
		}
	case ProtoSCTP:
		if len(b) >= 12 {
			p.SrcPort = binary.BigEndian.Uint16(b[0:2])
			p.DstPort = binary.BigEndian.Uint16(b[2:4])
			p.Payload = b[12:]
		}
	}
	return nil
}

// MAC formats a hardware address as lower-case colon-separated hex without
// allocating more than the result string.
func MAC(a [6]byte) string {
	const hexd = "0123456789abcdef"
	var s [17]byte
	for i := 0; i < 6; i++ {
		s[i*3] = hexd[a[i]>>4]
		s[i*3+1] = hexd[a[i]&0x0f]
		if i < 5 {
			s[i*3+2] = ':'
		}
	}
	return string(s[:])
}
