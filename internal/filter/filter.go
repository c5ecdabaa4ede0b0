// Package filter is heir's packet filter: an expression language in the
// spirit of tcpdump's ("host 10.1.2.3 and tcp port 104", "not arp",
// "vlan 20 and net 10.20.0.0/16"), evaluated in user space on a decoded
// packet.Packet.
//
// The sensor applies it after decoding, VLAN stripping and IP reassembly,
// so it sees what the flow engine sees: a port test matches every fragment
// of a datagram once that datagram is whole, and "port 80" matches
// VLAN-tagged frames without tcpdump's "vlan and" prefix. docs/filter.md
// lists the grammar and every difference from tcpdump.
//
// Expressions come from configuration files and command lines, so the
// parser trusts nothing: their length, nesting depth and number of
// primitives are capped (MaxLength, MaxDepth, MaxTerms) and every syntax
// error names the column it was found at. A parsed expression is compiled
// to a short straight-line program of tests with forward jumps, so Match
// neither recurses nor allocates.
//
// The package depends only on internal/packet.
package filter

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/heir-emd/heir/internal/packet"
)

// Limits on an expression. They are far above anything a person writes and
// keep a hostile configuration file from costing more than a few kilobytes
// and microseconds to parse.
const (
	// MaxLength is the longest expression accepted, in bytes.
	MaxLength = 4096
	// MaxDepth is the deepest nesting of parentheses and negations.
	MaxDepth = 64
	// MaxTerms is the most primitives in one expression.
	MaxTerms = 512
)

// Filter is a compiled filter expression. It is immutable and safe for
// concurrent use.
type Filter struct {
	expr string
	root *node
	prog []insn
}

// Match says whether p passes the filter. A nil or empty filter matches
// every packet. Match allocates nothing.
func (f *Filter) Match(p *packet.Packet) bool {
	if f == nil || len(f.prog) == 0 {
		return true
	}
	prog := f.prog
	pc := int32(0)
	// Every jump goes forward (the compiler only emits forward jumps), so
	// the loop ends after at most len(prog) tests.
	for {
		in := &prog[pc]
		if in.t.match(p) {
			pc = in.jt
		} else {
			pc = in.jf
		}
		if pc < 0 {
			return pc == accept
		}
	}
}

// String returns the expression in canonical form: every qualifier
// spelled out, every and/or group in parentheses. Parsing it again gives
// the same filter.
func (f *Filter) String() string {
	if f == nil || f.root == nil {
		return ""
	}
	var b strings.Builder
	f.root.format(&b)
	return b.String()
}

// Expr returns the expression as it was given to Parse.
func (f *Filter) Expr() string {
	if f == nil {
		return ""
	}
	return f.expr
}

// nodeOp says what a node of the parsed tree is.
type nodeOp uint8

const (
	opLeaf nodeOp = iota
	opAnd
	opOr
	opNot
)

// node is one node of the parsed expression. And and or nodes hold every
// operand of a chain of the same operator, so "a or b or c" is one node.
type node struct {
	op    nodeOp
	kids  []*node
	t     test
	tests int // number of leaves below, the size of the compiled code
}

// testKind says which primitive a leaf tests.
type testKind uint8

const (
	kHost  testKind = iota + 1 // IP (or ARP) address equals addr
	kNet                       // IP (or ARP) address within pfx
	kPort                      // TCP/UDP/SCTP port within [lo, hi]
	kProto                     // IP version (0: any) and transport protocol
	kIP                        // IP version ipv
	kARP                       // ARP frame
	kVLAN                      // any VLAN tag, or tag lo
	kEther                     // Ethernet address equals mac
)

// dir says which end of a packet an address or port test looks at.
type dir uint8

const (
	dirEither dir = iota // src or dst
	dirSrc
	dirDst
	dirBoth // src and dst
)

// family restricts host and net tests to a network protocol.
type family uint8

const (
	famAny family = iota // IPv4, IPv6 and ARP, as tcpdump does
	famIP
	famIP6
	famARP
)

// test is one primitive, with everything it needs to match a packet
// without allocating.
type test struct {
	kind  testKind
	dir   dir
	fam   family
	ipv   uint8 // kIP, kProto: 4, 6 or 0 for either
	proto uint8 // kProto: protocol; kPort: 0 for TCP, UDP or SCTP
	hasID bool  // kVLAN: an id was given
	lo    uint16
	hi    uint16
	addr  netip.Addr
	pfx   netip.Prefix
	mac   [6]byte
}

func (t *test) match(p *packet.Packet) bool {
	switch t.kind {
	case kHost, kNet:
		return t.matchAddr(p)
	case kPort:
		if p.IPVersion == 0 || p.Fragment {
			return false
		}
		switch p.Proto {
		case packet.ProtoTCP, packet.ProtoUDP, packet.ProtoSCTP:
		default:
			return false
		}
		if t.proto != 0 && p.Proto != t.proto {
			return false
		}
		src := p.SrcPort >= t.lo && p.SrcPort <= t.hi
		dst := p.DstPort >= t.lo && p.DstPort <= t.hi
		return byDir(t.dir, src, dst)
	case kProto:
		if p.IPVersion == 0 || (t.ipv != 0 && p.IPVersion != t.ipv) {
			return false
		}
		return p.Proto == t.proto
	case kIP:
		return p.IPVersion == t.ipv
	case kARP:
		return p.EtherType == packet.EtherTypeARP
	case kVLAN:
		if !t.hasID {
			return p.NVLAN > 0
		}
		for i := 0; i < int(p.NVLAN) && i < packet.MaxVLANs; i++ {
			if p.VLANs[i] == t.lo {
				return true
			}
		}
		return false
	case kEther:
		if !p.HasEth {
			return false
		}
		return byDir(t.dir, p.SrcMAC == t.mac, p.DstMAC == t.mac)
	}
	return false
}

// matchAddr tests the packet's source and destination addresses: those of
// its IP header, or for ARP the sender's and target's.
func (t *test) matchAddr(p *packet.Packet) bool {
	switch {
	case p.IPVersion == 4:
		if t.fam != famAny && t.fam != famIP {
			return false
		}
	case p.IPVersion == 6:
		if t.fam != famAny && t.fam != famIP6 {
			return false
		}
	case p.ARP:
		if t.fam != famAny && t.fam != famARP {
			return false
		}
		return byDir(t.dir, t.addrIn(p.ARPSenderIP), t.addrIn(p.ARPTargetIP))
	default:
		return false
	}
	return byDir(t.dir, t.addrIn(p.Src), t.addrIn(p.Dst))
}

func (t *test) addrIn(a netip.Addr) bool {
	if t.kind == kHost {
		return a == t.addr
	}
	return t.pfx.Contains(a)
}

func byDir(d dir, src, dst bool) bool {
	switch d {
	case dirSrc:
		return src
	case dirDst:
		return dst
	case dirBoth:
		return src && dst
	}
	return src || dst
}

// insn is one compiled test: on success go to jt, else to jf. Negative
// targets end the program.
type insn struct {
	t      test
	jt, jf int32
}

const (
	accept int32 = -1
	reject int32 = -2
)

// compile turns the tree into a program. Operands of and/or are laid out in
// order, so a test's successors are known from the leaf counts alone and
// every jump points forward.
func compile(root *node) []insn {
	if root == nil {
		return nil
	}
	prog := make([]insn, 0, root.tests)
	var gen func(n *node, t, f int32)
	gen = func(n *node, t, f int32) {
		switch n.op {
		case opLeaf:
			prog = append(prog, insn{t: n.t, jt: t, jf: f})
		case opNot:
			gen(n.kids[0], f, t)
		case opAnd, opOr:
			for i, k := range n.kids {
				if i == len(n.kids)-1 {
					gen(k, t, f)
					break
				}
				next := int32(len(prog) + k.tests)
				if n.op == opAnd {
					gen(k, next, f)
				} else {
					gen(k, t, next)
				}
			}
		}
	}
	gen(root, accept, reject)
	return prog
}

// format writes n in canonical form.
func (n *node) format(b *strings.Builder) {
	switch n.op {
	case opLeaf:
		n.t.format(b)
	case opNot:
		b.WriteString("not ")
		n.kids[0].format(b)
	case opAnd, opOr:
		b.WriteByte('(')
		for i, k := range n.kids {
			if i > 0 {
				if n.op == opAnd {
					b.WriteString(" and ")
				} else {
					b.WriteString(" or ")
				}
			}
			k.format(b)
		}
		b.WriteByte(')')
	}
}

func (t *test) format(b *strings.Builder) {
	fam := [...]string{famIP: "ip ", famIP6: "ip6 ", famARP: "arp "}
	dirs := [...]string{dirSrc: "src ", dirDst: "dst ", dirBoth: "src and dst "}
	switch t.kind {
	case kHost:
		b.WriteString(fam[t.fam])
		b.WriteString(dirs[t.dir])
		b.WriteString("host ")
		b.WriteString(t.addr.String())
	case kNet:
		b.WriteString(fam[t.fam])
		b.WriteString(dirs[t.dir])
		b.WriteString("net ")
		b.WriteString(t.pfx.String())
	case kPort:
		b.WriteString(protoName(t.proto, 0))
		if t.proto != 0 {
			b.WriteByte(' ')
		}
		b.WriteString(dirs[t.dir])
		if t.lo == t.hi {
			b.WriteString("port ")
			b.WriteString(strconv.Itoa(int(t.lo)))
		} else {
			b.WriteString("portrange ")
			b.WriteString(strconv.Itoa(int(t.lo)))
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(int(t.hi)))
		}
	case kProto:
		if name := protoName(t.proto, t.ipv); name != "" {
			b.WriteString(name)
			return
		}
		switch t.ipv {
		case 4:
			b.WriteString("ip ")
		case 6:
			b.WriteString("ip6 ")
		}
		b.WriteString("proto ")
		b.WriteString(strconv.Itoa(int(t.proto)))
	case kIP:
		if t.ipv == 4 {
			b.WriteString("ip")
		} else {
			b.WriteString("ip6")
		}
	case kARP:
		b.WriteString("arp")
	case kVLAN:
		b.WriteString("vlan")
		if t.hasID {
			b.WriteByte(' ')
			b.WriteString(strconv.Itoa(int(t.lo)))
		}
	case kEther:
		b.WriteString("ether ")
		b.WriteString(dirs[t.dir])
		b.WriteString("host ")
		b.WriteString(packet.MAC(t.mac))
	}
}

// protoName is the keyword that stands for protocol proto over IP version
// ipv, or "" when there is none.
func protoName(proto, ipv uint8) string {
	switch {
	case proto == packet.ProtoTCP && ipv == 0:
		return "tcp"
	case proto == packet.ProtoUDP && ipv == 0:
		return "udp"
	case proto == packet.ProtoSCTP && ipv == 0:
		return "sctp"
	case proto == packet.ProtoICMP && ipv == 4:
		return "icmp"
	case proto == packet.ProtoICMPv6 && ipv == 6:
		return "icmp6"
	}
	return ""
}
