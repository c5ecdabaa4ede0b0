package asset

import (
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heir-emd/heir/internal/event"
)

// Attributes the inventory keeps for its own evidence beyond what
// dissectors state: services ("tcp/4242 dicom") and protocols spoken.
const (
	attrService  event.Attr = "service"
	attrProtocol event.Attr = "protocol"
	attrMAC                 = event.AttrMAC
	attrIP                  = event.AttrIP
)

// value is one value of an attribute with the evidence of its best
// sighting (highest confidence, latest among equals).
type value struct {
	v     string
	conf  float64
	ev    event.Evidence
	first time.Time
	n     uint64
}

// attrValues are the values of one attribute, at most Config.MaxValues.
type attrValues []value

// add records a sighting. It reports whether the rendered asset changes
// (a new value, or a higher confidence) and whether a value was dropped to
// make room.
func (a *attrValues) add(v string, conf float64, ev event.Evidence, max int) (changed, dropped bool) {
	for i := range *a {
		x := &(*a)[i]
		if x.v != v {
			continue
		}
		x.n++
		if conf > x.conf {
			x.conf, x.ev = conf, ev
			return true, false
		}
		if conf == x.conf && ev.Time.After(x.ev.Time) {
			x.ev = ev
		}
		return false, false
	}
	nv := value{v: v, conf: conf, ev: ev, first: ev.Time, n: 1}
	if len(*a) < max {
		*a = append(*a, nv)
		return true, false
	}
	// Replace the weakest value, the least recently confirmed among
	// equals, when the new one is at least as strong.
	w := 0
	for i := range *a {
		x, y := &(*a)[i], &(*a)[w]
		if x.conf < y.conf || (x.conf == y.conf && x.ev.Time.Before(y.ev.Time)) {
			w = i
		}
	}
	if (*a)[w].conf > conf {
		return false, true
	}
	(*a)[w] = nv
	return true, true
}

// best returns the value with the highest confidence, the latest among
// equals.
func (a attrValues) best() (value, bool) {
	if len(a) == 0 {
		return value{}, false
	}
	b := a[0]
	for _, x := range a[1:] {
		if x.conf > b.conf || (x.conf == b.conf && x.ev.Time.After(b.ev.Time)) {
			b = x
		}
	}
	return b, true
}

// service is a port a device answered on.
type service struct {
	transport string
	port      uint16
	proto     string
	software  string
	swConf    float64
	ev        event.Evidence
}

// record is what the inventory knows about one IP address (a host record)
// or one MAC address (a MAC record). Assets are rendered from a MAC record
// and the host records bound to it, or from a lone host record.
type record struct {
	isMAC bool
	ip    netip.Addr // host record
	mac   uint64     // MAC record: its own; host record: bound MAC, 0 for none
	vlan  uint16

	first, last time.Time

	attrs    map[event.Attr]*attrValues
	services []service
	peers    hashSet    // distinct peers
	top      []peerStat // the peers with most bytes (bounded)
	remote   int        // of which outside the home networks when first seen
	failed   targets    // TCP and ICMP targets that never answered
	weak     []event.AssetWeakness

	// host record: the binding to mac.
	strong     bool // from ARP or a DHCP statement, not from a flow's Ethernet header
	boundSince time.Time
	boundAt    time.Time // last confirmed
	bindEv     event.Evidence
	history    []pastBinding

	// MAC record.
	router     bool
	routerWhy  string
	routerEv   event.Evidence
	ips        []netip.Addr // host records bound here
	paired     []pairing    // addresses recently seen with this MAC
	arpTargets []netip.Addr // addresses this MAC asked ARP for, this window
	arpStart   time.Time
	arpPrev    int // unanswered ARP targets of the previous window
	arpEv      event.Evidence

	// change tracking and eviction.
	dirty      bool
	gone       bool
	lastID     string
	reportedAt time.Time
	prev, next *record
}

// pastBinding is a MAC an address was bound to before.
type pastBinding struct {
	mac         uint64
	from, until time.Time
	strong      bool
}

// pairing is an address seen with a MAC in a frame's header or ARP.
type pairing struct {
	ip     netip.Addr
	last   time.Time
	claim  bool // the MAC claimed it as ARP sender or a DHCP statement
	remote bool // outside the home networks
}

func (r *record) attr(a event.Attr) *attrValues {
	if r.attrs == nil {
		r.attrs = make(map[event.Attr]*attrValues, 4)
	}
	v := r.attrs[a]
	if v == nil {
		v = new(attrValues)
		r.attrs[a] = v
	}
	return v
}

// reset forgets what was learnt on the record (when its address passes to
// another device), keeping its identity and LRU position.
func (r *record) reset(t time.Time) {
	r.attrs = nil
	r.services = nil
	r.peers = nil
	r.top = nil
	r.remote = 0
	r.failed = targets{}
	r.weak = nil
	r.first, r.last = t, t
}

// fold merges what src learnt into r.
func (r *record) fold(src *record, cfg *Config) {
	for a, vs := range src.attrs {
		dst := r.attr(a)
		for _, v := range *vs {
			dst.add(v.v, v.conf, v.ev, cfg.maxValues(a))
		}
	}
	for _, s := range src.services {
		if i := r.findService(s.transport, s.port); i < 0 && len(r.services) < cfg.MaxServices {
			r.services = append(r.services, s)
		}
	}
	for _, h := range src.peers {
		r.peers.add(h, cfg.MaxPeers)
	}
	for _, p := range src.top {
		r.notePeer(p, cfg.MaxTopPeers)
	}
	r.remote += src.remote
	if src.failed.count(src.last, cfg.ScanWindow) > r.failed.count(r.last, cfg.ScanWindow) {
		r.failed = src.failed
	}
	for _, w := range src.weak {
		r.addWeakness(w, cfg.MaxWeaknesses)
	}
	if !src.first.IsZero() && (r.first.IsZero() || src.first.Before(r.first)) {
		r.first = src.first
	}
	if src.last.After(r.last) {
		r.last = src.last
	}
}

func (r *record) findService(transport string, port uint16) int {
	for i := range r.services {
		if r.services[i].port == port && r.services[i].transport == transport {
			return i
		}
	}
	return -1
}

// addService records that the record's address answered on port. It
// returns whether that is new (or newly named) and whether it was dropped
// for lack of room.
func (r *record) addService(transport string, port uint16, proto string, ev event.Evidence, max int) (changed, dropped bool) {
	if i := r.findService(transport, port); i >= 0 {
		s := &r.services[i]
		if s.proto == "" && proto != "" {
			s.proto = proto
			return true, false
		}
		return false, false
	}
	if len(r.services) >= max {
		return false, true
	}
	r.services = append(r.services, service{transport: transport, port: port, proto: proto, ev: ev})
	return true, false
}

// addWeakness counts w on the record; it returns whether w is new and
// whether it was dropped for lack of room.
func (r *record) addWeakness(w event.AssetWeakness, max int) (isNew, dropped bool) {
	for i := range r.weak {
		x := &r.weak[i]
		if x.Kind == w.Kind && x.Proto == w.Proto && x.Detail == w.Detail {
			x.Count += w.Count
			if w.FirstSeen.Before(x.FirstSeen) {
				x.FirstSeen = w.FirstSeen
			}
			if !w.LastSeen.Before(x.LastSeen) {
				x.LastSeen = w.LastSeen
				if w.Flow != "" {
					x.Flow = w.Flow
				}
			}
			return false, false
		}
	}
	if len(r.weak) >= max {
		return false, true
	}
	r.weak = append(r.weak, w)
	return true, false
}

// hashSet is a sorted set of 32-bit hashes, a compact stand-in for a set
// of addresses: at the default bounds a collision among a record's
// hundreds of peers is a one-in-ten-thousand event, and only undercounts.
type hashSet []uint32

// add inserts h unless the set holds max already; it reports whether h is
// new.
func (s *hashSet) add(h uint32, max int) bool {
	i, found := slices.BinarySearch(*s, h)
	if found || len(*s) >= max {
		return false
	}
	*s = slices.Insert(*s, i, h)
	return true
}

// maxValueLen bounds an attribute value in bytes.
const maxValueLen = 256

// clean bounds a fact value and drops control characters: dissectors
// should have done so, but the inventory's output must not depend on it.
func clean(s string) string {
	ok := len(s) <= maxValueLen && utf8.ValidString(s)
	if ok {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c == 0x7f {
				ok = false
				break
			}
		}
	}
	if ok {
		return strings.TrimSpace(s)
	}
	var sb strings.Builder
	for _, c := range s {
		if c == utf8.RuneError || unicode.IsControl(c) {
			c = ' '
		}
		if sb.Len()+utf8.RuneLen(c) > maxValueLen {
			break
		}
		sb.WriteRune(c)
	}
	return strings.Join(strings.Fields(sb.String()), " ")
}

// targets counts distinct connection targets within tumbling windows of
// Config.ScanWindow: the current window's set and the count the previous
// one ended with. A scan is remembered for one to two windows; the odd
// failed connection of months never adds up to one.
type targets struct {
	set   hashSet
	start time.Time
	prev  int
	ev    event.Evidence // the latest new target
}

// add counts target h at t; it reports whether h is new in the window.
func (s *targets) add(h uint32, t time.Time, window time.Duration, max int, ev event.Evidence) bool {
	switch {
	case s.start.IsZero():
		s.start = t
	case t.Sub(s.start) > 2*window:
		s.set, s.prev, s.start = s.set[:0], 0, t
	case t.Sub(s.start) > window:
		s.set, s.prev, s.start = s.set[:0], len(s.set), t
	}
	if s.set.add(h, max) {
		s.ev = ev
		return true
	}
	return false
}

// count is the number of targets as of now.
func (s *targets) count(now time.Time, window time.Duration) int {
	switch {
	case s.start.IsZero() || now.Sub(s.start) > 2*window:
		return 0
	case now.Sub(s.start) > window:
		return len(s.set)
	}
	return max(len(s.set), s.prev)
}

// peerStat is what a record keeps about one of its busiest peers.
type peerStat struct {
	ip     netip.Addr
	protos []string
	flows  uint64
	bytes  uint64
	last   time.Time
}

// maxPeerProtos bounds the protocols kept per peer.
const maxPeerProtos = 8

// notePeer adds traffic with a peer to the record's busiest peers. It
// tracks twice the reported number; when full, a peer not tracked yet
// replaces the one with fewest bytes if it brings more than that one.
func (r *record) notePeer(p peerStat, limit int) {
	if limit <= 0 {
		return
	}
	for i := range r.top {
		t := &r.top[i]
		if t.ip != p.ip {
			continue
		}
		t.flows += p.flows
		t.bytes += p.bytes
		if p.last.After(t.last) {
			t.last = p.last
		}
		for _, pr := range p.protos {
			if !slices.Contains(t.protos, pr) && len(t.protos) < maxPeerProtos {
				t.protos = append(t.protos, pr)
			}
		}
		return
	}
	p.protos = slices.Clone(p.protos)
	if len(r.top) < 2*limit {
		r.top = append(r.top, p)
		return
	}
	low := 0
	for i := range r.top {
		if r.top[i].bytes < r.top[low].bytes {
			low = i
		}
	}
	if p.bytes > r.top[low].bytes {
		r.top[low] = p
	}
}
