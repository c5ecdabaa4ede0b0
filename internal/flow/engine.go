// Package flow turns decoded packets into bidirectional flows: it keeps the
// flow table with idle and active timeouts, reassembles each TCP direction,
// recognises the application protocol by asking the registered dissectors,
// and feeds the claimed dissector the conversation.
//
// Everything it holds is bounded: flows (the least recently seen is evicted
// when the table is full), bytes held for reassembly per direction and in
// total, out-of-order segments, and probing effort per flow. Each bound that
// bites is counted in Stats.
//
// The engine is single-threaded: one goroutine calls Packet, Advance and
// Flush. It depends on packet, proto and event only.
package flow

import (
	"net/netip"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto"
)

// Config bounds and tunes the engine. Zero fields take the defaults.
type Config struct {
	// MaxFlows is the most flows tracked at once; when full, the least
	// recently seen flow is exported early (reason "evicted") and counted.
	MaxFlows int
	// IdleTCP, IdleClosed, IdleUDP and IdleOther are the idle timeouts for
	// open TCP flows, TCP flows after FIN or RST, UDP flows and other IP
	// flows (ICMP …).
	IdleTCP, IdleClosed, IdleUDP, IdleOther time.Duration
	// Active exports long-lived flows periodically (the record says
	// "continuing"); counters restart, the dissector keeps its state.
	Active time.Duration
	// MaxHeld is the most bytes held for one direction's dissector while it
	// waits for a whole message; beyond it the bytes are dropped as a gap.
	MaxHeld int
	// MaxOutOfOrder is the most out-of-order bytes kept for one direction;
	// beyond it the hole before them is declared a gap.
	MaxOutOfOrder int
	// Budget is the most bytes held for reassembly over all flows.
	Budget int
	// ProbePackets is how many payload-carrying packets of a flow are
	// offered to the dissectors before it is declared unknown;
	// ProbeBytes the most bytes a probe may be offered.
	ProbePackets int
	ProbeBytes   int
	// Features adds per-flow packet-size and timing features to records.
	Features bool
}

// DefaultConfig is what heir uses unless told otherwise: at most 262,144
// flows and 256 MiB of reassembly data.
var DefaultConfig = Config{
	MaxFlows:      1 << 18,
	IdleTCP:       5 * time.Minute,
	IdleClosed:    10 * time.Second,
	IdleUDP:       2 * time.Minute,
	IdleOther:     time.Minute,
	Active:        30 * time.Minute,
	MaxHeld:       256 << 10,
	MaxOutOfOrder: 256 << 10,
	Budget:        256 << 20,
	ProbePackets:  8,
	ProbeBytes:    8 << 10,
}

func (c *Config) defaults() {
	d := DefaultConfig
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setD := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.MaxFlows, d.MaxFlows)
	setD(&c.IdleTCP, d.IdleTCP)
	setD(&c.IdleClosed, d.IdleClosed)
	setD(&c.IdleUDP, d.IdleUDP)
	setD(&c.IdleOther, d.IdleOther)
	setD(&c.Active, d.Active)
	set(&c.MaxHeld, d.MaxHeld)
	set(&c.MaxOutOfOrder, d.MaxOutOfOrder)
	set(&c.Budget, d.Budget)
	set(&c.ProbePackets, d.ProbePackets)
	set(&c.ProbeBytes, d.ProbeBytes)
}

// Output receives what the engine produces.
type Output interface {
	proto.Sink
	// FlowStart is called when a flow is created. c stays valid until the
	// flow's final (not continuing) record has been given to Flow; the
	// engine reuses it afterwards.
	FlowStart(c *proto.Conn, t time.Time)
	// Flow is called with a flow's record when it ends or is exported by
	// the active timeout. The record is not touched afterwards.
	Flow(rec *event.Flow)
}

// Stats count the engine's work and every bound that bit.
type Stats struct {
	Packets        uint64 `json:"packets"`
	Flows          uint64 `json:"flows"`
	Active         int    `json:"active_flows"`
	Evicted        uint64 `json:"flows_evicted"`
	Retransmitted  uint64 `json:"tcp_retransmitted"`
	OutOfOrder     uint64 `json:"tcp_out_of_order"`
	Gaps           uint64 `json:"tcp_gaps"`
	GapBytes       uint64 `json:"tcp_gap_bytes"`
	HeldOverflow   uint64 `json:"held_overflow"`
	BudgetExceeded uint64 `json:"budget_exceeded"`
	Skipped        uint64 `json:"bytes_skipped"`
	Dissected      uint64 `json:"flows_dissected"`
	Unknown        uint64 `json:"flows_unknown"`
	Expected       uint64 `json:"flows_expected"`
	ExpectDropped  uint64 `json:"expectations_dropped"`
	HeldBytes      int    `json:"held_bytes"`
}

// timeout classes; each has its own idle list ordered by last packet.
const (
	classTCP = iota
	classClosed
	classUDP
	classOther
	numClasses
)

type list struct{ head, tail *Flow }

// Engine is the flow table and dissection driver.
type Engine struct {
	cfg    Config
	out    Output
	tcp    []proto.Dissector
	udp    []proto.Dissector
	tcpBy  map[uint16][]int
	udpBy  map[uint16][]int
	table  map[Key]*Flow
	lists  [numClasses]list
	idle   [numClasses]time.Duration
	held   int
	stats  Stats
	last   time.Time
	now    time.Time
	served map[uint16]bool
	// expected holds connections sessions announced, by server endpoint.
	expected map[netip.AddrPort]expectation
	// free holds ended flows for reuse, sparing the allocator and the
	// garbage collector one large object per flow.
	free []*Flow
	// macs caches the text of recently seen MAC addresses: a LAN has few.
	macs [1024]macText
}

type macText struct {
	mac [6]byte
	s   string
}

// maxFree bounds the flows kept for reuse.
const maxFree = 4096

// macString returns the text of a MAC address, from the cache when it can.
func (e *Engine) macString(m [6]byte) string {
	h := (uint(m[3])<<16 | uint(m[4])<<8 | uint(m[5])) ^ uint(m[2])<<4
	c := &e.macs[h%uint(len(e.macs))]
	if c.s == "" || c.mac != m {
		c.mac, c.s = m, packet.MAC(m)
	}
	return c.s
}

// expectation is a connection a session announced (proto.Expecter).
type expectation struct {
	proto, parent string
	until         time.Time
}

// Expectations are bounded in number and in time: an announced FTP data
// port is used within seconds or never. When full, expired ones are
// dropped; if none has expired, the new one is dropped and counted.
const (
	maxExpectations = 4096
	expectFor       = 2 * time.Minute
)

// New returns an engine that dissects with ds and reports to out.
// At most 64 dissectors per transport are used.
func New(cfg Config, ds []proto.Dissector, out Output) *Engine {
	cfg.defaults()
	e := &Engine{
		cfg:      cfg,
		out:      out,
		tcpBy:    map[uint16][]int{},
		udpBy:    map[uint16][]int{},
		table:    make(map[Key]*Flow, 1024),
		served:   map[uint16]bool{},
		expected: map[netip.AddrPort]expectation{},
	}
	for _, d := range ds {
		switch d.Transport() {
		case proto.TCP:
			if len(e.tcp) < 64 {
				for _, p := range d.Ports() {
					e.tcpBy[p] = append(e.tcpBy[p], len(e.tcp))
					e.served[p] = true
				}
				e.tcp = append(e.tcp, d)
			}
		case proto.UDP:
			if len(e.udp) < 64 {
				for _, p := range d.Ports() {
					e.udpBy[p] = append(e.udpBy[p], len(e.udp))
					e.served[p] = true
				}
				e.udp = append(e.udp, d)
			}
		}
	}
	e.idle = [numClasses]time.Duration{cfg.IdleTCP, cfg.IdleClosed, cfg.IdleUDP, cfg.IdleOther}
	return e
}

// Stats returns the counters so far.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Active = len(e.table)
	s.HeldBytes = e.held
	return s
}

// Packet processes one decoded, non-fragment IP packet captured at ts,
// numbered frame in its capture, wireLen bytes long on the wire.
func (e *Engine) Packet(p *packet.Packet, ts time.Time, frame uint64, wireLen int) {
	e.stats.Packets++
	e.now = ts
	if ts.Sub(e.last) >= time.Second || ts.Before(e.last) {
		e.Advance(ts)
	}
	k, aToB := keyOf(p)
	side := 0
	if !aToB {
		side = 1
	}
	f := e.table[k]
	if f != nil && p.Proto == packet.ProtoTCP && p.TCPFlags&(packet.SYN|packet.ACK) == packet.SYN &&
		(f.class == classClosed || (f.synSeen && p.Seq != f.isn)) {
		// A new connection on a finished one's ports.
		e.end(f, "reused", ts)
		f = nil
	}
	if f == nil {
		f = e.create(k, p, side, ts)
	}
	m := proto.Meta{Time: ts, Frame: frame}
	f.account(p, side, ts, wireLen, e.cfg.Features)
	f.lastFrame = frame
	if ts.Sub(f.activeStart) > e.cfg.Active {
		e.export(f, "active", ts, true)
	}
	switch p.Proto {
	case packet.ProtoTCP:
		e.tcpPacket(f, p, side, m)
	case packet.ProtoUDP:
		if len(p.Payload) > 0 && f.wantsData() {
			e.datagram(f, side, p.Payload, m)
		}
	}
	e.touch(f)
}

func (e *Engine) create(k Key, p *packet.Packet, side int, ts time.Time) *Flow {
	if len(e.table) >= e.cfg.MaxFlows {
		if old := e.oldest(); old != nil {
			e.stats.Evicted++
			e.end(old, "evicted", ts)
		}
	}
	var f *Flow
	if n := len(e.free); n > 0 {
		f = e.free[n-1]
		e.free = e.free[:n-1]
	} else {
		f = new(Flow)
	}
	f.key, f.start, f.activeStart, f.last = k, ts, ts, ts
	f.conn.ID = k.id(ts)
	f.conn.VLAN = k.VLAN
	// Guess who is the client: for TCP the SYN sender, otherwise the
	// sender, unless it talks from a service port to a port that is not one.
	client := side
	switch p.Proto {
	case packet.ProtoTCP:
		f.class = classTCP
		f.conn.Transport = proto.TCP
		if p.TCPFlags&(packet.SYN|packet.ACK) == packet.SYN|packet.ACK {
			client = side ^ 1
		} else if p.TCPFlags&packet.SYN == 0 && e.isService(p.SrcPort) && !e.isService(p.DstPort) {
			client = side ^ 1
		}
	case packet.ProtoUDP:
		f.class = classUDP
		f.conn.Transport = proto.UDP
		if e.isService(p.SrcPort) && !e.isService(p.DstPort) {
			client = side ^ 1
		}
	default:
		f.class = classOther
		f.conn.Transport = proto.Transport(p.Proto)
		if p.Proto == packet.ProtoICMP || p.Proto == packet.ProtoICMPv6 {
			t := p.ICMPType
			f.icmpType = &t
			if isICMPReply(p) {
				client = side ^ 1
			}
		}
	}
	f.clientSide = client
	a := event.Endpoint{IP: k.addr(true), Port: k.APort}
	b := event.Endpoint{IP: k.addr(false), Port: k.BPort}
	if p.HasEth {
		srcMAC, dstMAC := e.macString(p.SrcMAC), e.macString(p.DstMAC)
		if side == 0 {
			a.MAC, b.MAC = srcMAC, dstMAC
		} else {
			a.MAC, b.MAC = dstMAC, srcMAC
		}
	}
	if client == 0 {
		f.conn.Client, f.conn.Server = a, b
	} else {
		f.conn.Client, f.conn.Server = b, a
	}
	if len(e.expected) > 0 && e.claim(f) {
		f.state = stateNone
	} else if (f.class == classTCP && len(e.tcp) > 0) || (f.class == classUDP && len(e.udp) > 0) {
		f.state = stateProbing
		n := len(e.tcp)
		if f.class == classUDP {
			n = len(e.udp)
		}
		if n == 64 {
			f.cand = ^uint64(0)
		} else {
			f.cand = 1<<n - 1
		}
	} else {
		f.state = stateNone
	}
	e.table[k] = f
	e.stats.Flows++
	e.push(f)
	e.out.FlowStart(&f.conn, ts)
	return f
}

// claim links a new flow to the expectation of its server endpoint (or,
// when the roles were guessed wrong, of its client's).
func (e *Engine) claim(f *Flow) bool {
	srv := netip.AddrPortFrom(f.conn.Server.IP, f.conn.Server.Port)
	x, ok := e.expected[srv]
	swap := false
	if !ok {
		srv = netip.AddrPortFrom(f.conn.Client.IP, f.conn.Client.Port)
		x, ok = e.expected[srv]
		swap = ok
	}
	if !ok {
		return false
	}
	delete(e.expected, srv)
	if e.now.After(x.until) {
		return false
	}
	if swap {
		f.clientSide ^= 1
		f.conn.Client, f.conn.Server = f.conn.Server, f.conn.Client
	}
	f.label, f.parent = x.proto, x.parent
	e.stats.Expected++
	return true
}

// expect records a connection a session announced.
func (e *Engine) expect(server netip.AddrPort, proto, parent string) {
	if len(e.expected) >= maxExpectations {
		for k, x := range e.expected {
			if e.now.After(x.until) {
				delete(e.expected, k)
			}
		}
		if len(e.expected) >= maxExpectations {
			e.stats.ExpectDropped++
			return
		}
	}
	e.expected[server] = expectation{proto: proto, parent: parent, until: e.now.Add(expectFor)}
}

// sessionSink is the Sink a session gets: observations go to the output,
// expectations to the engine, linked to the session's flow.
type sessionSink struct {
	e *Engine
	f *Flow
}

func (s *sessionSink) Observe(o *event.Observation) { s.e.out.Observe(o) }

func (s *sessionSink) Expect(server netip.AddrPort, proto string) {
	s.e.expect(server, proto, s.f.conn.ID)
}

func isICMPReply(p *packet.Packet) bool {
	if p.Proto == packet.ProtoICMP {
		return p.ICMPType == 0 || p.ICMPType == 14 || p.ICMPType == 16 || p.ICMPType == 18
	}
	return p.ICMPType == 129
}

// isService says whether port is a well-known or dissector port, used
// only to guess roles in flows whose start was not captured.
func (e *Engine) isService(port uint16) bool {
	return port < 1024 || e.served[port]
}

// Advance expires flows idle at now. Packet calls it as capture time moves;
// live sensors also call it on a wall-clock tick.
func (e *Engine) Advance(now time.Time) {
	e.last = now
	for c := 0; c < numClasses; c++ {
		for f := e.lists[c].head; f != nil && now.Sub(f.last) > e.idle[c]; f = e.lists[c].head {
			e.end(f, "idle", now)
		}
	}
}

// Flush ends every flow (reason "end"), as at the end of a capture.
func (e *Engine) Flush(now time.Time) {
	for c := 0; c < numClasses; c++ {
		for f := e.lists[c].head; f != nil; f = e.lists[c].head {
			r := "end"
			if f.class == classClosed {
				r = f.closeReason()
			}
			e.end(f, r, f.last)
		}
	}
}

func (e *Engine) oldest() *Flow {
	var o *Flow
	for c := 0; c < numClasses; c++ {
		if h := e.lists[c].head; h != nil && (o == nil || h.last.Before(o.last)) {
			o = h
		}
	}
	return o
}

// end exports f and removes it.
func (e *Engine) end(f *Flow, reason string, now time.Time) {
	if f.class == classClosed && reason == "idle" {
		reason = f.closeReason()
	}
	if f.session != nil {
		f.session.End(proto.Meta{Time: f.last, Frame: f.lastFrame})
		f.session = nil
	}
	e.release(f)
	e.export(f, reason, now, false)
	e.unlink(f)
	delete(e.table, f.key)
	if len(e.free) < maxFree {
		*f = Flow{}
		e.free = append(e.free, f)
	}
}

func (e *Engine) export(f *Flow, reason string, now time.Time, continuing bool) {
	rec := f.record(reason, e.cfg.Features)
	rec.Continuing = continuing
	e.out.Flow(rec)
	if continuing {
		f.resetCounters(now)
	}
}

func (e *Engine) push(f *Flow) {
	l := &e.lists[f.class]
	f.prev, f.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = f
	} else {
		l.head = f
	}
	l.tail = f
}

func (e *Engine) unlink(f *Flow) {
	l := &e.lists[f.class]
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nil, nil
}

// touch moves f to the back of its (possibly new) class list.
func (e *Engine) touch(f *Flow) {
	cls := f.class
	if f.class == classTCP && f.closing() {
		cls = classClosed
	}
	l := &e.lists[f.class]
	if l.tail == f && cls == f.class {
		return
	}
	e.unlink(f)
	f.class = cls
	e.push(f)
}
