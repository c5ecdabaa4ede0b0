package detect

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto"
)

// This file holds the packet-level detectors: port scans, host sweeps and
// floods. They run on every packet or new flow, so they allocate nothing
// in steady state: fixed tables, no strings, incidents only when an alert
// opens.

// pktInfo is the packet the sensor showed last: FlowStart comes right
// after the Packet call of the packet that created the flow, and needs its
// TCP flags.
type pktInfo struct {
	valid    bool
	t        time.Time
	proto    uint8
	flags    uint8
	icmpType uint8
	icmpCode uint8
	src, dst netip.Addr
	dport    uint16
	srcMAC   [6]byte
	hasMAC   bool
}

// Probe kinds counted per source.
const (
	probeSYN = iota
	probeFIN
	probeNULL
	probeXmas
	probeUDP
	nProbeKinds
)

func probeKindName(k int) string {
	return [nProbeKinds]string{"syn", "fin", "null", "xmas", "udp"}[k]
}

// host is one address as a prober and as a flood target.
type host struct {
	addr   netip.Addr
	gen    uint32
	used   bool
	last   int64 // unix ns of the last activity
	mac    [6]byte
	hasMAC bool

	// As a source of probes. The distinct counts are kept by the pair
	// table (entries expire after the rule's window); refusals count in a
	// ring of quarter-window buckets; kinds count since the source began
	// probing (for the alert's scan type).
	winStart  int64
	failRing  [4]uint32
	failHead  int64
	failed    uint32
	kinds     [nProbeKinds]uint32
	probes    uint32 // distinct host:port
	dsts      uint32 // distinct hosts probed
	portNums  uint32 // distinct port numbers
	pinged    uint32 // distinct hosts pinged or ARPed without answer
	entries   uint32 // pair-table entries held
	scan      *incident
	sweep     *incident
	scanTypes uint8

	// As a flood target: packets per second by kind.
	sec   [3]int64
	n     [3]uint32
	flood [3]*incident
}

// hostTable maps addresses to hosts in a fixed-capacity slab.
type hostTable struct {
	idx  map[netip.Addr]int32
	h    []host
	free []int32
	cap  int
	hand int
}

func (t *hostTable) init(n int) {
	t.cap = n
	t.idx = make(map[netip.Addr]int32, min(n, 4096))
}

// find returns the host of a, or nil.
func (t *hostTable) find(a netip.Addr) (*host, int32) {
	i, ok := t.idx[a]
	if !ok {
		return nil, -1
	}
	return &t.h[i], i
}

// get returns the host of a, creating it; when the table is full the
// least recently active host without an open alert among a few is
// forgotten. It returns nil if none can be.
func (e *Engine) hostFor(a netip.Addr, now int64) (*host, int32) {
	t := &e.hosts
	if i, ok := t.idx[a]; ok {
		return &t.h[i], i
	}
	var i int32
	switch {
	case len(t.free) > 0:
		i = t.free[len(t.free)-1]
		t.free = t.free[:len(t.free)-1]
	case len(t.h) < t.cap:
		t.h = append(t.h, host{})
		i = int32(len(t.h) - 1)
	default:
		// Clock sweep over a handful of entries: good enough, bounded.
		best := int32(-1)
		for k := 0; k < 32; k++ {
			t.hand = (t.hand + 1) % len(t.h)
			h := &t.h[t.hand]
			if h.scan != nil || h.sweep != nil || h.flood[0] != nil || h.flood[1] != nil || h.flood[2] != nil {
				continue
			}
			if best < 0 || h.last < t.h[best].last {
				best = int32(t.hand)
			}
		}
		if best < 0 {
			e.stats.HostsFull++
			return nil, -1
		}
		e.stats.HostsEvicted++
		delete(t.idx, t.h[best].addr)
		i = best
	}
	h := &t.h[i]
	gen := h.gen + 1
	*h = host{addr: a, gen: gen, used: true, last: now}
	t.idx[a] = i
	return h, i
}

// --- distinct probes ---

// Pair kinds: what a pair-table entry counts.
const (
	pairProbe   uint8 = iota + 1 // source, host, port, transport
	pairDst                      // source, host
	pairPort                     // source, port
	pairPing                     // source, host pinged (ICMP echo) or ARPed without answer
	pairARPWait                  // source, host ARPed, answer awaited
)

// pair holds no pointers, so the collector never scans the table.
type pair struct {
	key  uint64 // 0: empty
	t    int64
	slot int32
	gen  uint32
	kind uint8
	// answered: an ARP request that got its reply.
	answered bool
	port     uint16
	dst      [16]byte // the address in its 16-byte form
}

func (p *pair) addr() netip.Addr { return netip.AddrFrom16(p.dst).Unmap() }

// pairTable is an open-addressing hash set of distinct probes with the
// time each was last seen. Expired entries leave it once a second, when
// it is rebuilt (which keeps probing chains short without tombstones).
type pairTable struct {
	e     []pair
	spare []pair
	mask  uint64
	n     int
	max   int
	// oldest is the earliest entry time (a lower bound): the rebuild is
	// skipped while nothing can have expired.
	oldest int64
	// waits queues the ARP requests awaiting their answer, oldest first.
	waits []waitItem
	wHead int
	wLen  int
}

type waitItem struct {
	key uint64
	t   int64
}

// maxWaits bounds the ARP requests awaiting an answer; when full, the
// oldest is dropped (not counted).
const maxWaits = 8192

// minPairs is the table's starting size; it doubles as it fills, up to
// what max entries need, so that a quiet network costs little to sweep.
const minPairs = 4096

func (t *pairTable) init(n int) {
	t.max = n
	t.alloc(minPairs)
	t.waits = make([]waitItem, maxWaits)
}

// pushWait queues an ARP request's entry; it returns the key of one that
// fell off a full queue (0 if none).
func (t *pairTable) pushWait(k uint64, now int64) uint64 {
	var dropped uint64
	if t.wLen == len(t.waits) {
		dropped = t.waits[t.wHead].key
		t.wHead = (t.wHead + 1) % len(t.waits)
		t.wLen--
	}
	t.waits[(t.wHead+t.wLen)%len(t.waits)] = waitItem{k, now}
	t.wLen++
	return dropped
}

// findIdx returns the slot of key k, or -1.
func (t *pairTable) findIdx(k uint64) int {
	for i := k & t.mask; ; i = (i + 1) & t.mask {
		if t.e[i].key == k {
			return int(i)
		}
		if t.e[i].key == 0 {
			return -1
		}
	}
}

// remove deletes slot i, shifting later entries of its probe chain back
// (linear probing without tombstones).
func (t *pairTable) remove(i uint64) {
	t.n--
	for {
		t.e[i] = pair{}
		j := i
		for {
			j = (j + 1) & t.mask
			if t.e[j].key == 0 {
				return
			}
			home := t.e[j].key & t.mask
			// Entry j stays if its home lies cyclically in (i, j].
			if (i <= j && i < home && home <= j) || (i > j && (i < home || home <= j)) {
				continue
			}
			t.e[i] = t.e[j]
			i = j
			break
		}
	}
}

func (t *pairTable) alloc(size int) {
	t.e = make([]pair, size)
	t.spare = nil
	t.mask = uint64(size - 1)
}

// grow doubles the table when it is three quarters full and may still
// grow.
func (t *pairTable) grow() {
	if t.n*4 < len(t.e)*3 || len(t.e)*3 >= t.max*4 {
		return
	}
	old := t.e
	t.alloc(len(old) * 2)
	for i := range old {
		if old[i].key == 0 {
			continue
		}
		for j := old[i].key & t.mask; ; j = (j + 1) & t.mask {
			if t.e[j].key == 0 {
				t.e[j] = old[i]
				break
			}
		}
	}
}

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// pairKey hashes an entry's identity; port carries the transport above
// bit 16 for probes, so that tcp/53 and udp/53 are two probes.
func pairKey(kind uint8, slot int32, gen uint32, dst netip.Addr, port uint32) uint64 {
	b := dst.As16()
	hi := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	lo := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 | uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	k := mix(hi ^ mix(lo^uint64(kind)<<56^uint64(port)<<24^uint64(uint32(slot))) ^ uint64(gen)<<7)
	if k == 0 {
		k = 1
	}
	return k
}

// find returns the entry with key k, or nil.
func (t *pairTable) find(k uint64) *pair {
	for i := k & t.mask; ; i = (i + 1) & t.mask {
		p := &t.e[i]
		if p.key == k {
			return p
		}
		if p.key == 0 {
			return nil
		}
	}
}

// touch inserts or refreshes an entry; it returns whether it is new, and
// false with full set when the table has no room.
func (t *pairTable) touch(k uint64, slot int32, gen uint32, kind uint8, dst netip.Addr, port uint16, now int64) (isNew, full bool) {
	for i := k & t.mask; ; i = (i + 1) & t.mask {
		p := &t.e[i]
		if p.key == k {
			p.t = now
			return false, false
		}
		if p.key == 0 {
			if t.n >= t.max || t.n*4 >= len(t.e)*3 && len(t.e)*3 >= t.max*4 {
				return false, true
			}
			*p = pair{key: k, t: now, slot: slot, gen: gen, kind: kind, dst: dst.As16(), port: port}
			if t.n == 0 || now < t.oldest {
				t.oldest = now
			}
			t.n++
			t.grow()
			return true, false
		}
	}
}

// findIn looks key up in a table of the same size.
func findIn(e []pair, mask, k uint64) *pair {
	for i := k & mask; ; i = (i + 1) & mask {
		p := &e[i]
		if p.key == k {
			return p
		}
		if p.key == 0 {
			return nil
		}
	}
}

// --- port scans ---

// probe counts a new flow as a probe of its server by its client.
func (e *Engine) probe(c *proto.Conn, t time.Time) {
	r := e.cur.portScan
	pk := &e.pkt
	if r == nil || !pk.valid || pk.src != c.Client.IP {
		// Flows the engine saw from their answer first are not probes.
		return
	}
	kind := -1
	switch c.Transport {
	case proto.TCP:
		switch pk.flags & (packet.SYN | packet.ACK | packet.RST | packet.FIN | packet.PSH | packet.URG) {
		case packet.SYN:
			kind = probeSYN
		case packet.FIN:
			kind = probeFIN
		case 0:
			kind = probeNULL
		case packet.FIN | packet.PSH | packet.URG:
			kind = probeXmas
		default:
			if pk.flags&(packet.SYN|packet.ACK) == packet.SYN {
				kind = probeSYN
			}
		}
	case proto.UDP:
		if d := c.Server.IP; d.IsMulticast() || isBroadcast(d) {
			return
		}
		kind = probeUDP
	}
	if kind < 0 || ignored(r, c.Client.IP) {
		return
	}
	now := t.UnixNano()
	h, slot := e.hostFor(c.Client.IP, now)
	if h == nil {
		return
	}
	if h.scan == nil && now-h.last > int64(r.window) {
		// A new burst: what came before it is not part of it.
		h.winStart = now
		h.kinds = [nProbeKinds]uint32{}
		h.scanTypes = 0
	}
	h.last = now
	if pk.hasMAC {
		h.mac, h.hasMAC = pk.srcMAC, true
	}
	h.kinds[kind]++
	h.scanTypes |= 1 << kind
	dst, port := c.Server.IP, c.Server.Port
	isNew := false
	if int(h.entries)+3 <= e.lim.MaxProbesPerSource {
		tp := uint32(0)
		if kind == probeUDP {
			tp = 1 << 16
		}
		if e.addPair(pairProbe, h, slot, dst, uint32(port)|tp, now) {
			h.probes++
			isNew = true
		}
		if e.addPair(pairDst, h, slot, dst, 0, now) {
			h.dsts++
		}
		if e.addPair(pairPort, h, slot, netip.Addr{}, uint32(port), now) {
			h.portNums++
		}
	}
	if h.scan != nil {
		// Only new host:port pairs continue a scan: the scanner's later
		// connections to a service it found are other incidents.
		if !isNew {
			return
		}
		inc := h.scan
		inc.hit(t)
		inc.addTarget(event.Endpoint{IP: dst})
		if inc.nEv < maxEvidence {
			inc.addEvidence(event.Reference{Flow: c.ID, Time: t, What: "flow-start"})
		}
		if !inc.sampleFull("ports") {
			inc.addSample("ports", strconv.Itoa(int(port)))
		}
		e.scanCounts(h, inc)
		return
	}
	e.scanCheck(r, h, slot, c.Client, dst, c.ID, t)
}

// addPair adds a distinct-probe entry for h; it returns whether it is new.
func (e *Engine) addPair(kind uint8, h *host, slot int32, dst netip.Addr, port uint32, now int64) bool {
	k := pairKey(kind, slot, h.gen, dst, port)
	isNew, full := e.pairs.touch(k, slot, h.gen, kind, dst, uint16(port), now)
	if full {
		e.stats.PairsFull++
	}
	if isNew {
		h.entries++
		if kind == pairARPWait {
			if old := e.pairs.pushWait(k, now); old != 0 {
				if i := e.pairs.findIdx(old); i >= 0 {
					p := e.pairs.e[i]
					e.pairs.remove(uint64(i))
					if hh := &e.hosts.h[p.slot]; hh.used && hh.gen == p.gen && hh.entries > 0 {
						hh.entries--
					}
				}
			}
		}
	}
	return isNew
}

// scanCheck opens a port-scan alert when a source's counts reach the rule.
func (e *Engine) scanCheck(r *rule, h *host, slot int32, src event.Endpoint, dst netip.Addr, flow string, t time.Time) {
	ps := r.params
	if !((int(h.probes) >= ps.int("min_ports") && int(h.failed) >= ps.int("min_failed")) ||
		int(h.probes) >= ps.int("min_probes_any")) {
		return
	}
	if src.MAC == "" && h.hasMAC {
		src.MAC = macText(h.mac)
	}
	inc := newIncident(r, h.addr.String(), t, event.Endpoint{IP: src.IP, MAC: src.MAC})
	inc.count = uint64(h.probes)
	inc.addTarget(event.Endpoint{IP: dst})
	// The hosts probed so far, from the pair table (once, at opening).
	first := t.UnixNano()
	for i := range e.pairs.e {
		p := &e.pairs.e[i]
		if p.key == 0 || p.slot != slot || p.gen != h.gen {
			continue
		}
		switch p.kind {
		case pairDst:
			if inc.nTargets < maxTargets {
				inc.addTarget(event.Endpoint{IP: p.addr()})
			}
		case pairPort:
			if !inc.sampleFull("ports") {
				inc.addSample("ports", strconv.Itoa(int(p.port)))
			}
		case pairProbe:
			first = min(first, p.t)
		}
	}
	inc.start = time.Unix(0, first).UTC()
	if flow != "" {
		inc.addEvidence(event.Reference{Flow: flow, Time: t, What: "flow-start"})
	}
	e.scanCounts(h, inc)
	gen := h.gen
	inc.onFinal = func(*incident) {
		if hh, _ := e.hosts.find(inc.source.IP); hh != nil && hh.gen == gen && hh.scan == inc {
			hh.scan = nil
		}
	}
	if e.openIncident(inc) {
		h.scan = inc
	}
}

// scanCounts copies a scanner's counters into its alert.
func (e *Engine) scanCounts(h *host, inc *incident) {
	inc.targetCount = int(h.dsts)
	inc.setCount("probes", uint64(h.probes))
	inc.setCount("hosts", uint64(h.dsts))
	inc.setCount("ports", uint64(h.portNums))
	inc.setCount("failed", uint64(h.failed))
	for k := 0; k < nProbeKinds; k++ {
		if h.kinds[k] > 0 {
			inc.setCount(probeKindName(k), uint64(h.kinds[k]))
		}
	}
	st := "tcp-syn"
	switch {
	case h.scanTypes&(1<<probeUDP) != 0 && h.scanTypes&^(1<<probeUDP) == 0:
		st = "udp"
	case h.kinds[probeXmas] > h.kinds[probeSYN]:
		st = "tcp-xmas"
	case h.kinds[probeFIN] > h.kinds[probeSYN]:
		st = "tcp-fin"
	case h.kinds[probeNULL] > h.kinds[probeSYN]:
		st = "tcp-null"
	}
	for i := 0; i < inc.nSamples; i++ {
		if inc.samples[i].name == "scan_type" && inc.samples[i].n == 1 && inc.samples[i].vals[0] == st {
			return
		}
	}
	inc.setSample("scan_type", st)
}

func ignored(r *rule, a netip.Addr) bool {
	for _, p := range r.params.cidrs("ignore_sources") {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func isBroadcast(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return b[3] == 255 || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// --- packets: refused probes, pings, floods ---

func (e *Engine) packet(p *packet.Packet, ts time.Time) {
	now := ts.UnixNano()
	switch p.Proto {
	case packet.ProtoTCP:
		if p.TCPFlags&packet.RST != 0 {
			e.refused(p.Dst, p.Src, ts)
		}
		if p.TCPFlags&(packet.SYN|packet.ACK) == packet.SYN {
			e.floodPacket(floodSYN, p, ts, now)
		}
	case packet.ProtoUDP:
		e.floodPacket(floodUDP, p, ts, now)
	case packet.ProtoICMP, packet.ProtoICMPv6:
		echo := (p.Proto == packet.ProtoICMP && p.ICMPType == 8) || (p.Proto == packet.ProtoICMPv6 && p.ICMPType == 128)
		if echo {
			e.ping(p.Src, p.Dst, ts, now)
			e.floodPacket(floodICMP, p, ts, now)
		}
		unreach := (p.Proto == packet.ProtoICMP && p.ICMPType == 3) || (p.Proto == packet.ProtoICMPv6 && p.ICMPType == 1)
		if unreach {
			e.refused(p.Dst, p.Src, ts)
		}
	}
}

// refused counts a refusal (TCP RST, ICMP unreachable) sent to a prober.
func (e *Engine) refused(prober, by netip.Addr, ts time.Time) {
	r := e.cur.portScan
	if r == nil {
		return
	}
	h, slot := e.hosts.find(prober)
	if h == nil || h.probes == 0 {
		return
	}
	h.addFailed(ts.UnixNano(), r.window)
	if h.scan != nil {
		h.scan.setCount("failed", uint64(h.failed))
		return
	}
	e.scanCheck(r, h, slot, event.Endpoint{IP: prober}, by, "", ts)
}

// ping counts an ICMP echo request towards a host sweep.
func (e *Engine) ping(src, dst netip.Addr, ts time.Time, now int64) {
	r := e.cur.hostSweep
	if r == nil || dst.IsMulticast() || isBroadcast(dst) || ignored(r, src) {
		return
	}
	h, slot := e.hostFor(src, now)
	if h == nil {
		return
	}
	h.last = now
	if e.pkt.hasMAC && e.pkt.src == src {
		h.mac, h.hasMAC = e.pkt.srcMAC, true
	}
	if int(h.entries) < e.lim.MaxProbesPerSource && e.addPair(pairPing, h, slot, dst, 0, now) {
		h.pinged++
	}
	e.sweepCheck(r, h, slot, dst, ts)
}

// sweepCheck opens or updates a host-sweep alert.
func (e *Engine) sweepCheck(r *rule, h *host, slot int32, dst netip.Addr, ts time.Time) {
	if inc := h.sweep; inc != nil {
		inc.hit(ts)
		inc.addTarget(event.Endpoint{IP: dst})
		inc.targetCount = int(h.pinged)
		inc.setCount("hosts", uint64(h.pinged))
		return
	}
	if int(h.pinged) < r.params.int("min_hosts") {
		return
	}
	inc := newIncident(r, h.addr.String(), ts, event.Endpoint{IP: h.addr})
	if h.hasMAC {
		inc.source.MAC = macText(h.mac)
	}
	inc.count = uint64(h.pinged)
	var first int64
	for i := range e.pairs.e {
		p := &e.pairs.e[i]
		if p.key != 0 && p.kind == pairPing && p.slot == slot && p.gen == h.gen {
			if inc.nTargets < maxTargets {
				inc.addTarget(event.Endpoint{IP: p.addr()})
			}
			if first == 0 || p.t < first {
				first = p.t
			}
		}
	}
	if first != 0 {
		inc.start = time.Unix(0, first).UTC()
	}
	inc.targetCount = int(h.pinged)
	inc.setCount("hosts", uint64(h.pinged))
	gen := h.gen
	inc.onFinal = func(*incident) {
		if hh, _ := e.hosts.find(inc.source.IP); hh != nil && hh.gen == gen && hh.sweep == inc {
			hh.sweep = nil
		}
	}
	if e.openIncident(inc) {
		h.sweep = inc
	}
}

// floodPacket counts a packet towards a flood of its destination.
func (e *Engine) floodPacket(kind int, p *packet.Packet, ts time.Time, now int64) {
	r := e.cur.flood[kind]
	if r == nil {
		return
	}
	h, _ := e.hostFor(p.Dst, now)
	if h == nil {
		return
	}
	sec := now / int64(time.Second)
	if h.sec[kind] != sec {
		h.sec[kind] = sec
		h.n[kind] = 0
	}
	h.n[kind]++
	if inc := h.flood[kind]; inc != nil {
		inc.hit(ts)
		if uint64(h.n[kind]) > inc.getCount("peak_pps") {
			inc.setCount("peak_pps", uint64(h.n[kind]))
		}
		return
	}
	if int(h.n[kind]) < r.params.int("rate") || ignored(r, p.Src) {
		return
	}
	inc := newIncident(r, h.addr.String(), ts, event.Endpoint{IP: p.Src})
	inc.count = uint64(h.n[kind])
	inc.start = time.Unix(sec, 0).UTC()
	inc.addTarget(event.Endpoint{IP: p.Dst, Port: p.DstPort})
	inc.setCount("peak_pps", uint64(h.n[kind]))
	inc.addSample("packet_type", [...]string{"tcp-syn", "udp", "icmp-echo"}[kind])
	gen := h.gen
	addr := h.addr
	inc.onFinal = func(*incident) {
		if hh, _ := e.hosts.find(addr); hh != nil && hh.gen == gen && hh.flood[kind] == inc {
			hh.flood[kind] = nil
		}
	}
	if e.openIncident(inc) {
		h.flood[kind] = inc
	}
}

// sweepProbes counts the ARP requests that went unanswered, and expires
// probes older than their rule's window (rebuilding the table, which keeps
// probe chains short, only when something can have expired).
func (e *Engine) sweepProbes(now time.Time) {
	t := &e.pairs
	if t.n == 0 {
		return
	}
	var scanWin, sweepWin, arpWait int64 = int64(time.Minute), int64(time.Minute), int64(time.Second)
	if r := e.cur.portScan; r != nil {
		scanWin = int64(r.window)
	}
	sr := e.cur.hostSweep
	if sr != nil {
		sweepWin = int64(sr.window)
		arpWait = int64(sr.params.dur("arp_wait"))
	}
	ns := now.UnixNano()
	e.expireWaits(sr, ns, arpWait, now)
	if ns-t.oldest <= min(scanWin, sweepWin) {
		return
	}
	if len(t.spare) != len(t.e) {
		t.spare = make([]pair, len(t.e))
	}
	clear(t.spare)
	old := t.e
	t.e, t.spare = t.spare, old
	t.n = 0
	t.oldest = ns
	for i := range old {
		p := old[i]
		if p.key == 0 {
			continue
		}
		win := scanWin
		if p.kind == pairPing || p.kind == pairARPWait {
			win = sweepWin
		}
		h := &e.hosts.h[p.slot] // the slab never shrinks
		live := h.used && h.gen == p.gen
		if ns-p.t > win || !live {
			if live {
				h.entries--
				switch p.kind {
				case pairProbe:
					h.probes--
				case pairDst:
					h.dsts--
				case pairPort:
					h.portNums--
				case pairPing:
					h.pinged--
				}
			}
			continue
		}
		for j := p.key & t.mask; ; j = (j + 1) & t.mask {
			if t.e[j].key == 0 {
				t.e[j] = p
				t.n++
				t.oldest = min(t.oldest, p.t)
				break
			}
		}
	}
}

// expireWaits takes the ARP requests whose answer is overdue off the
// queue: answered ones are forgotten, unanswered ones count as probes of
// an address nobody holds.
func (e *Engine) expireWaits(sr *rule, ns, arpWait int64, now time.Time) {
	t := &e.pairs
	for t.wLen > 0 {
		w := t.waits[t.wHead]
		if ns-w.t < arpWait {
			return
		}
		t.wHead = (t.wHead + 1) % len(t.waits)
		t.wLen--
		idx := t.findIdx(w.key)
		if idx < 0 {
			continue
		}
		p := t.e[idx]
		if p.kind != pairARPWait {
			continue
		}
		if ns-p.t < arpWait && !p.answered {
			// Asked again since: wait for the new request's answer.
			t.pushWait(p.key, p.t)
			continue
		}
		t.remove(uint64(idx))
		h := &e.hosts.h[p.slot]
		if !h.used || h.gen != p.gen {
			continue
		}
		h.entries--
		if p.answered || sr == nil {
			continue
		}
		if e.addPair(pairPing, h, p.slot, p.addr(), 0, p.t) {
			h.pinged++
			e.sweepCheck(sr, h, p.slot, p.addr(), now)
		}
	}
}

// sampleFull says whether a sample already holds its maximum of values.
func (in *incident) sampleFull(name string) bool {
	for i := 0; i < in.nSamples; i++ {
		if in.samples[i].name == name {
			return in.samples[i].n == maxSampleVals
		}
	}
	return in.nSamples == maxSamples
}

// addFailed counts a refusal in the ring and updates the sliding total.
func (h *host) addFailed(now int64, window time.Duration) {
	w := int64(window) / int64(len(h.failRing))
	if w <= 0 {
		w = 1
	}
	idx := now / w
	if idx > h.failHead {
		steps := min(idx-h.failHead, int64(len(h.failRing)))
		for i := int64(1); i <= steps; i++ {
			h.failRing[(h.failHead+i)%int64(len(h.failRing))] = 0
		}
		h.failHead = idx
	}
	h.failRing[h.failHead%int64(len(h.failRing))]++
	var n uint32
	for _, x := range h.failRing {
		n += x
	}
	h.failed = n
}
