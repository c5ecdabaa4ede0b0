// Package oui maps Ethernet MAC addresses to the organisations the IEEE
// Registration Authority assigned them to (MA-L, MA-M, MA-S and IAB
// blocks), and classifies addresses that carry no vendor at all: locally
// administered, multicast and broadcast.
//
// A registry generated from the IEEE listings is embedded (see gen.go and
// ieee_gen.go for its source and date), so heir names vendors without any
// file on the host; a newer listing can be loaded at run time with LoadDir
// or LoadCSV and stacked over it with Merge.
//
// The package depends on the standard library only.
package oui

import (
	"fmt"
	"sort"
	"strings"
)

// Kind classifies a MAC address by its first octet's two low bits and by
// the special all-zero and all-one values.
type Kind uint8

const (
	// Universal addresses are assigned by the IEEE: they have a vendor.
	Universal Kind = iota
	// Local addresses (bit 0x02 of the first octet) are set by software:
	// virtual machines, containers, network namespaces, randomised Wi-Fi
	// addresses. Their first octets name no vendor.
	Local
	// Multicast addresses (bit 0x01) name groups, never one device.
	Multicast
	// Broadcast is ff:ff:ff:ff:ff:ff.
	Broadcast
	// Zero is 00:00:00:00:00:00, which ARP uses for "unknown".
	Zero
)

func (k Kind) String() string {
	switch k {
	case Universal:
		return "universal"
	case Local:
		return "locally administered"
	case Multicast:
		return "multicast"
	case Broadcast:
		return "broadcast"
	case Zero:
		return "zero"
	}
	return "unknown"
}

// KindOf classifies mac.
func KindOf(mac [6]byte) Kind {
	switch {
	case mac == [6]byte{}:
		return Zero
	case mac == [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}:
		return Broadcast
	case mac[0]&0x01 != 0:
		return Multicast
	case mac[0]&0x02 != 0:
		return Local
	}
	return Universal
}

// ParseMAC reads a MAC address written as six hexadecimal octets separated
// by ':' or '-' ("02:4d:4c:00:00:0a"), the form the sensor emits.
func ParseMAC(s string) ([6]byte, error) {
	var mac [6]byte
	if len(s) != 17 {
		return mac, fmt.Errorf("parse MAC %q: want 17 characters", s)
	}
	for i := 0; i < 6; i++ {
		if i > 0 {
			if c := s[i*3-1]; c != ':' && c != '-' {
				return mac, fmt.Errorf("parse MAC %q: bad separator", s)
			}
		}
		hi, ok1 := unhex(s[i*3])
		lo, ok2 := unhex(s[i*3+1])
		if !ok1 || !ok2 {
			return mac, fmt.Errorf("parse MAC %q: bad hex digit", s)
		}
		mac[i] = hi<<4 | lo
	}
	return mac, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Registry is an immutable table of assignments. The zero value is empty
// and usable.
type Registry struct {
	// keys are sorted ascending; each is the assignment left-aligned in 48
	// bits, shifted left by 8, ORed with its length in bits (24, 28, 36),
	// so that one binary search finds an exact block.
	keys []uint64
	// orgs[i] indexes names for keys[i].
	orgs  []uint32
	names []string
}

// Block lengths of the IEEE registries: MA-L (and the OUI of old), MA-M,
// MA-S and IAB.
const (
	bitsMAL = 24
	bitsMAM = 28
	bitsMAS = 36
)

// Len returns the number of assignments.
func (r *Registry) Len() int {
	if r == nil {
		return 0
	}
	return len(r.keys)
}

// Lookup returns the organisation the IEEE assigned mac's block to, trying
// the longest blocks first. Locally administered, multicast, broadcast and
// zero addresses have no vendor.
func (r *Registry) Lookup(mac [6]byte) (string, bool) {
	if r == nil || KindOf(mac) != Universal {
		return "", false
	}
	v := uint64(mac[0])<<40 | uint64(mac[1])<<32 | uint64(mac[2])<<24 | uint64(mac[3])<<16 | uint64(mac[4])<<8 | uint64(mac[5])
	for _, bits := range [...]uint{bitsMAS, bitsMAM, bitsMAL} {
		k := (v>>(48-bits))<<(48-bits)<<8 | uint64(bits)
		i := sort.Search(len(r.keys), func(i int) bool { return r.keys[i] >= k })
		if i < len(r.keys) && r.keys[i] == k {
			return r.names[r.orgs[i]], true
		}
	}
	return "", false
}

// Merge returns a registry holding every assignment of newer and older;
// where both assign the same block, newer wins.
func Merge(newer, older *Registry) *Registry {
	b := newBuilder()
	// Add newer first: the builder keeps the first name given per block.
	for _, r := range []*Registry{newer, older} {
		if r == nil {
			continue
		}
		for i, k := range r.keys {
			b.addKey(k, r.names[r.orgs[i]])
		}
	}
	return b.build()
}

// builder collects assignments; names are interned.
type builder struct {
	byKey map[uint64]uint32
	index map[string]uint32
	names []string
}

func newBuilder() *builder {
	return &builder{byKey: map[uint64]uint32{}, index: map[string]uint32{}}
}

func (b *builder) addKey(k uint64, name string) {
	if _, ok := b.byKey[k]; ok {
		return
	}
	n, ok := b.index[name]
	if !ok {
		n = uint32(len(b.names))
		b.names = append(b.names, name)
		b.index[name] = n
	}
	b.byKey[k] = n
}

// build sorts names as well as keys: the result then depends only on the
// set of assignments, and sorted names compress better.
func (b *builder) build() *Registry {
	order := make([]uint32, len(b.names))
	for i := range order {
		order[i] = uint32(i)
	}
	sort.Slice(order, func(i, j int) bool { return b.names[order[i]] < b.names[order[j]] })
	remap := make([]uint32, len(b.names))
	r := &Registry{keys: make([]uint64, 0, len(b.byKey)), names: make([]string, len(b.names))}
	for to, from := range order {
		remap[from] = uint32(to)
		r.names[to] = b.names[from]
	}
	for k := range b.byKey {
		r.keys = append(r.keys, k)
	}
	sort.Slice(r.keys, func(i, j int) bool { return r.keys[i] < r.keys[j] })
	r.orgs = make([]uint32, len(r.keys))
	for i, k := range r.keys {
		r.orgs[i] = remap[b.byKey[k]]
	}
	return r
}

// maxName bounds an organisation name; the longest in the 2022 listings
// is under 100 bytes.
const maxName = 160

// cleanName collapses white space, drops control characters and bounds the
// length, so that a registry file cannot put anything odd into reports.
func cleanName(s string) string {
	var sb strings.Builder
	space := false
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == '\uFFFD' || c == ' ' || c == '\t' {
			space = sb.Len() > 0
			continue
		}
		if space {
			sb.WriteByte(' ')
			space = false
		}
		if sb.Len()+len(string(c)) > maxName {
			break
		}
		sb.WriteRune(c)
	}
	return sb.String()
}

// useless names carry no vendor: "Private" blocks hide their owner, and
// the Registration Authority's own MA-L blocks are parents of MA-M and
// MA-S assignments, so naming it would mislead when the child is unknown.
func useless(name string) bool {
	return name == "" || strings.EqualFold(name, "private") || strings.EqualFold(name, "IEEE Registration Authority")
}
