package asset

import (
	"fmt"
	"hash/maphash"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/oui"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
)

// Stats count the inventory's work and every bound that bit.
type Stats struct {
	Observations uint64 `json:"observations"`
	Flows        uint64 `json:"flows"`
	ARP          uint64 `json:"arp"`
	// Hosts and MACs are the address and MAC records held now.
	Hosts int `json:"hosts"`
	MACs  int `json:"macs"`
	// Routers counts MACs found to carry other devices' traffic.
	Routers uint64 `json:"routers"`
	// Moves counts addresses that passed from one MAC to another while
	// bound by ARP or DHCP (reassignment, or ARP spoofing).
	Moves uint64 `json:"address_moves"`
	// Conflicts counts flows whose Ethernet address disagreed with a fresh
	// ARP or DHCP binding, which won.
	Conflicts         uint64 `json:"binding_conflicts"`
	Evicted           uint64 `json:"evicted"`
	ValuesDropped     uint64 `json:"values_dropped"`
	ServicesDropped   uint64 `json:"services_dropped"`
	WeaknessesDropped uint64 `json:"weaknesses_dropped"`
	GoneDropped       uint64 `json:"removals_dropped"`
	// ARPIgnored counts ARP messages whose sender MAC is zero, multicast
	// or broadcast.
	ARPIgnored uint64 `json:"arp_ignored"`
}

// Inventory is the passive device inventory. It implements sensor.Output;
// its methods are safe for concurrent use (the sensor feeds it from one
// goroutine while another reads Assets or Changes).
type Inventory struct {
	mu    sync.Mutex
	cfg   Config
	rules []rule
	seed  maphash.Seed

	hosts   map[netip.Addr]*record
	macs    map[uint64]*record
	hostLRU lru
	macLRU  lru

	sources map[[2]string]string
	latest  time.Time // the latest time seen in the input

	dirty   map[*record]struct{}
	gone    map[string]struct{} // ids of assets that may have disappeared
	emitted map[string]struct{} // ids Changes reported and not yet removed
	removed []string            // pending for Removed

	stats Stats
}

var _ sensor.Output = (*Inventory)(nil)

// New returns an empty inventory.
func New(cfg Config) (*Inventory, error) {
	cfg.defaults()
	nets := make([]netip.Prefix, len(cfg.HomeNets))
	for i, p := range cfg.HomeNets {
		if !p.IsValid() {
			return nil, fmt.Errorf("asset: home network %d is not a valid prefix", i+1)
		}
		nets[i] = p.Masked()
	}
	cfg.HomeNets = nets
	rs := cfg.Rules
	if rs == nil {
		rs = DefaultRules()
	}
	roles := DefaultRoles()
	for _, r := range rs {
		roles[r.Role] = ""
	}
	for i := range rs {
		if err := validate(&rs[i], mapKeys(roles)); err != nil {
			return nil, fmt.Errorf("asset: rule %q: %w", rs[i].ID, err)
		}
	}
	return &Inventory{
		cfg:     cfg,
		rules:   compile(rs),
		seed:    maphash.MakeSeed(),
		hosts:   make(map[netip.Addr]*record),
		macs:    make(map[uint64]*record),
		sources: make(map[[2]string]string),
		dirty:   make(map[*record]struct{}),
		gone:    make(map[string]struct{}),
		emitted: make(map[string]struct{}),
	}, nil
}

func mapKeys(m map[string]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		if idPattern.MatchString(k) {
			out[k] = true
		}
	}
	return out
}

// Stats returns the counters so far.
func (inv *Inventory) Stats() Stats {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	s := inv.stats
	s.Hosts, s.MACs = len(inv.hosts), len(inv.macs)
	return s
}

// FlowStart registers a new flow's connection and the client as alive.
func (inv *Inventory) FlowStart(c *proto.Conn, t time.Time) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	// The client either sent the flow's first packet or is answered by the
	// server in a capture that began mid-conversation: alive either way.
	ev := event.Evidence{Source: "flow", Flow: c.ID, Time: t}
	inv.see(c.Client, c.VLAN, t, t, ev)
}

// Flow takes a flow record: addresses and MACs, peers, protocols,
// services, failed connection attempts.
func (inv *Inventory) Flow(rec *event.Flow) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.stats.Flows++
	ev := event.Evidence{Source: "flow", Flow: rec.ID, Time: rec.End}
	cr := inv.see(rec.Client, rec.VLAN, rec.Start, rec.End, ev)
	answered := rec.Counts[1].Packets > 0
	var sr *record
	if answered {
		sr = inv.see(rec.Server, rec.VLAN, rec.Start, rec.End, ev)
	}
	cip, sip := norm(rec.Client.IP), norm(rec.Server.IP)
	label := rec.Proto
	if label == "" {
		label = rec.Transport
		if rec.Server.Port != 0 {
			label += "/" + strconv.Itoa(int(rec.Server.Port))
		}
	}
	ps := peerStat{protos: []string{label}, flows: 1, bytes: rec.Counts[0].Bytes + rec.Counts[1].Bytes, last: rec.End}
	if cr != nil && inv.usable(sip) {
		inv.addPeer(cr, sip)
		ps.ip = sip
		cr.notePeer(ps, inv.cfg.MaxTopPeers)
	}
	if sr != nil && inv.usable(cip) {
		inv.addPeer(sr, cip)
		ps.ip = cip
		sr.notePeer(ps, inv.cfg.MaxTopPeers)
	}
	// An end speaks the flow's protocol when it sent payload: a server
	// that only answered a probe's handshake (nmap sends DNS queries to
	// every port) does not.
	spoke := [2]bool{rec.Counts[0].PayloadBytes > 0, rec.Counts[1].PayloadBytes > 0}
	if rec.Proto != "" {
		// Dissectors state client and server facts themselves; the flow
		// states them too, more weakly, so that roles do not hang on every
		// dissector doing so.
		roles := [2]event.Attr{event.AttrClient, event.AttrServer}
		for i, r := range [2]*record{cr, sr} {
			if r == nil || !spoke[i] {
				continue
			}
			pe := ev
			pe.Attr, pe.Value, pe.Confidence = attrProtocol, rec.Proto, 1
			inv.addValue(r, attrProtocol, rec.Proto, 1, pe)
			if answered && spoke[1] {
				pe.Attr, pe.Confidence = roles[i], flowRoleConfidence
				inv.addValue(r, roles[i], rec.Proto, flowRoleConfidence, pe)
			}
		}
	}
	if sr != nil && isService(rec) {
		p := ""
		if spoke[1] {
			p = rec.Proto
		}
		inv.addService(sr, rec.Transport, rec.Server.Port, p, ev)
	}
	if cr != nil && isFailed(rec) {
		if cr.failed.add(inv.hashAddr(sip, rec.Server.Port), rec.End, inv.cfg.ScanWindow, inv.cfg.MaxTargets, ev) {
			inv.markDirty(cr)
		}
	}
}

// flowRoleConfidence is how sure a flow makes the inventory that its ends
// are client and server of its protocol: the engine's direction guess
// and the dissector's recognition both stand behind it.
const flowRoleConfidence = 0.8

func (inv *Inventory) addPeer(r *record, ip netip.Addr) {
	if r.peers.add(inv.hashAddr(ip, 0), inv.cfg.MaxPeers) {
		if !inv.isDevice(ip) {
			r.remote++
		}
		inv.markDirty(r)
	}
}

// isService says whether a flow shows its server offering a service: for
// TCP the server completed the handshake or sent data, for UDP it
// answered. Flows whose start was not captured count only when a
// dissector recognised them or the port is a well-known one, since the
// engine guessed their direction. A port that answered a SYN with RST is
// closed, not a service.
func isService(rec *event.Flow) bool {
	// A connection another one announced (an FTP data connection) uses a
	// port opened for it alone: not a service.
	if rec.Server.Port == 0 || rec.Parent != "" {
		return false
	}
	switch rec.Transport {
	case "tcp":
		synack := strings.Contains(rec.ServerTCP, "S") && strings.Contains(rec.ServerTCP, "A")
		if !synack && rec.Counts[1].PayloadBytes == 0 {
			return false
		}
		if synack || strings.Contains(rec.ClientTCP, "S") {
			return true
		}
		return rec.Proto != "" || rec.Server.Port < 1024
	case "udp":
		if rec.Counts[1].Packets == 0 {
			return false
		}
		// Without a dissector's word, a UDP "server" on a high port may be
		// one end of a peer-to-peer stream: believe it only when its port is
		// well known or below the usual ephemeral ranges and the client's
		// is within them.
		return rec.Proto != "" || rec.Server.Port < 1024 || (rec.Server.Port < 32768 && rec.Client.Port >= 32768)
	}
	return false
}

// isFailed says whether a flow is a connection attempt that was never
// answered: a TCP SYN answered by RST or nothing, an ICMP echo request
// without reply.
func isFailed(rec *event.Flow) bool {
	switch rec.Transport {
	case "tcp":
		return strings.Contains(rec.ClientTCP, "S") && !strings.Contains(rec.ServerTCP, "S")
	case "icmp", "icmpv6":
		return rec.Counts[1].Packets == 0 && rec.ICMPType != nil && (*rec.ICMPType == 8 || *rec.ICMPType == 128)
	}
	return false
}

// ARP takes an ARP message: the sender's MAC and IPv4 address are bound
// (probes from 0.0.0.0 only show the MAC), and requests are remembered for
// sweep detection.
func (inv *Inventory) ARP(a *sensor.ARP) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.stats.ARP++
	if k := oui.KindOf(a.SenderMAC); k != oui.Universal && k != oui.Local {
		inv.stats.ARPIgnored++
		return
	}
	mac := mac48(a.SenderMAC)
	sip, tip := norm(a.SenderIP), norm(a.TargetIP)
	src := "arp request"
	switch {
	case !sip.IsValid() || sip.IsUnspecified():
		src = "arp probe"
	case sip == tip:
		src = "arp announcement"
	case a.Op == 2:
		src = "arp reply"
	}
	ev := event.Evidence{Source: src, Frame: a.Frame, Time: a.Time}
	var m *record
	if sip.Is4() && inv.usable(sip) {
		m = inv.pair(sip, mac, true, ev, a.Time, a.VLAN)
	} else {
		m = inv.macRecord(mac, a.Time)
		inv.touch(m, a.Time, a.Time, a.VLAN)
	}
	if a.Op == 1 && tip.Is4() && inv.usable(tip) && tip != sip && m != nil {
		inv.noteARPTarget(m, tip, ev)
	}
}

// noteARPTarget remembers an address m asked ARP for, in tumbling
// windows like failed connections; when a window closes, how many of its
// targets no device held is what is remembered of it.
func (inv *Inventory) noteARPTarget(m *record, ip netip.Addr, ev event.Evidence) {
	w := inv.cfg.ScanWindow
	switch {
	case m.arpStart.IsZero():
		m.arpStart = ev.Time
	case ev.Time.Sub(m.arpStart) > 2*w:
		m.arpTargets, m.arpPrev, m.arpStart = m.arpTargets[:0], 0, ev.Time
	case ev.Time.Sub(m.arpStart) > w:
		m.arpPrev = inv.unanswered(m.arpTargets)
		m.arpTargets, m.arpStart = m.arpTargets[:0], ev.Time
	}
	if slices.Contains(m.arpTargets, ip) || len(m.arpTargets) >= inv.cfg.MaxTargets {
		return
	}
	m.arpTargets = append(m.arpTargets, ip)
	m.arpEv = ev
	inv.markDirty(m)
}

// unanswered counts the addresses no device holds.
func (inv *Inventory) unanswered(ips []netip.Addr) int {
	n := 0
	for _, ip := range ips {
		if h := inv.hosts[ip]; h == nil || h.mac == 0 {
			n++
		}
	}
	return n
}

// arpUnanswered is the count of unanswered ARP targets as of now.
func (inv *Inventory) arpUnanswered(m *record, now time.Time) int {
	w := inv.cfg.ScanWindow
	switch {
	case m.arpStart.IsZero() || now.Sub(m.arpStart) > 2*w:
		return 0
	case now.Sub(m.arpStart) > w:
		return inv.unanswered(m.arpTargets)
	}
	return max(inv.unanswered(m.arpTargets), m.arpPrev)
}

// Observe takes a dissector's observation: its facts and weaknesses go to
// the devices of its endpoints.
func (inv *Inventory) Observe(o *event.Observation) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.stats.Observations++
	eps := [2]event.Endpoint{o.Src, o.Dst}
	need := [2]bool{true, false} // the sender is alive; the receiver only if a fact or weakness is about it
	var stated [2]struct {
		mac  string
		ip   netip.Addr
		conf float64
	}
	for _, f := range o.Facts {
		i, ok := side(f.About)
		if !ok {
			continue
		}
		need[i] = true
		switch f.Attr {
		case attrMAC:
			stated[i].mac = strings.ToLower(strings.TrimSpace(f.Value))
			stated[i].conf = math.Max(stated[i].conf, confidence(f.Confidence))
		case attrIP:
			if ip, err := netip.ParseAddr(strings.TrimSpace(f.Value)); err == nil {
				stated[i].ip = norm(ip)
				stated[i].conf = math.Max(stated[i].conf, confidence(f.Confidence))
			}
		}
	}
	for _, w := range o.Weaknesses {
		if i, ok := side(w.About); ok {
			need[i] = true
		}
	}
	var base event.Evidence
	baseReady := false
	evidence := func() event.Evidence {
		if !baseReady {
			base = event.Evidence{Source: inv.source(o.Proto, o.Kind), Flow: o.Flow, Frame: o.Frame, Time: o.Time}
			baseReady = true
		}
		return base
	}
	vlan := o.VLAN
	var recs [2]*record
	for i := range eps {
		if !need[i] {
			continue
		}
		ep := eps[i]
		if s := stated[i]; s.mac != "" || s.ip.IsValid() {
			// A protocol stated the device's addresses (DHCP's chaddr and
			// yiaddr): they override the frame's, and bind when both are
			// given.
			if s.mac != "" {
				ep.MAC = s.mac
			}
			if s.ip.IsValid() {
				ep.IP = s.ip
			}
			if mac, ok := parseMAC(ep.MAC); ok && s.ip.IsValid() && inv.usable(s.ip) {
				ev := evidence()
				inv.pair(s.ip, mac, s.conf >= 0.9, ev, o.Time, vlan)
			}
		}
		if mac, ok := parseMAC(ep.MAC); ok {
			inv.pair(norm(ep.IP), mac, false, evidence(), o.Time, vlan)
		}
		recs[i] = inv.target(ep, o.Time, o.Time, vlan, true)
	}
	// The sender speaks the protocol; the receiver only when it answers.
	if r := recs[0]; r != nil && o.Proto != "" {
		ev := evidence()
		ev.Attr, ev.Value, ev.Confidence = attrProtocol, o.Proto, 1
		inv.addValue(r, attrProtocol, o.Proto, 1, ev)
	}
	for _, f := range o.Facts {
		i, ok := side(f.About)
		if !ok || recs[i] == nil || f.Attr == attrMAC || f.Attr == attrIP || f.Attr == attrProtocol {
			continue
		}
		r := recs[i]
		v := clean(f.Value)
		if v == "" || f.Attr == "" {
			continue
		}
		conf := confidence(f.Confidence)
		ev := evidence()
		ev.Attr, ev.Value, ev.Confidence = f.Attr, v, conf
		inv.addValue(r, f.Attr, v, conf, ev)
		switch f.Attr {
		case event.AttrServer, event.AttrSoftware:
			ep := eps[i]
			if ep.Port == 0 || !serverSide(o, i) {
				continue
			}
			si := inv.addService(r, o.Transport, ep.Port, o.Proto, evidence())
			if f.Attr == event.AttrSoftware && si >= 0 {
				s := &r.services[si]
				if conf >= s.swConf && s.software != v {
					s.software, s.swConf = v, conf
					inv.markDirty(r)
				}
			}
		}
	}
	for _, w := range o.Weaknesses {
		i, ok := side(w.About)
		if !ok || recs[i] == nil || w.Kind == "" {
			continue
		}
		aw := event.AssetWeakness{Kind: w.Kind, Proto: o.Proto, Detail: clean(w.Detail), Count: 1,
			FirstSeen: o.Time, LastSeen: o.Time, Flow: o.Flow}
		isNew, dropped := recs[i].addWeakness(aw, inv.cfg.MaxWeaknesses)
		if dropped {
			inv.stats.WeaknessesDropped++
		}
		if isNew {
			inv.markDirty(recs[i])
		}
	}
}

// source returns "<proto>/<kind>", interned: evidence repeats a few such
// names millions of times. The cache is bounded by starting afresh.
func (inv *Inventory) source(p, kind string) string {
	k := [2]string{p, kind}
	if s, ok := inv.sources[k]; ok {
		return s
	}
	if len(inv.sources) >= maxSources {
		clear(inv.sources)
	}
	s := p + "/" + kind
	inv.sources[k] = s
	return s
}

const maxSources = 4096

// serverSide says whether endpoint i (0 src, 1 dst) of o is its flow's
// server: from the observation's direction, else from a server fact.
func serverSide(o *event.Observation, i int) bool {
	switch o.Dir {
	case event.ToServer:
		return i == 1
	case event.ToClient:
		return i == 0
	}
	for _, f := range o.Facts {
		if j, ok := side(f.About); ok && j == i && f.Attr == event.AttrServer {
			return true
		}
	}
	return false
}

func side(a event.About) (int, bool) {
	switch a {
	case event.AboutSrc:
		return 0, true
	case event.AboutDst:
		return 1, true
	}
	return 0, false
}

func confidence(c float64) float64 {
	if math.IsNaN(c) || c < 0 {
		return 0
	}
	return math.Min(c, 1)
}

func (inv *Inventory) addValue(r *record, a event.Attr, v string, conf float64, ev event.Evidence) {
	changed, dropped := r.attr(a).add(v, conf, ev, inv.cfg.maxValues(a))
	if dropped {
		inv.stats.ValuesDropped++
	}
	if changed {
		inv.markDirty(r)
	}
}

// addService records a service and returns its index, or -1 when there is
// no room.
func (inv *Inventory) addService(r *record, transport string, port uint16, proto string, ev event.Evidence) int {
	changed, dropped := r.addService(transport, port, proto, ev, inv.cfg.MaxServices)
	if dropped {
		inv.stats.ServicesDropped++
		return -1
	}
	if changed {
		inv.markDirty(r)
	}
	return r.findService(transport, port)
}

// see handles an endpoint of a flow known to be alive: its frame's MAC is
// paired with its address, and its device record is returned (created
// for home addresses, and for MAC-only senders such as DHCP clients).
func (inv *Inventory) see(ep event.Endpoint, vlan uint16, first, last time.Time, ev event.Evidence) *record {
	ip := norm(ep.IP)
	if mac, ok := parseMAC(ep.MAC); ok {
		inv.pair(ip, mac, false, ev, last, vlan)
	}
	return inv.target(ep, first, last, vlan, true)
}

// target returns the record facts about ep go to: its address's record
// when the address is a device's, else its MAC's when it has no address
// (0.0.0.0, as DHCP clients); nil for peers outside the home networks.
func (inv *Inventory) target(ep event.Endpoint, first, last time.Time, vlan uint16, create bool) *record {
	ip := norm(ep.IP)
	if inv.usable(ip) {
		h := inv.hosts[ip]
		if h == nil {
			if !create || !inv.home(ip) {
				return nil
			}
			h = inv.newHost(ip, first)
		}
		inv.touch(h, first, last, vlan)
		return h
	}
	if ip.IsValid() && !ip.IsUnspecified() {
		return nil // multicast, broadcast, loopback
	}
	mac, ok := parseMAC(ep.MAC)
	if !ok {
		return nil
	}
	m := inv.macs[mac]
	if m == nil {
		if !create {
			return nil
		}
		m = inv.macRecord(mac, first)
	}
	inv.touch(m, first, last, vlan)
	return m
}

// pair records that mac was seen with ip (strong: the MAC claimed the
// address in ARP or a protocol stated it). It detects routers and binds
// the address to the MAC. It returns the MAC's record.
func (inv *Inventory) pair(ip netip.Addr, mac uint64, strong bool, ev event.Evidence, t time.Time, vlan uint16) *record {
	m := inv.macRecord(mac, t)
	inv.touch(m, t, t, vlan)
	if !inv.usable(ip) {
		return m
	}
	remote := !inv.home(ip)
	// Only a new address can make a router: the count within the window
	// otherwise only falls.
	if inv.notePairing(m, ip, t, strong, remote) && !m.router {
		if why := inv.routerReason(m, t); why != "" {
			inv.makeRouter(m, why, ev)
		}
	}
	if !strong && (m.router || (remote && inv.hosts[ip] == nil)) {
		return m
	}
	h := inv.hosts[ip]
	if h == nil {
		h = inv.newHost(ip, t)
	}
	inv.touch(h, t, t, vlan)
	inv.bind(h, m, strong, ev, t)
	return m
}

// maxPaired bounds the addresses remembered per MAC for router detection;
// the oldest is forgotten first. It is well above the router thresholds.
const maxPaired = 64

// notePairing remembers ip with m; it reports whether ip is new to m.
func (inv *Inventory) notePairing(m *record, ip netip.Addr, t time.Time, claim, remote bool) bool {
	for i := range m.paired {
		p := &m.paired[i]
		if p.ip == ip {
			if t.After(p.last) {
				p.last = t
			}
			p.claim = p.claim || claim
			return false
		}
	}
	if len(m.paired) >= maxPaired {
		o := 0
		for i := range m.paired {
			if m.paired[i].last.Before(m.paired[o].last) {
				o = i
			}
		}
		m.paired[o] = pairing{ip: ip, last: t, claim: claim, remote: remote}
		return true
	}
	m.paired = append(m.paired, pairing{ip: ip, last: t, claim: claim, remote: remote})
	return true
}

// routerReason says why m is a router, or "" when it does not look like
// one: it carries an IPv4 address outside the home networks that it did
// not claim in ARP, or more addresses within the window than a host has.
func (inv *Inventory) routerReason(m *record, t time.Time) string {
	v4, v6 := 0, 0
	for _, p := range m.paired {
		if t.Sub(p.last) > inv.cfg.RouterWindow {
			continue
		}
		if p.ip.Is4() {
			if p.remote && !p.claim {
				return "carries " + p.ip.String() + ", outside the home networks"
			}
			v4++
		} else if !p.ip.IsLinkLocalUnicast() {
			v6++
		}
	}
	switch {
	case v4 > inv.cfg.RouterIPs:
		return fmt.Sprintf("carries %d IPv4 addresses within %v", v4, inv.cfg.RouterWindow)
	case v6 > inv.cfg.RouterIPv6:
		return fmt.Sprintf("carries %d IPv6 addresses within %v", v6, inv.cfg.RouterWindow)
	}
	return ""
}

// makeRouter marks m as a router and releases the addresses merged into
// it on the evidence of flows alone: they are devices behind the router.
// Addresses it claimed in ARP stay (its own interfaces).
func (inv *Inventory) makeRouter(m *record, why string, ev event.Evidence) {
	m.router, m.routerWhy, m.routerEv = true, why, ev
	inv.stats.Routers++
	inv.markDirty(m)
	for _, ip := range slices.Clone(m.ips) {
		if h := inv.hosts[ip]; h != nil && !h.strong {
			inv.unbind(h, ev.Time)
		}
	}
}

// bind binds host record h to MAC record m. Strong evidence (ARP, DHCP)
// always wins; a flow's Ethernet address replaces a strong binding only
// when that is older than BindingTTL. When an address leaves a MAC it was
// strongly bound to, what was learnt on it goes to that MAC's device, and
// the address starts afresh with its new one.
func (inv *Inventory) bind(h, m *record, strong bool, ev event.Evidence, t time.Time) {
	if h.mac == m.mac {
		if t.After(h.boundAt) {
			h.boundAt = t
		}
		if strong && !h.strong {
			h.strong, h.bindEv = true, ev
			inv.markDirty(h)
		}
		return
	}
	if h.mac != 0 {
		if !strong && h.strong && t.Sub(h.boundAt) < inv.cfg.BindingTTL {
			inv.stats.Conflicts++
			return
		}
		old := inv.macs[h.mac]
		wasStrong := h.strong
		inv.unbind(h, t)
		if old != nil && wasStrong {
			old.fold(h, &inv.cfg)
			h.reset(t)
			inv.stats.Moves++
		}
	}
	if len(m.ips) >= inv.cfg.MaxIPs {
		o := 0
		for i, ip := range m.ips {
			if x, y := inv.hosts[ip], inv.hosts[m.ips[o]]; x != nil && y != nil && x.boundAt.Before(y.boundAt) {
				o = i
			}
		}
		if x := inv.hosts[m.ips[o]]; x != nil {
			inv.unbind(x, t)
		} else {
			m.ips = append(m.ips[:o], m.ips[o+1:]...)
		}
	}
	h.mac, h.strong, h.bindEv = m.mac, strong, ev
	h.boundSince, h.boundAt = t, t
	m.ips = append(m.ips, h.ip)
	inv.markDirty(h)
	inv.markDirty(m)
}

// unbind detaches h from its MAC, remembering the binding.
func (inv *Inventory) unbind(h *record, t time.Time) {
	if h.mac == 0 {
		return
	}
	if m := inv.macs[h.mac]; m != nil {
		for i, ip := range m.ips {
			if ip == h.ip {
				m.ips = append(m.ips[:i], m.ips[i+1:]...)
				break
			}
		}
		inv.markDirty(m)
	}
	h.history = append(h.history, pastBinding{mac: h.mac, from: h.boundSince, until: t, strong: h.strong})
	if len(h.history) > inv.cfg.MaxHistory {
		h.history = append(h.history[:0], h.history[len(h.history)-inv.cfg.MaxHistory:]...)
	}
	h.mac, h.strong = 0, false
	inv.markDirty(h)
}

// touch moves r's seen times and makes it the most recently seen.
func (inv *Inventory) touch(r *record, first, last time.Time, vlan uint16) {
	if r.first.IsZero() || (!first.IsZero() && first.Before(r.first)) {
		r.first = first
	}
	if last.After(inv.latest) {
		inv.latest = last
	}
	if last.After(r.last) {
		r.last = last
		if !r.reportedAt.IsZero() && last.Sub(r.reportedAt) >= inv.cfg.Refresh {
			inv.markDirty(r)
		}
	}
	if vlan != 0 {
		r.vlan = vlan
	}
	if r.isMAC {
		inv.macLRU.moveToBack(r)
	} else {
		inv.hostLRU.moveToBack(r)
	}
}

func (inv *Inventory) markDirty(r *record) {
	if !r.gone {
		inv.dirty[r] = struct{}{}
	}
}

func (inv *Inventory) newHost(ip netip.Addr, t time.Time) *record {
	if len(inv.hosts) >= inv.cfg.MaxDevices {
		inv.evict(inv.hostLRU.front())
	}
	h := &record{ip: ip, first: t, last: t}
	inv.hosts[ip] = h
	inv.hostLRU.pushBack(h)
	inv.markDirty(h)
	return h
}

// macRecord returns mac's record, creating it.
func (inv *Inventory) macRecord(mac uint64, t time.Time) *record {
	if m := inv.macs[mac]; m != nil {
		return m
	}
	if len(inv.macs) >= inv.cfg.MaxDevices {
		inv.evict(inv.macLRU.front())
	}
	m := &record{isMAC: true, mac: mac, first: t, last: t}
	inv.macs[mac] = m
	inv.macLRU.pushBack(m)
	inv.markDirty(m)
	return m
}

// evict drops the least recently seen record to make room.
func (inv *Inventory) evict(r *record) {
	if r == nil {
		return
	}
	inv.stats.Evicted++
	if r.lastID != "" {
		inv.noteGone(r.lastID)
	}
	if r.isMAC {
		for _, ip := range r.ips {
			if h := inv.hosts[ip]; h != nil {
				h.mac, h.strong = 0, false
				inv.markDirty(h)
			}
		}
		r.ips = nil
		delete(inv.macs, r.mac)
		inv.macLRU.remove(r)
	} else {
		inv.unbind(r, r.last)
		delete(inv.hosts, r.ip)
		inv.hostLRU.remove(r)
	}
	r.gone = true
	delete(inv.dirty, r)
}

func (inv *Inventory) noteGone(id string) {
	// Bounded for a caller that never asks for changes.
	if len(inv.gone) >= 2*inv.cfg.MaxDevices {
		inv.stats.GoneDropped++
		return
	}
	inv.gone[id] = struct{}{}
}

var bcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// usable says whether ip can be a device's address at all.
func (inv *Inventory) usable(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() && !ip.IsLoopback() && ip != bcast4
}

func (inv *Inventory) home(ip netip.Addr) bool {
	for _, p := range inv.cfg.HomeNets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// isDevice says whether ip is a device's address: a home one, or one
// bound on the monitored link.
func (inv *Inventory) isDevice(ip netip.Addr) bool {
	return inv.usable(ip) && (inv.home(ip) || inv.hosts[ip] != nil)
}

func (inv *Inventory) hashAddr(ip netip.Addr, port uint16) uint32 {
	b := ip.As16()
	var buf [18]byte
	copy(buf[:], b[:])
	buf[16], buf[17] = byte(port>>8), byte(port)
	return uint32(maphash.Bytes(inv.seed, buf[:]))
}

// norm drops zones and IPv4-in-IPv6 mapping.
func norm(ip netip.Addr) netip.Addr {
	return ip.Unmap().WithZone("")
}

func mac48(m [6]byte) uint64 {
	return uint64(m[0])<<40 | uint64(m[1])<<32 | uint64(m[2])<<24 | uint64(m[3])<<16 | uint64(m[4])<<8 | uint64(m[5])
}

func macBytes(v uint64) [6]byte {
	return [6]byte{byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

// parseMAC reads a unicast MAC; group, broadcast and zero addresses are
// not devices.
func parseMAC(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	m, err := oui.ParseMAC(s)
	if err != nil {
		return 0, false
	}
	if k := oui.KindOf(m); k != oui.Universal && k != oui.Local {
		return 0, false
	}
	return mac48(m), true
}

func macString(v uint64) string {
	const hexd = "0123456789abcdef"
	m := macBytes(v)
	var s [17]byte
	for i := 0; i < 6; i++ {
		s[i*3] = hexd[m[i]>>4]
		s[i*3+1] = hexd[m[i]&0x0f]
		if i < 5 {
			s[i*3+2] = ':'
		}
	}
	return string(s[:])
}

// lru is an intrusive list of records, least recently seen first.
type lru struct{ head, tail *record }

func (l *lru) front() *record { return l.head }

func (l *lru) pushBack(r *record) {
	r.prev, r.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = r
	} else {
		l.head = r
	}
	l.tail = r
}

func (l *lru) remove(r *record) {
	if r.prev != nil {
		r.prev.next = r.next
	} else if l.head == r {
		l.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else if l.tail == r {
		l.tail = r.prev
	}
	r.prev, r.next = nil, nil
}

func (l *lru) moveToBack(r *record) {
	if l.tail == r {
		return
	}
	l.remove(r)
	l.pushBack(r)
}
