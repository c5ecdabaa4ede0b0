package filter

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/packet"
)

func TestParse(t *testing.T) {
	tests := []struct {
		expr string
		want string // canonical form
	}{
		{"", ""},
		{"   ", ""},
		{"tcp", "tcp"},
		{"UDP", "udp"},
		{"sctp", "sctp"},
		{"icmp", "icmp"},
		{"icmp6", "icmp6"},
		{"ip", "ip"},
		{"ip6", "ip6"},
		{"arp", "arp"},
		{"vlan", "vlan"},
		{"vlan 20", "vlan 20"},
		{"vlan 4095", "vlan 4095"},
		{"proto 47", "proto 47"},
		{"ip proto 1", "icmp"},
		{"ip6 proto 58", "icmp6"},
		{"ip proto 47", "ip proto 47"},
		{"host 10.0.0.1", "host 10.0.0.1"},
		{"src host 10.0.0.1", "src host 10.0.0.1"},
		{"dst host fd00::1", "dst host fd00::1"},
		{"src 10.0.0.1", "src host 10.0.0.1"},
		{"dst 10.1.0.0/16", "dst net 10.1.0.0/16"},
		{"ip host 10.0.0.1", "ip host 10.0.0.1"},
		{"ip6 src host fd00::1", "ip6 src host fd00::1"},
		{"arp host 10.0.0.1", "arp host 10.0.0.1"},
		{"src or dst host 10.0.0.1", "host 10.0.0.1"},
		{"src and dst host 10.0.0.1", "src and dst host 10.0.0.1"},
		{"net 10.0.0.0/8", "net 10.0.0.0/8"},
		{"net 10", "net 10.0.0.0/8"},
		{"net 10.1", "net 10.1.0.0/16"},
		{"net 10.1.2", "net 10.1.2.0/24"},
		{"net 10.1.2.3", "net 10.1.2.3/32"},
		{"net 172.16.0.0 mask 255.240.0.0", "net 172.16.0.0/12"},
		{"src net fd00::/8", "src net fd00::/8"},
		{"ip6 dst net 2001:db8::/32", "ip6 dst net 2001:db8::/32"},
		{"port 104", "port 104"},
		{"port 0", "port 0"},
		{"port 65535", "port 65535"},
		{"tcp port 2575", "tcp port 2575"},
		{"udp src port 53", "udp src port 53"},
		{"dst port 443", "dst port 443"},
		{"src or dst port 80", "port 80"},
		{"sctp and dst port 38412", "(sctp and dst port 38412)"},
		{"portrange 8000-8080", "portrange 8000-8080"},
		{"portrange 80-80", "port 80"},
		{"tcp dst portrange 1-1023", "tcp dst portrange 1-1023"},
		{"ether host 02:4d:4c:00:00:0a", "ether host 02:4d:4c:00:00:0a"},
		{"ether src 2:4d:4c:0:0:a", "ether src host 02:4d:4c:00:00:0a"},
		{"ether dst host 02-4D-4C-00-00-0A", "ether dst host 02:4d:4c:00:00:0a"},
		{"ether host 024d.4c00.000a", "ether host 02:4d:4c:00:00:0a"},
		{"ether host 024d4c00000a", "ether host 02:4d:4c:00:00:0a"},
		// Operators, and tcpdump's equal precedence of and/or.
		{"tcp and port 80", "(tcp and port 80)"},
		{"tcp && port 80", "(tcp and port 80)"},
		{"tcp AND port 80", "(tcp and port 80)"},
		{"tcp or udp or icmp", "(tcp or udp or icmp)"},
		{"tcp || udp", "(tcp or udp)"},
		{"not tcp", "not tcp"},
		{"!tcp", "not tcp"},
		{"! ! tcp", "not not tcp"},
		{"not tcp port 80", "not tcp port 80"},
		{"tcp or udp and port 53", "((tcp or udp) and port 53)"},
		{"tcp and udp or port 53", "((tcp and udp) or port 53)"},
		{"tcp or (udp and port 53)", "(tcp or (udp and port 53))"},
		{"(tcp)", "tcp"},
		{"((((tcp))))", "tcp"},
		{"not (tcp or udp)", "not (tcp or udp)"},
		{"(tcp or udp) or icmp", "(tcp or udp or icmp)"},
		// Abbreviations repeat the previous qualifiers.
		{"port 80 or 443", "(port 80 or port 443)"},
		{"tcp dst port 80 or 443", "(tcp dst port 80 or tcp dst port 443)"},
		{"host 10.0.0.1 or 10.0.0.2", "(host 10.0.0.1 or host 10.0.0.2)"},
		{"host 10.0.0.1 and not 10.0.0.2", "(host 10.0.0.1 and not host 10.0.0.2)"},
		{"net 10.1.0.0/16 or 10.2.0.0/16", "(net 10.1.0.0/16 or net 10.2.0.0/16)"},
		{"ether src 02:00:00:00:00:01 or 02:00:00:00:00:02", "(ether src host 02:00:00:00:00:01 or ether src host 02:00:00:00:00:02)"},
		{"\tvlan 10\nand\r\nhost 10.0.0.1 ", "(vlan 10 and host 10.0.0.1)"},
	}
	for _, tt := range tests {
		f, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		if got := f.String(); got != tt.want {
			t.Errorf("Parse(%q) = %q, want %q", tt.expr, got, tt.want)
		}
		if f.Expr() != tt.expr {
			t.Errorf("Parse(%q).Expr() = %q", tt.expr, f.Expr())
		}
		// The canonical form parses to itself.
		g, err := Parse(f.String())
		if err != nil {
			t.Errorf("Parse(%q) (canonical of %q): %v", f.String(), tt.expr, err)
		} else if g.String() != f.String() {
			t.Errorf("canonical %q parses to %q", f.String(), g.String())
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		{"tcp and port http", "filter: column 14: expected a port number after 'port', got 'http'"},
		{"port", "filter: column 5: expected a port number after 'port', got end of expression"},
		{"port 70000", "filter: column 6: port 70000 is out of range 0-65535"},
		{"port -1", "filter: column 6: expected a port number after 'port', got '-1'"},
		{"portrange 90-80", "filter: column 11: port range 90-80 runs backwards"},
		{"portrange 80", "filter: column 11: expected a port range such as 8000-8080 after 'portrange', got '80'"},
		{"portrange 80-x", "filter: column 11: expected a port number after 'portrange', got 'x'"},
		{"host", "filter: column 5: expected an IP address after 'host', got end of expression"},
		{"host pacs01", "filter: column 6: expected an IP address after 'host', got 'pacs01' (host names are not looked up)"},
		{"host fe80::1%eth0", "filter: column 13: unexpected character '%'"},
		{"host 10.0.0.0/8", "filter: column 6: 'host' takes one address; use 'net 10.0.0.0/8' for a network"},
		{"ip host fd00::1", "filter: column 9: 'ip' needs an IPv4 address, got fd00::1"},
		{"ip6 host 10.0.0.1", "filter: column 10: 'ip6' needs an IPv6 address, got 10.0.0.1"},
		{"arp net fd00::/8", "filter: column 9: 'arp' needs an IPv4 address, got fd00::/8"},
		{"net 10.0.0.1/8", "filter: column 5: network 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"},
		{"net 10.0.0.0/33", "filter: column 5: expected a network such as 10.1.0.0/16 after 'net', got '10.0.0.0/33'"},
		{"net 10.0.0.0 mask 255.0.255.0", "filter: column 19: expected an IPv4 netmask such as 255.255.0.0 after 'mask', got '255.0.255.0'"},
		{"net 10.1.0.0 mask 255.0.0.0", "filter: column 5: network 10.1.0.0 mask 255.0.0.0 has host bits set"},
		{"net 10.300", "filter: column 5: expected a network such as 10.1.0.0/16 after 'net', got '10.300'"},
		{"mask 255.0.0.0", "filter: column 1: 'mask' must follow 'net ADDRESS'"},
		{"tcp host 10.0.0.1", "filter: column 1: 'tcp' cannot qualify 'host'"},
		{"udp src 10.0.0.1", "filter: column 1: 'udp' cannot qualify 'host'"},
		{"ether port 80", "filter: column 1: 'ether' cannot qualify 'port'"},
		{"ether net 10.0.0.0/8", "filter: column 1: 'ether' cannot qualify 'net'"},
		{"arp port 80", "filter: column 1: 'arp' cannot qualify 'port'"},
		{"ether", "filter: column 6: expected 'host', 'src' or 'dst' after 'ether', got end of expression"},
		{"ether host 02:00:00:00:00", "filter: column 12: expected a MAC address after 'host', got '02:00:00:00:00'"},
		{"ether host 02:00:00:00:00:100", "filter: column 12: expected a MAC address after 'host', got '02:00:00:00:00:100'"},
		{"ether src zz:00:00:00:00:00", "filter: column 11: expected a MAC address after 'src', got 'zz:00:00:00:00:00'"},
		{"vlan 4096", "filter: column 6: expected a VLAN id (0-4095) after 'vlan', got '4096'"},
		{"proto tcp", "filter: column 7: expected a protocol number (0-255) after 'proto', got 'tcp'"},
		{"ip proto 256", "filter: column 10: expected a protocol number (0-255) after 'proto', got '256'"},
		{"http", "filter: column 1: expected a primitive such as 'host', 'port' or 'tcp', got 'http'"},
		{"tcp tcp", "filter: column 5: expected 'and' or 'or' before 'tcp'"},
		{"tcp and", "filter: column 8: expected a primitive such as 'host', 'port' or 'tcp', got end of expression"},
		{"and tcp", "filter: column 1: expected a primitive such as 'host', 'port' or 'tcp', got 'and'"},
		{"tcp or or udp", "filter: column 8: expected a primitive such as 'host', 'port' or 'tcp', got 'or'"},
		{"not", "filter: column 4: expected a primitive such as 'host', 'port' or 'tcp', got end of expression"},
		{"(tcp", "filter: column 5: expected ')' to close the '(' at column 1, got end of expression"},
		{"((tcp) or (udp)", "filter: column 16: expected ')' to close the '(' at column 1, got end of expression"},
		{"tcp)", "filter: column 4: unmatched ')'"},
		{"()", "filter: column 2: expected a primitive such as 'host', 'port' or 'tcp', got ')'"},
		{"tcp & udp", "filter: column 5: expected '&&', got a single '&'"},
		{"tcp | udp", "filter: column 5: expected '||', got a single '|'"},
		{"tcp[13] & 2 != 0", "filter: column 4: byte-offset expressions such as tcp[13] are not supported"},
		{"len != 0", "filter: column 5: comparisons ('!=') are not supported"},
		{"broadcast", "filter: column 1: 'broadcast' is not supported by heir's filter (see docs/filter.md)"},
		{"tcp and greater 100", "filter: column 9: 'greater' is not supported by heir's filter (see docs/filter.md)"},
		{"src", "filter: column 4: expected an IP address after 'src', got end of expression"},
		{"src port", "filter: column 9: expected a port number after 'port', got end of expression"},
		{"vlan 1 or 2", "filter: column 11: expected a primitive such as 'host', 'port' or 'tcp', got '2'"},
		{"tcp or 80", "filter: column 8: expected a primitive such as 'host', 'port' or 'tcp', got '80'"},
		{"port 80 or http", "filter: column 12: expected a port number after 'port', got 'http'"},
		{"host 10.0.0.1 or port", "filter: column 22: expected a port number after 'port', got end of expression"},
		// Columns count characters, not bytes.
		{"host é", "filter: column 6: unexpected character 'é'"},
		{"(tcp) and ärp", "filter: column 11: unexpected character 'ä'"},
	}
	for _, tt := range tests {
		f, err := Parse(tt.expr)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want error %q", tt.expr, f, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q) error\n got %q\nwant %q", tt.expr, err, tt.want)
		}
		var se *SyntaxError
		if !errors.As(err, &se) || se.Column < 1 {
			t.Errorf("Parse(%q) error %T is not a *SyntaxError with a column", tt.expr, err)
		}
	}
}

func TestLimits(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("(", n) + "tcp" + strings.Repeat(")", n) }
	if _, err := Parse(nest(MaxDepth)); err != nil {
		t.Errorf("nesting %d: %v", MaxDepth, err)
	}
	if _, err := Parse(nest(MaxDepth + 1)); err == nil || !strings.Contains(err.Error(), "nested deeper than 64") {
		t.Errorf("nesting %d: got %v, want a depth error", MaxDepth+1, err)
	}
	if _, err := Parse(strings.Repeat("not ", MaxDepth+1) + "tcp"); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("%d nots: got %v, want a depth error", MaxDepth+1, err)
	}
	// Depth counts open parentheses, not parentheses ever seen.
	if _, err := Parse(strings.Repeat("(tcp) or ", 200) + "udp"); err != nil {
		t.Errorf("200 sibling groups: %v", err)
	}
	terms := func(n int) string { return strings.TrimSuffix(strings.Repeat("tcp or ", n), " or ") }
	if _, err := Parse(terms(MaxTerms)); err != nil {
		t.Errorf("%d terms: %v", MaxTerms, err)
	}
	if _, err := Parse(terms(MaxTerms + 1)); err == nil || !strings.Contains(err.Error(), "more than 512 primitives") {
		t.Errorf("%d terms: got %v, want a term-count error", MaxTerms+1, err)
	}
	long := "tcp" + strings.Repeat(" ", MaxLength)
	if _, err := Parse(long); err == nil || err.Error() != "filter: column 4097: expression is 4099 bytes long, more than the limit of 4096" {
		t.Errorf("long expression: got %v", err)
	}
	// The longest chain alternating and/or nests one level per operator
	// switch; it still compiles and matches.
	var b strings.Builder
	b.WriteString("tcp")
	for i := 0; i < MaxTerms-1; i++ {
		if i%2 == 0 {
			b.WriteString(" or udp")
		} else {
			b.WriteString(" and ip")
		}
	}
	f, err := Parse(b.String())
	if err != nil {
		t.Fatalf("alternating chain: %v", err)
	}
	if len(f.prog) != MaxTerms {
		t.Errorf("alternating chain compiled to %d tests, want %d", len(f.prog), MaxTerms)
	}
	// ((tcp or udp) and ip) or udp ... ends with "or udp": a UDP packet matches.
	if !f.Match(&packet.Packet{IPVersion: 4, Proto: packet.ProtoUDP}) {
		t.Error("alternating chain does not match UDP")
	}
}

// Packets for the match table.
var (
	macA = [6]byte{0x02, 0x4d, 0x4c, 0, 0, 0x0a}
	macB = [6]byte{0x02, 0x4d, 0x4c, 0, 0, 0x14}

	tcp4 = packet.Packet{HasEth: true, SrcMAC: macB, DstMAC: macA, EtherType: packet.EtherTypeIPv4, IPVersion: 4,
		Src: netip.MustParseAddr("10.77.0.20"), Dst: netip.MustParseAddr("10.77.0.10"), Proto: packet.ProtoTCP,
		SrcPort: 40312, DstPort: 4242, TCPFlags: packet.SYN}
	udp6 = packet.Packet{HasEth: true, SrcMAC: macA, DstMAC: macB, EtherType: packet.EtherTypeIPv6, IPVersion: 6,
		Src: netip.MustParseAddr("fd00::10"), Dst: netip.MustParseAddr("fd00:1::53"), Proto: packet.ProtoUDP,
		SrcPort: 5353, DstPort: 53}
	icmp4 = packet.Packet{HasEth: true, SrcMAC: macA, DstMAC: macB, EtherType: packet.EtherTypeIPv4, IPVersion: 4,
		Src: netip.MustParseAddr("10.77.0.10"), Dst: netip.MustParseAddr("10.77.0.20"), Proto: packet.ProtoICMP, ICMPType: 8}
	icmp6 = packet.Packet{HasEth: true, EtherType: packet.EtherTypeIPv6, IPVersion: 6,
		Src: netip.MustParseAddr("fe80::1"), Dst: netip.MustParseAddr("ff02::1"), Proto: packet.ProtoICMPv6, ICMPType: 135}
	arp4 = packet.Packet{HasEth: true, SrcMAC: macA, DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		EtherType: packet.EtherTypeARP, ARP: true, ARPOp: 1, ARPSenderMAC: macA,
		ARPSenderIP: netip.MustParseAddr("10.77.0.10"), ARPTargetIP: netip.MustParseAddr("10.77.0.20")}
	vlanUDP = packet.Packet{HasEth: true, VLANs: [2]uint16{421, 785}, NVLAN: 2, EtherType: packet.EtherTypeIPv4, IPVersion: 4,
		Src: netip.MustParseAddr("82.178.113.245"), Dst: netip.MustParseAddr("82.178.158.181"), Proto: packet.ProtoUDP,
		SrcPort: 47255, DstPort: 53}
	frag4 = packet.Packet{HasEth: true, EtherType: packet.EtherTypeIPv4, IPVersion: 4, Fragment: true, FragOffset: 1480,
		Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: packet.ProtoUDP}
	sctp4 = packet.Packet{IPVersion: 4, EtherType: packet.EtherTypeIPv4, Src: netip.MustParseAddr("10.0.0.1"),
		Dst: netip.MustParseAddr("10.0.0.2"), Proto: packet.ProtoSCTP, SrcPort: 38412, DstPort: 38412}
	gre4    = packet.Packet{IPVersion: 4, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 47}
	lldp    = packet.Packet{HasEth: true, SrcMAC: macB, EtherType: 0x88cc}
	raw6    = packet.Packet{EtherType: packet.EtherTypeIPv6, IPVersion: 6, Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::1"), Proto: packet.ProtoTCP, SrcPort: 80, DstPort: 80}
	nothing packet.Packet
)

func TestMatch(t *testing.T) {
	pkts := map[string]*packet.Packet{"tcp4": &tcp4, "udp6": &udp6, "icmp4": &icmp4, "icmp6": &icmp6, "arp4": &arp4,
		"vlanUDP": &vlanUDP, "frag4": &frag4, "sctp4": &sctp4, "gre4": &gre4, "lldp": &lldp, "raw6": &raw6, "nothing": &nothing}
	tests := []struct {
		expr  string
		match string // space-separated names of the packets that match; the rest must not
	}{
		{"", "tcp4 udp6 icmp4 icmp6 arp4 vlanUDP frag4 sctp4 gre4 lldp raw6 nothing"},
		{"tcp", "tcp4 raw6"},
		{"udp", "udp6 vlanUDP frag4"},
		{"sctp", "sctp4"},
		{"icmp", "icmp4"},
		{"icmp6", "icmp6"},
		{"ip", "tcp4 icmp4 vlanUDP frag4 sctp4 gre4"},
		{"ip6", "udp6 icmp6 raw6"},
		{"arp", "arp4"},
		{"not ip and not ip6", "arp4 lldp nothing"},
		{"proto 47", "gre4"},
		{"ip proto 17", "vlanUDP frag4"},
		{"ip6 proto 17", "udp6"},
		{"vlan", "vlanUDP"},
		{"vlan 421", "vlanUDP"},
		{"vlan 785", "vlanUDP"},
		{"vlan 1", ""},
		{"host 10.77.0.10", "tcp4 icmp4 arp4"},
		{"ip host 10.77.0.10", "tcp4 icmp4"},
		{"arp host 10.77.0.10", "arp4"},
		{"src host 10.77.0.10", "icmp4 arp4"},
		{"dst host 10.77.0.10", "tcp4"},
		{"arp dst host 10.77.0.20", "arp4"},
		{"src and dst host 2001:db8::1", "raw6"},
		{"src and dst host 10.77.0.10", ""},
		{"host fd00:1::53", "udp6"},
		{"ip6 host fd00:1::53", "udp6"},
		{"net 10.77.0.0/24", "tcp4 icmp4 arp4"},
		{"net 10.77", "tcp4 icmp4 arp4"},
		{"src net 10.77.0.16/28", "tcp4"},
		{"ip net 10.0.0.0/8", "tcp4 icmp4 frag4 sctp4 gre4"},
		{"net fd00::/8", "udp6"},
		{"dst net fd00:1::/32", "udp6"},
		{"net 0.0.0.0/0", "tcp4 icmp4 arp4 vlanUDP frag4 sctp4 gre4"},
		{"net ::/0", "udp6 icmp6 raw6"},
		{"port 4242", "tcp4"},
		{"port 53", "udp6 vlanUDP"},
		{"udp port 53", "udp6 vlanUDP"},
		{"tcp port 53", ""},
		{"dst port 53", "udp6 vlanUDP"},
		{"src port 53", ""},
		{"src port 5353", "udp6"},
		{"port 38412", "sctp4"},
		{"sctp port 38412", "sctp4"},
		{"src and dst port 38412", "sctp4"},
		{"port 0", ""}, // ICMP, fragments and non-IP carry no ports
		{"portrange 0-65535", "tcp4 udp6 vlanUDP sctp4 raw6"},
		{"portrange 4000-5000", "tcp4"},
		{"tcp portrange 50-60", ""},
		{"dst portrange 50-60", "udp6 vlanUDP"},
		{"ether host 02:4d:4c:00:00:0a", "tcp4 udp6 icmp4 arp4"},
		{"ether src 02:4d:4c:00:00:0a", "udp6 icmp4 arp4"},
		{"ether dst 02:4d:4c:00:00:0a", "tcp4"},
		{"ether dst ff:ff:ff:ff:ff:ff", "arp4"},
		{"ether host 00:00:00:00:00:00", "icmp6 vlanUDP frag4 lldp"},
		{"ether src and dst host 00:00:00:00:00:00", "icmp6 vlanUDP frag4"},
		{"not tcp", "udp6 icmp4 icmp6 arp4 vlanUDP frag4 sctp4 gre4 lldp nothing"},
		{"tcp or udp", "tcp4 raw6 udp6 vlanUDP frag4"},
		{"tcp and port 4242", "tcp4"},
		{"tcp and not port 4242", "raw6"},
		{"not (tcp or udp or icmp or icmp6)", "arp4 sctp4 gre4 lldp nothing"},
		{"!(tcp || udp) && ip", "icmp4 sctp4 gre4"},
		// Equal precedence: (host or host) and udp.
		{"host 10.77.0.10 or host fd00::10 and udp", "udp6"},
		{"host 10.77.0.10 or (host fd00::10 and udp)", "tcp4 icmp4 arp4 udp6"},
		{"port 4242 or 53", "tcp4 udp6 vlanUDP"},
		{"host 10.77.0.10 and not 10.77.0.20", ""},
		{"not not tcp", "tcp4 raw6"},
		{"vlan and udp port 53", "vlanUDP"},
		{"not vlan and port 53", "udp6"},
	}
	for _, tt := range tests {
		f, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		want := map[string]bool{}
		for _, n := range strings.Fields(tt.match) {
			if pkts[n] == nil {
				t.Fatalf("unknown packet %q", n)
			}
			want[n] = true
		}
		for name, p := range pkts {
			if got := f.Match(p); got != want[name] {
				t.Errorf("%q on %s: Match = %v, want %v", tt.expr, name, got, want[name])
			}
			if got := eval(f.root, p); got != want[name] {
				t.Errorf("%q on %s: tree evaluation = %v, want %v", tt.expr, name, got, want[name])
			}
		}
	}
}

func TestNilFilterMatchesAll(t *testing.T) {
	var f *Filter
	if !f.Match(&tcp4) || f.String() != "" || f.Expr() != "" {
		t.Error("a nil filter must match everything and print as empty")
	}
}

// eval is the obvious recursive evaluation of the parsed tree: the
// reference the compiled program is checked against.
func eval(n *node, p *packet.Packet) bool {
	if n == nil {
		return true
	}
	switch n.op {
	case opLeaf:
		return n.t.match(p)
	case opNot:
		return !eval(n.kids[0], p)
	case opAnd:
		for _, k := range n.kids {
			if !eval(k, p) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range n.kids {
			if eval(k, p) {
				return true
			}
		}
		return false
	}
	panic("bad node")
}
