// Package indicator holds lists of known-bad network indicators that users
// import — IP addresses, CIDR blocks, domain names and TLS certificate
// SHA-1 fingerprints — and matches traffic against them.
//
// Three formats are read (Load tells them apart by content):
//
//   - plain lists: one indicator per line, '#' comments, an optional
//     description after the value; hosts-file lines ("0.0.0.0 bad.example")
//     give their name;
//   - CSV exports such as abuse.ch SSLBL's certificate blacklist
//     ("Listingdate,SHA1,Listingreason") and IP blacklist
//     ("Firstseen,DstIP,DstPort"): the first field of a row that is an
//     indicator is taken, later text fields describe it;
//   - STIX 2.1 bundles of indicator objects with simple patterns:
//     [ipv4-addr:value = '…'], [ipv6-addr:value = '…'],
//     [domain-name:value = '…'], [x509-certificate:hashes.'SHA-1' = '…'],
//     joined by OR, and IN ('…', '…') lists.
//
// heir ships no list: none can be fetched where it is built, and a stale
// copy would give false confidence. Sites import the lists they trust.
//
// A Set is immutable once loaded and safe for concurrent use; matching
// allocates nothing.
package indicator

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Type is the kind of value an indicator matches.
type Type string

const (
	TypeIP     Type = "ip"        // one IPv4 or IPv6 address
	TypeCIDR   Type = "cidr"      // an address block
	TypeDomain Type = "domain"    // a DNS name and every name under it
	TypeCert   Type = "cert-sha1" // SHA-1 fingerprint of a DER certificate
)

// Indicator is one known-bad value.
type Indicator struct {
	Type Type
	// Value is the canonical text: address, prefix, lower-case name, or
	// lower-case hex fingerprint.
	Value string
	// Description says why it is listed (SSLBL's listing reason, a STIX
	// name or description, a plain list's comment); at most 200 bytes.
	Description string
	// Source is where it came from: "file:line" or "file: indicator--…".
	Source string
	// ID is the STIX id, when it came from a bundle.
	ID string
	// Labels are STIX indicator_types and labels.
	Labels []string
	// ValidUntil, if set, ends the indicator: traffic after it does not
	// match (the address may have been reassigned). ValidFrom is kept but
	// not enforced, so that indicators published after a capture can be
	// hunted for in it.
	ValidFrom, ValidUntil time.Time
}

// Limits bound what one Set may hold, so that a mistaken or hostile list
// cannot take unbounded memory.
const (
	// MaxIndicators is the most indicators a Set holds; adding more is an
	// error.
	MaxIndicators = 2_000_000
	// MaxLine is the longest line of a plain or CSV list.
	MaxLine = 4096
	// MaxDescription bounds a description.
	MaxDescription = 200
	// MaxLabels bounds the labels kept per indicator.
	MaxLabels = 8
)

// Set is a collection of indicators indexed for matching.
type Set struct {
	ips     map[netip.Addr]*Indicator
	blocks  map[netip.Prefix]*Indicator
	lens4   []int // prefix lengths present, longest first
	lens6   []int
	domains map[string]*Indicator
	certs   map[[20]byte]*Indicator
	n       int
	sources []string
}

// NewSet returns an empty set.
func NewSet() *Set {
	return &Set{
		ips:     map[netip.Addr]*Indicator{},
		blocks:  map[netip.Prefix]*Indicator{},
		domains: map[string]*Indicator{},
		certs:   map[[20]byte]*Indicator{},
	}
}

// Len returns how many indicators the set holds.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Sources lists the files the set was loaded from.
func (s *Set) Sources() []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s.sources...)
}

// Counts returns how many indicators of each type the set holds.
func (s *Set) Counts() map[Type]int {
	if s == nil {
		return nil
	}
	c := map[Type]int{TypeIP: len(s.ips), TypeCIDR: len(s.blocks), TypeDomain: len(s.domains), TypeCert: len(s.certs)}
	return c
}

// Add puts ind in the set after checking and canonicalising its value. A
// value already present keeps its first indicator.
func (s *Set) Add(ind Indicator) error {
	if s.n >= MaxIndicators {
		return fmt.Errorf("more than %d indicators", MaxIndicators)
	}
	if len(ind.Description) > MaxDescription {
		ind.Description = truncate(ind.Description, MaxDescription)
	}
	if len(ind.Labels) > MaxLabels {
		ind.Labels = ind.Labels[:MaxLabels]
	}
	switch ind.Type {
	case TypeIP:
		a, err := netip.ParseAddr(ind.Value)
		if err != nil {
			return fmt.Errorf("%q is not an IP address", ind.Value)
		}
		a = a.Unmap()
		ind.Value = a.String()
		if _, dup := s.ips[a]; dup {
			return nil
		}
		s.ips[a] = &ind
	case TypeCIDR:
		p, err := netip.ParsePrefix(ind.Value)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR block", ind.Value)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		if p.Bits() == p.Addr().BitLen() {
			ind.Type, ind.Value = TypeIP, p.Addr().String()
			return s.Add(ind)
		}
		if p.Bits() == 0 {
			return fmt.Errorf("%q would match every address", ind.Value)
		}
		ind.Value = p.String()
		if _, dup := s.blocks[p]; dup {
			return nil
		}
		s.blocks[p] = &ind
		if p.Addr().Is4() {
			s.lens4 = insertLen(s.lens4, p.Bits())
		} else {
			s.lens6 = insertLen(s.lens6, p.Bits())
		}
	case TypeDomain:
		d, ok := canonicalDomain(ind.Value)
		if !ok {
			return fmt.Errorf("%q is not a domain name", ind.Value)
		}
		ind.Value = d
		if _, dup := s.domains[d]; dup {
			return nil
		}
		s.domains[d] = &ind
	case TypeCert:
		fp, ok := parseSHA1(ind.Value)
		if !ok {
			return fmt.Errorf("%q is not a SHA-1 fingerprint (40 hex digits)", ind.Value)
		}
		ind.Value = hex.EncodeToString(fp[:])
		if _, dup := s.certs[fp]; dup {
			return nil
		}
		s.certs[fp] = &ind
	default:
		return fmt.Errorf("unknown indicator type %q", ind.Type)
	}
	s.n++
	return nil
}

// insertLen keeps a set of prefix lengths sorted longest first, so that
// the most specific block matches.
func insertLen(lens []int, n int) []int {
	for i, l := range lens {
		if l == n {
			return lens
		}
		if l < n {
			lens = append(lens, 0)
			copy(lens[i+1:], lens[i:])
			lens[i] = n
			return lens
		}
	}
	return append(lens, n)
}

func (ind *Indicator) live(t time.Time) bool {
	return ind.ValidUntil.IsZero() || t.IsZero() || t.Before(ind.ValidUntil)
}

// MatchIP returns the indicator that lists address a (the address itself,
// or the most specific block holding it) at time t, or nil.
func (s *Set) MatchIP(a netip.Addr, t time.Time) *Indicator {
	if s == nil || s.n == 0 || !a.IsValid() {
		return nil
	}
	a = a.Unmap()
	if ind := s.ips[a]; ind != nil && ind.live(t) {
		return ind
	}
	lens := s.lens6
	if a.Is4() {
		lens = s.lens4
	}
	for _, l := range lens {
		p, err := a.Prefix(l)
		if err != nil {
			continue
		}
		if ind := s.blocks[p]; ind != nil && ind.live(t) {
			return ind
		}
	}
	return nil
}

// MatchDomain returns the indicator that lists name or a domain above it
// ("a.bad.example" matches "bad.example"), or nil. Case and a final dot do
// not matter.
func (s *Set) MatchDomain(name string, t time.Time) *Indicator {
	if s == nil || len(s.domains) == 0 || name == "" || len(name) > 253+1 {
		return nil
	}
	name = strings.TrimSuffix(name, ".")
	var buf [254]byte
	lower := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	for {
		if ind := s.domains[string(lower)]; ind != nil && ind.live(t) {
			return ind
		}
		i := indexByte(lower, '.')
		if i < 0 {
			return nil
		}
		lower = lower[i+1:]
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// MatchCert returns the indicator listing the certificate whose SHA-1
// fingerprint is fp (hex, with or without colons, any case), or nil.
func (s *Set) MatchCert(fp string, t time.Time) *Indicator {
	if s == nil || len(s.certs) == 0 {
		return nil
	}
	b, ok := parseSHA1(fp)
	if !ok {
		return nil
	}
	if ind := s.certs[b]; ind != nil && ind.live(t) {
		return ind
	}
	return nil
}

// Merge returns a set with the indicators of all sets (the first listing
// of a value wins).
func Merge(sets ...*Set) (*Set, error) {
	out := NewSet()
	for _, s := range sets {
		if s == nil {
			continue
		}
		out.sources = append(out.sources, s.sources...)
		add := func(ind *Indicator) error { return out.Add(*ind) }
		for _, ind := range s.ips {
			if err := add(ind); err != nil {
				return nil, err
			}
		}
		for _, ind := range s.blocks {
			if err := add(ind); err != nil {
				return nil, err
			}
		}
		for _, ind := range s.domains {
			if err := add(ind); err != nil {
				return nil, err
			}
		}
		for _, ind := range s.certs {
			if err := add(ind); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// parseSHA1 reads 40 hex digits, optionally separated by colons (as
// OpenSSL and Wireshark print them).
func parseSHA1(s string) ([20]byte, bool) {
	var out [20]byte
	n := 0
	hi := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ':' {
			if hi >= 0 {
				return out, false
			}
			continue
		}
		v, ok := hexVal(c)
		if !ok {
			return out, false
		}
		if hi < 0 {
			hi = int(v)
			continue
		}
		if n == 20 {
			return out, false
		}
		out[n] = byte(hi)<<4 | v
		n++
		hi = -1
	}
	return out, n == 20 && hi < 0
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// canonicalDomain lower-cases a DNS name and checks its shape (RFC 1035
// lengths, letters, digits, '-' and '_'; a "*." or "." prefix is allowed
// and dropped, since every name under a listed domain matches anyway).
// It requires at least two labels and a last label that is not all digits,
// so that addresses and bare words are not taken for names.
func canonicalDomain(s string) (string, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "*"), "."), ".")
	if len(s) == 0 || len(s) > 253 {
		return "", false
	}
	s = strings.ToLower(s)
	labels := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
			continue
		}
		l := s[start:i]
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", false
		}
		labels++
		start = i + 1
	}
	if labels < 2 {
		return "", false
	}
	last := s[strings.LastIndexByte(s, '.')+1:]
	digits := true
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			digits = false
		}
	}
	if digits {
		return "", false
	}
	return s, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut at a rune boundary.
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
