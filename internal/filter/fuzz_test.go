package filter

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heir-emd/heir/internal/packet"
)

// FuzzParse feeds arbitrary expressions to the parser. It must never panic
// or hang; an error must be a SyntaxError pointing inside the expression
// (or just past its end); an accepted expression must compile to a program
// that agrees with the tree it came from, and its canonical form must parse
// to the same filter.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"", "tcp", "not arp and not port 1883", "host 10.77.0.66 or 10.77.0.41 and tcp",
		"tcp dst port 80 or 443", "src or dst port 23", "src and dst net 10.77.0.0/24",
		"ether src 2:4d:4c:0:0:14 or 02-4d-4c-00-00-1e", "vlan 421 and vlan", "ip6 net 2a02:26f0:ad::/48",
		"net 10.77.0.32 mask 255.255.255.224", "portrange 1-1024", "!(tcp || udp) && ip", "((((tcp))))",
		"ip proto 47", "icmp6 or icmp", "port 80 or http", "tcp[13] & 2 != 0", "host fe80::1%eth0",
		"net 10.1", "(tcp", "tcp)", "not not not tcp", "host é",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	pkts := []*packet.Packet{&tcp4, &udp6, &icmp4, &icmp6, &arp4, &vlanUDP, &frag4, &sctp4, &gre4, &lldp, &raw6, &nothing}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := Parse(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q): error %T is not a *SyntaxError: %v", expr, err, err)
			}
			if se.Column < 1 || se.Column > utf8.RuneCountInString(expr)+1 {
				t.Fatalf("Parse(%q): column %d outside the expression", expr, se.Column)
			}
			return
		}
		if len(flt.prog) > MaxTerms {
			t.Fatalf("Parse(%q): %d tests, more than MaxTerms", expr, len(flt.prog))
		}
		for i, in := range flt.prog {
			for _, j := range []int32{in.jt, in.jf} {
				if j >= 0 && int(j) <= i || int(j) >= len(flt.prog) {
					t.Fatalf("Parse(%q): test %d jumps to %d", expr, i, j)
				}
			}
		}
		for _, p := range pkts {
			if got, want := flt.Match(p), eval(flt.root, p); got != want {
				t.Fatalf("Parse(%q): compiled Match %v, tree %v on %+v", expr, got, want, *p)
			}
		}
		canon := flt.String()
		again, err := Parse(canon)
		if err != nil {
			// Spelling out abbreviations and parentheses can push the
			// canonical form past the limits; nothing else may fail.
			if !strings.Contains(err.Error(), "nested deeper") && !strings.Contains(err.Error(), "bytes long") {
				t.Fatalf("canonical form %q of %q does not parse: %v", canon, expr, err)
			}
			return
		}
		if again.String() != canon {
			t.Fatalf("canonical form %q of %q parses to %q", canon, expr, again.String())
		}
		for _, p := range pkts {
			if flt.Match(p) != again.Match(p) {
				t.Fatalf("%q and its canonical form %q disagree on %+v", expr, canon, *p)
			}
		}
	})
}
