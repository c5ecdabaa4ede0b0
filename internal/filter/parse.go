package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/heir-emd/heir/internal/packet"
)

// SyntaxError is a mistake in a filter expression, at a column counted in
// characters from 1.
type SyntaxError struct {
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("filter: column %d: %s", e.Column, e.Msg)
}

// Parse compiles a filter expression. An empty (or all-blank) expression
// gives a filter that matches everything.
//
// The grammar follows tcpdump's: primitives are joined by and/&&, or/||,
// negated by not/! and grouped with parentheses; not binds tightest, and
// and or have EQUAL precedence and group left to right, so "a or b and c"
// means "(a or b) and c". A bare value after and/or repeats the previous
// primitive's qualifiers: "port 80 or 443", "host 10.0.0.1 and not
// 10.0.0.2".
func Parse(expr string) (*Filter, error) {
	if len(expr) > MaxLength {
		return nil, &SyntaxError{Column: utf8.RuneCountInString(expr[:MaxLength]) + 1,
			Msg: fmt.Sprintf("expression is %d bytes long, more than the limit of %d", len(expr), MaxLength)}
	}
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{src: expr, toks: toks}
	if p.peek().kind == tEOF {
		return &Filter{expr: expr}, nil
	}
	root, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tRParen {
			return nil, p.errAt(t, "unmatched ')'")
		}
		return nil, p.errAt(t, "expected 'and' or 'or' before %s", p.describe(t))
	}
	count(root)
	return &Filter{expr: expr, root: root, prog: compile(root)}, nil
}

// count sets the leaf counts the compiler lays code out by. Its recursion
// is as deep as the tree, which the parser bounds by MaxDepth and MaxTerms.
func count(n *node) int {
	if n.op == opLeaf {
		n.tests = 1
		return 1
	}
	n.tests = 0
	for _, k := range n.kids {
		n.tests += count(k)
	}
	return n.tests
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tWord
	tLParen
	tRParen
	tNot
	tAnd
	tOr
)

type token struct {
	kind tokKind
	text string // as written
	word string // lower case, for keyword comparisons
	pos  int    // byte offset in the expression
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '-' || c == '_'
}

func lex(s string) ([]token, error) {
	var toks []token
	col := func(i int) int { return utf8.RuneCountInString(s[:i]) + 1 }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{kind: tLParen, text: "(", pos: i})
			i++
		case c == ')':
			toks = append(toks, token{kind: tRParen, text: ")", pos: i})
			i++
		case c == '!':
			if i+1 < len(s) && s[i+1] == '=' {
				return nil, &SyntaxError{Column: col(i), Msg: "comparisons ('!=') are not supported"}
			}
			toks = append(toks, token{kind: tNot, text: "!", pos: i})
			i++
		case c == '&' || c == '|':
			if i+1 >= len(s) || s[i+1] != c {
				return nil, &SyntaxError{Column: col(i), Msg: fmt.Sprintf("expected '%c%c', got a single '%c'", c, c, c)}
			}
			k := tAnd
			if c == '|' {
				k = tOr
			}
			toks = append(toks, token{kind: k, text: s[i : i+2], pos: i})
			i += 2
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			t := token{kind: tWord, text: s[i:j], word: strings.ToLower(s[i:j]), pos: i}
			switch t.word {
			case "and":
				t.kind = tAnd
			case "or":
				t.kind = tOr
			case "not":
				t.kind = tNot
			}
			toks = append(toks, t)
			i = j
		case c == '[':
			return nil, &SyntaxError{Column: col(i), Msg: "byte-offset expressions such as tcp[13] are not supported"}
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, &SyntaxError{Column: col(i), Msg: fmt.Sprintf("unexpected character %q", r)}
		}
	}
	return toks, nil
}

// qual is a primitive's qualifiers, kept so that a bare value after and/or
// can reuse them.
type qual struct {
	proto string // "", ether, ip, ip6, arp, tcp, udp or sctp
	dir   dir
	typ   string // host, net, port or portrange
	last  string // the qualifier the value follows, for messages
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
	terms int
	prev  *qual // qualifiers of the previous primitive, for abbreviations
}

func (p *parser) peek() token { return p.peekAt(0) }

func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return token{kind: tEOF, pos: len(p.src)}
}

func (p *parser) next() token {
	t := p.peek()
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return &SyntaxError{Column: utf8.RuneCountInString(p.src[:t.pos]) + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) describe(t token) string {
	if t.kind == tEOF {
		return "end of expression"
	}
	return "'" + t.text + "'"
}

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errAt(t, "expression nested deeper than %d levels", MaxDepth)
	}
	return nil
}

// expr parses terms joined by and/or, which tcpdump gives equal precedence
// and groups from the left. The loop (not recursion) keeps long chains off
// the stack.
func (p *parser) expr() (*node, error) {
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tAnd && t.kind != tOr {
			return left, nil
		}
		p.next()
		right, err := p.term()
		if err != nil {
			return nil, err
		}
		op := opAnd
		if t.kind == tOr {
			op = opOr
		}
		if left.op == op {
			left.kids = append(left.kids, right)
		} else {
			left = &node{op: op, kids: []*node{left, right}}
		}
	}
}

func (p *parser) term() (*node, error) {
	t := p.peek()
	switch t.kind {
	case tNot:
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		k, err := p.term()
		if err != nil {
			return nil, err
		}
		p.depth--
		return &node{op: opNot, kids: []*node{k}}, nil
	case tLParen:
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tRParen {
			return nil, p.errAt(c, "expected ')' to close the '(' at column %d, got %s",
				utf8.RuneCountInString(p.src[:t.pos])+1, p.describe(c))
		}
		p.next()
		p.depth--
		return e, nil
	case tWord:
		return p.primitive()
	}
	return nil, p.errAt(t, "expected a primitive such as 'host', 'port' or 'tcp', got %s", p.describe(t))
}

func isDir(w string) bool  { return w == "src" || w == "dst" }
func isType(w string) bool { return w == "host" || w == "net" || w == "port" || w == "portrange" }

// unsupported names tcpdump keywords heir does not implement, so that they
// get a precise message rather than "unknown".
var unsupported = map[string]bool{
	"less": true, "greater": true, "len": true, "broadcast": true, "multicast": true,
	"gateway": true, "inbound": true, "outbound": true, "rarp": true, "atalk": true,
	"decnet": true, "iso": true, "stp": true, "ipx": true, "netbeui": true, "mpls": true,
	"pppoed": true, "pppoes": true, "geneve": true, "vxlan": true, "wlan": true, "link": true,
	"fddi": true, "tr": true, "protochain": true, "ifname": true, "on": true, "rnr": true,
	"rulenum": true, "reason": true, "rset": true, "srnr": true, "subrulenum": true,
	"action": true, "type": true, "subtype": true, "dir": true, "ra": true, "ta": true,
	"addr1": true, "addr2": true, "addr3": true, "addr4": true, "llc": true, "igmp": true,
	"igrp": true, "pim": true, "ah": true, "esp": true, "vrrp": true, "carp": true,
}

// keyword says whether w means something to the parser, so that it is not
// taken for a value.
func keyword(w string) bool {
	switch w {
	case "src", "dst", "host", "net", "port", "portrange", "mask", "ether", "ip", "ip6",
		"arp", "tcp", "udp", "sctp", "icmp", "icmp6", "vlan", "proto":
		return true
	}
	return unsupported[w]
}

func (p *parser) primitive() (*node, error) {
	start := p.peek()
	p.terms++
	if p.terms > MaxTerms {
		return nil, p.errAt(start, "more than %d primitives", MaxTerms)
	}
	w := start.word
	if unsupported[w] {
		return nil, p.errAt(start, "'%s' is not supported by heir's filter (see docs/filter.md)", start.text)
	}
	if !keyword(w) {
		if p.prev != nil {
			// "port 80 or 443": the value takes the previous qualifiers.
			return p.value(*p.prev)
		}
		return nil, p.errAt(start, "expected a primitive such as 'host', 'port' or 'tcp', got %s", p.describe(start))
	}
	switch w {
	case "vlan":
		p.next()
		p.prev = nil
		t := test{kind: kVLAN}
		if v := p.peek(); v.kind == tWord && !keyword(v.word) {
			n, err := strconv.ParseUint(v.text, 10, 16)
			if err != nil || n > 4095 {
				return nil, p.errAt(v, "expected a VLAN id (0-4095) after 'vlan', got %s", p.describe(v))
			}
			p.next()
			t.hasID, t.lo = true, uint16(n)
		}
		return leaf(t), nil
	case "proto":
		p.next()
		return p.protoNumber(start, 0)
	case "icmp":
		p.next()
		p.prev = nil
		return leaf(test{kind: kProto, ipv: 4, proto: packet.ProtoICMP}), nil
	case "icmp6":
		p.next()
		p.prev = nil
		return leaf(test{kind: kProto, ipv: 6, proto: packet.ProtoICMPv6}), nil
	case "mask":
		return nil, p.errAt(start, "'mask' must follow 'net ADDRESS'")
	}

	var q qual
	qualified := false
	switch w {
	case "ether", "ip", "ip6", "arp", "tcp", "udp", "sctp":
		p.next()
		q.proto, q.last = w, start.text
		n := p.peek()
		if n.kind == tWord && n.word == "proto" && (w == "ip" || w == "ip6") {
			p.next()
			ipv := uint8(4)
			if w == "ip6" {
				ipv = 6
			}
			return p.protoNumber(n, ipv)
		}
		if n.kind != tWord || !(isDir(n.word) || isType(n.word)) {
			p.prev = nil
			switch w {
			case "ether":
				return nil, p.errAt(n, "expected 'host', 'src' or 'dst' after 'ether', got %s", p.describe(n))
			case "ip":
				return leaf(test{kind: kIP, ipv: 4}), nil
			case "ip6":
				return leaf(test{kind: kIP, ipv: 6}), nil
			case "arp":
				return leaf(test{kind: kARP}), nil
			}
			return leaf(test{kind: kProto, proto: transport(w)}), nil
		}
		qualified = true
	}
	if n := p.peek(); n.kind == tWord && isDir(n.word) {
		p.next()
		qualified = true
		q.last = n.text
		q.dir = dirSrc
		other := "dst"
		if n.word == "dst" {
			q.dir, other = dirDst, "src"
		}
		// "src or dst" and "src and dst" qualify one primitive; a bare
		// "src" is never followed by and/or otherwise.
		if op, o := p.peekAt(0), p.peekAt(1); (op.kind == tOr || op.kind == tAnd) && o.kind == tWord && o.word == other {
			p.next()
			p.next()
			q.last = o.text
			q.dir = dirEither
			if op.kind == tAnd {
				q.dir = dirBoth
			}
		}
	}
	if n := p.peek(); n.kind == tWord && isType(n.word) {
		p.next()
		qualified = true
		q.typ = n.word
		q.last = n.text
	}
	if !qualified {
		// keyword() said w is one of the words handled above.
		return nil, p.errAt(start, "unexpected '%s'", start.text)
	}
	if err := p.check(q, start); err != nil {
		return nil, err
	}
	nd, err := p.value(q)
	if err != nil {
		return nil, err
	}
	p.prev = &q
	return nd, nil
}

func transport(w string) uint8 {
	switch w {
	case "tcp":
		return packet.ProtoTCP
	case "udp":
		return packet.ProtoUDP
	case "sctp":
		return packet.ProtoSCTP
	}
	return 0
}

// check rejects qualifier combinations that mean nothing, as tcpdump does.
func (p *parser) check(q qual, at token) error {
	switch q.typ {
	case "port", "portrange":
		switch q.proto {
		case "", "tcp", "udp", "sctp":
			return nil
		}
	case "net":
		switch q.proto {
		case "", "ip", "ip6", "arp":
			return nil
		}
	default: // host, or a bare value after src/dst
		switch q.proto {
		case "", "ip", "ip6", "arp", "ether":
			return nil
		}
	}
	typ := q.typ
	if typ == "" {
		typ = "host"
	}
	return p.errAt(at, "'%s' cannot qualify '%s'", q.proto, typ)
}

func (p *parser) protoNumber(after token, ipv uint8) (*node, error) {
	p.prev = nil
	v := p.peek()
	n, err := strconv.ParseUint(v.text, 10, 8)
	if v.kind != tWord || err != nil {
		return nil, p.errAt(v, "expected a protocol number (0-255) after '%s', got %s", after.text, p.describe(v))
	}
	p.next()
	return leaf(test{kind: kProto, ipv: ipv, proto: uint8(n)}), nil
}

func leaf(t test) *node { return &node{op: opLeaf, t: t} }

// value parses the value a primitive with qualifiers q tests.
func (p *parser) value(q qual) (*node, error) {
	v := p.peek()
	if v.kind != tWord || keyword(v.word) {
		what := map[string]string{"port": "a port number", "portrange": "a port range such as 8000-8080",
			"net": "a network such as 10.1.0.0/16"}[q.typ]
		if what == "" {
			what = "an IP address"
			if q.proto == "ether" {
				what = "a MAC address"
			}
		}
		return nil, p.errAt(v, "expected %s after '%s', got %s", what, q.last, p.describe(v))
	}
	p.next()
	t := test{dir: q.dir}
	switch q.typ {
	case "port":
		n, err := p.port(v, v.text, q.last)
		if err != nil {
			return nil, err
		}
		t.kind, t.lo, t.hi, t.proto = kPort, n, n, transport(q.proto)
	case "portrange":
		lo, hi, ok := strings.Cut(v.text, "-")
		if !ok {
			return nil, p.errAt(v, "expected a port range such as 8000-8080 after '%s', got %s", q.last, p.describe(v))
		}
		a, err := p.port(v, lo, q.last)
		if err != nil {
			return nil, err
		}
		b, err := p.port(v, hi, q.last)
		if err != nil {
			return nil, err
		}
		if a > b {
			return nil, p.errAt(v, "port range %s runs backwards", v.text)
		}
		t.kind, t.lo, t.hi, t.proto = kPort, a, b, transport(q.proto)
	case "net":
		pfx, err := p.network(v, q)
		if err != nil {
			return nil, err
		}
		t.kind, t.pfx, t.fam = kNet, pfx, famOf(q.proto)
		if err := p.family(v, q, pfx.Addr()); err != nil {
			return nil, err
		}
	default:
		if q.proto == "ether" {
			mac, ok := parseMAC(v.text)
			if !ok {
				return nil, p.errAt(v, "expected a MAC address after '%s', got %s", q.last, p.describe(v))
			}
			t.kind, t.mac = kEther, mac
			break
		}
		if strings.Contains(v.text, "/") {
			if q.typ == "host" {
				return nil, p.errAt(v, "'host' takes one address; use 'net %s' for a network", v.text)
			}
			pfx, err := p.network(v, q)
			if err != nil {
				return nil, err
			}
			t.kind, t.pfx, t.fam = kNet, pfx, famOf(q.proto)
			if err := p.family(v, q, pfx.Addr()); err != nil {
				return nil, err
			}
			break
		}
		a, err := netip.ParseAddr(v.text)
		if err != nil || a.Zone() != "" {
			return nil, p.errAt(v, "expected an IP address after '%s', got %s (host names are not looked up)", q.last, p.describe(v))
		}
		t.kind, t.addr, t.fam = kHost, a, famOf(q.proto)
		if err := p.family(v, q, a); err != nil {
			return nil, err
		}
	}
	return leaf(t), nil
}

func famOf(proto string) family {
	switch proto {
	case "ip":
		return famIP
	case "ip6":
		return famIP6
	case "arp":
		return famARP
	}
	return famAny
}

// family rejects an address of the wrong IP version for the qualifier.
func (p *parser) family(v token, q qual, a netip.Addr) error {
	switch {
	case (q.proto == "ip" || q.proto == "arp") && !a.Is4():
		return p.errAt(v, "'%s' needs an IPv4 address, got %s", q.proto, v.text)
	case q.proto == "ip6" && !a.Is6():
		return p.errAt(v, "'ip6' needs an IPv6 address, got %s", v.text)
	}
	return nil
}

func (p *parser) port(v token, s, after string) (uint16, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, p.errAt(v, "expected a port number after '%s', got '%s'", after, s)
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, p.errAt(v, "port %s is out of range 0-65535", s)
	}
	return uint16(n), nil
}

// network parses "10.1.0.0/16", "fd00::/8", tcpdump's shortened "10.1"
// (a /16) and "10.1.0.0 mask 255.255.0.0".
func (p *parser) network(v token, q qual) (netip.Prefix, error) {
	s := v.text
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, p.errAt(v, "expected a network such as 10.1.0.0/16 after '%s', got %s", q.last, p.describe(v))
		}
		if pfx.Masked() != pfx {
			return netip.Prefix{}, p.errAt(v, "network %s has host bits set; did you mean %s?", s, pfx.Masked())
		}
		return pfx, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil && strings.TrimLeft(s, "0123456789.") == "" && strings.Count(s, ".") < 3 {
		// tcpdump's shortened network numbers: 10 is 10/8, 10.1 is 10.1/16.
		parts := strings.Count(s, ".") + 1
		full := s + strings.Repeat(".0", 4-parts)
		if b, err2 := netip.ParseAddr(full); err2 == nil {
			if pfx := netip.PrefixFrom(b, parts*8); pfx.Masked() == pfx {
				return pfx, nil
			}
			return netip.Prefix{}, p.errAt(v, "network %s has host bits set", s)
		}
	}
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, p.errAt(v, "expected a network such as 10.1.0.0/16 after '%s', got %s", q.last, p.describe(v))
	}
	if m := p.peek(); m.kind == tWord && m.word == "mask" {
		p.next()
		mv := p.next()
		mask, err := netip.ParseAddr(mv.text)
		bits := maskBits(mask)
		if mv.kind != tWord || err != nil || !mask.Is4() || !a.Is4() || bits < 0 {
			return netip.Prefix{}, p.errAt(mv, "expected an IPv4 netmask such as 255.255.0.0 after 'mask', got %s", p.describe(mv))
		}
		pfx := netip.PrefixFrom(a, bits)
		if pfx.Masked() != pfx {
			return netip.Prefix{}, p.errAt(v, "network %s mask %s has host bits set", s, mv.text)
		}
		return pfx, nil
	}
	// A whole address without a length is a network of one host.
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// maskBits returns the length of a contiguous IPv4 netmask, or -1.
func maskBits(m netip.Addr) int {
	if !m.Is4() {
		return -1
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for n < 32 && v&(1<<(31-n)) != 0 {
		n++
	}
	if n < 32 && v<<n != 0 {
		return -1
	}
	return n
}

// parseMAC reads 00:11:22:33:44:55, 00-11-22-33-44-55, 0:11:2:33:4:55 (as
// tcpdump prints them), 0011.2233.4455 and 001122334455.
func parseMAC(s string) ([6]byte, bool) {
	var mac [6]byte
	hex := func(s string) (uint64, bool) {
		if s == "" {
			return 0, false
		}
		n, err := strconv.ParseUint(s, 16, 64)
		return n, err == nil && strings.TrimLeft(s, "0123456789abcdefABCDEF") == ""
	}
	var groups []string
	var width int
	switch {
	case strings.ContainsAny(s, ":-"):
		groups = strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' })
		if len(groups) != 6 || strings.Count(s, ":")+strings.Count(s, "-") != 5 {
			return mac, false
		}
		width = 1
	case strings.Contains(s, "."):
		groups = strings.Split(s, ".")
		if len(groups) != 3 {
			return mac, false
		}
		width = 2
	default:
		groups = []string{s}
		width = 6
	}
	i := 0
	for _, g := range groups {
		if len(g) > 2*width || (width > 1 && len(g) != 2*width) {
			return mac, false
		}
		n, ok := hex(g)
		if !ok {
			return mac, false
		}
		for k := width - 1; k >= 0; k-- {
			mac[i+k] = byte(n)
			n >>= 8
		}
		i += width
	}
	return mac, true
}
