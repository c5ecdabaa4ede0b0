package baseline

import (
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/heir-emd/heir/internal/detect"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/incidents"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/taxonomy"
)

// Stats count the baseline's work and every bound that bit.
type Stats struct {
	FlowStarts   uint64 `json:"flow_starts"`
	Flows        uint64 `json:"flows"`
	Observations uint64 `json:"observations"`

	Devices  int `json:"devices"`
	Learning int `json:"learning"`
	Hubs     int `json:"hubs"`

	DevicesCreated uint64 `json:"devices_created"`
	// DevicesEvicted were forgotten to make room (least recently seen);
	// DevicesFull were not followed because every device had an open alert.
	DevicesEvicted uint64 `json:"devices_evicted"`
	DevicesFull    uint64 `json:"devices_full"`
	// NewDevicesUnalerted appeared while maxNewDeviceAlerts new-device
	// alerts were open.
	NewDevicesUnalerted uint64 `json:"new_devices_unalerted"`
	// Values forgotten to make room, per set.
	PeersEvicted    uint64 `json:"peers_evicted"`
	ServicesEvicted uint64 `json:"services_evicted"`
	KindsEvicted    uint64 `json:"kinds_evicted"`
	MACsEvicted     uint64 `json:"macs_evicted"`
	// NewValues were alerted; Confirmed became normal; Forgotten were
	// provisional and not seen again within ForgetAfter.
	NewValues uint64 `json:"new_values"`
	Confirmed uint64 `json:"confirmed"`
	Forgotten uint64 `json:"forgotten"`
	// NumericAnomalies are values beyond the threshold; Shifts numeric
	// features that relearnt after a lasting change.
	NumericAnomalies uint64 `json:"numeric_anomalies"`
	Shifts           uint64 `json:"shifts"`
	Relearned        uint64 `json:"relearned"`

	AlertsOpened  uint64            `json:"alerts_opened"`
	AlertUpdates  uint64            `json:"alert_updates"`
	AlertsFinal   uint64            `json:"alerts_final"`
	IncidentsFull uint64            `json:"incidents_full"`
	ByRule        map[string]uint64 `json:"by_rule,omitempty"`
}

// Baseline learns how each device behaves and reports deviations as
// alerts. It is a sensor.Output and, like the sensor and the detection
// engine, single-threaded: call every method from the goroutine that
// runs the sensor (or under the same lock). It runs on capture time,
// never the wall clock; Tick advances that clock when no packet does.
type Baseline struct {
	cfg Config
	p   params
	log *slog.Logger
	cat *taxonomy.Catalogue

	devices map[netip.Addr]*device
	lists   [2]dlist
	// newDevicesOpen counts the new-device alerts open.
	newDevicesOpen int
	// epoch is the capture time of the first event the baseline ever saw
	// (kept across Save and Load): the network's learning period starts
	// there.
	epoch int64

	now, nextSweep time.Time
	open           incidents.Table[*incident]
	byRule         [numKinds]uint64
	stats          Stats
}

var _ sensor.Output = (*Baseline)(nil)

// New returns a baseline reporting to sink.
func New(cfg Config, sink detect.Sink) (*Baseline, error) {
	if sink == nil {
		return nil, errors.New("baseline: nil sink")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cat := cfg.Catalogue
	if cat == nil {
		cat = taxonomy.New()
	}
	b := &Baseline{cfg: cfg, log: log, cat: cat, devices: map[netip.Addr]*device{}}
	b.open = incidents.Table[*incident]{Sink: sink, Alert: b.alert, Closed: b.closed,
		Timing: func(in *incident) (time.Time, time.Duration, time.Duration) { return in.end, b.cfg.Quiet, b.cfg.Update }}
	b.p = params{threshold: cfg.Threshold, minScale: cfg.MinScale, rate: cfg.AdaptRate, clip: cfg.Clip,
		minSamples: cfg.MinSamples, shiftAfter: int64(cfg.ShiftAfter)}
	return b, nil
}

// Stats returns the counters so far.
func (b *Baseline) Stats() Stats {
	s := b.stats
	o := b.open.Stats()
	s.AlertsOpened, s.AlertUpdates, s.AlertsFinal = o.Opened, o.Updates, o.Final
	s.Devices = len(b.devices)
	for _, d := range b.devices {
		if d.learning {
			s.Learning++
		}
		if d.hub {
			s.Hubs++
		}
	}
	s.ByRule = map[string]uint64{}
	for k, n := range b.byRule {
		if n > 0 {
			s.ByRule[ruleIDs[k]] = n
		}
	}
	return s
}

// --- clock ---

// advance moves capture time forward and runs the periodic work once per
// second of it.
func (b *Baseline) advance(t time.Time) {
	if t.After(b.now) {
		b.now = t
	}
	if !b.now.Before(b.nextSweep) {
		if !b.nextSweep.IsZero() {
			b.sweep()
		}
		b.nextSweep = b.now.Truncate(time.Second).Add(time.Second)
	}
}

// start notes the capture time of the first flow or message: the
// network's learning period starts there (ARP alone does not start it).
func (b *Baseline) start(t time.Time) {
	if b.epoch == 0 && !t.IsZero() {
		b.epoch = ns(t)
	}
}

// Tick advances the clock to now when no event does (a quiet live
// network), so that alerts are updated and closed on time.
func (b *Baseline) Tick(now time.Time) {
	if now.After(b.now) {
		b.now = now
	}
	if !b.now.Before(b.nextSweep) {
		b.sweep()
		b.nextSweep = b.now.Truncate(time.Second).Add(time.Second)
	}
}

// Flush ends every open alert, as at the end of a capture. What was
// learnt stays.
func (b *Baseline) Flush() {
	b.open.Flush(b.now)
}

// sweep emits due updates and closes quiet alerts.
func (b *Baseline) sweep() {
	b.open.Sweep(b.now)
}

// --- devices ---

func (b *Baseline) home(a netip.Addr) bool {
	if !a.IsValid() || a.IsMulticast() || a.IsUnspecified() || a.IsLoopback() {
		return false
	}
	a = a.Unmap()
	if a.Is4() && a.As4() == [4]byte{255, 255, 255, 255} {
		return false
	}
	for _, p := range b.cfg.HomeNets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// lookup returns the device of an address, touching it; if create is set
// (the address has shown it is alive) and it is a home address, a new
// device is made. created says it was.
func (b *Baseline) lookup(a netip.Addr, t time.Time, create bool) (d *device, created bool) {
	a = a.Unmap()
	if d = b.devices[a]; d != nil {
		b.touch(d, t)
		return d, false
	}
	if !create || !b.home(a) {
		return nil, false
	}
	if len(b.devices) >= b.cfg.Limits.MaxDevices && !b.evictDevice() {
		b.stats.DevicesFull++
		return nil, false
	}
	tn := ns(t)
	d = &device{addr: a, first: tn, last: tn, learning: true}
	late := tn >= b.epoch+int64(b.cfg.LearnFor)
	if late {
		d.learnFrom = tn
	} else {
		d.learnFrom = b.epoch
	}
	d.learnUntil = d.learnFrom + int64(b.cfg.LearnFor)
	d.win = tn / int64(b.cfg.Window)
	d.setLimits(&b.p)
	b.devices[a] = d
	b.lists[listLearning].pushFront(d)
	b.stats.DevicesCreated++
	if late && !b.cfg.NoNewDeviceAlerts {
		if b.newDevicesOpen >= maxNewDeviceAlerts {
			// A burst of new addresses (a spoofing flood, a new subnet):
			// counted, not an alert each.
			b.stats.NewDevicesUnalerted++
		} else if in := b.incidentFor(d, kNewDevice, t); in != nil {
			in.note = "first seen " + t.UTC().Format(time.RFC3339) + ", after the network's learning period"
			b.hitOpen(in, t)
		}
	}
	return d, true
}

// maxNewDeviceAlerts bounds the new-device alerts open at once.
const maxNewDeviceAlerts = 64

// Device lists, least recently seen last: devices still learning are
// forgotten before devices that have learnt, so that a flood of new (or
// spoofed) addresses cannot push the learnt baselines out.
const (
	listLearning = iota
	listLearnt
)

type dlist struct{ head, tail *device }

func (l *dlist) pushFront(d *device) {
	d.list = l
	d.prev, d.next = nil, l.head
	if l.head != nil {
		l.head.prev = d
	}
	l.head = d
	if l.tail == nil {
		l.tail = d
	}
}

func (l *dlist) unlink(d *device) {
	if d.prev != nil {
		d.prev.next = d.next
	} else if l.head == d {
		l.head = d.next
	}
	if d.next != nil {
		d.next.prev = d.prev
	} else if l.tail == d {
		l.tail = d.prev
	}
	d.prev, d.next, d.list = nil, nil, nil
}

// evictDevice forgets the least recently seen device without an open
// alert, a learning one first. It looks at the 64 least recent of each
// list at most, so that a table full of alerting devices costs bounded
// work per new address.
func (b *Baseline) evictDevice() bool {
	for i := range b.lists {
		n := 0
		for d := b.lists[i].tail; d != nil && n < 64; d, n = d.prev, n+1 {
			if !d.hasOpen() {
				b.removeDevice(d)
				b.stats.DevicesEvicted++
				return true
			}
		}
	}
	return false
}

func (b *Baseline) removeDevice(d *device) {
	if d.list != nil {
		d.list.unlink(d)
	}
	delete(b.devices, d.addr)
}

func (b *Baseline) touch(d *device, t time.Time) {
	if tn := ns(t); tn > d.last {
		d.last = tn
	}
	if l := d.list; l != nil && l.head != d {
		l.unlink(d)
		l.pushFront(d)
	}
}

// relist puts a device on the list of its state.
func (b *Baseline) relist(d *device) {
	want := &b.lists[listLearnt]
	if d.learning {
		want = &b.lists[listLearning]
	}
	if d.list != want {
		if d.list != nil {
			d.list.unlink(d)
		}
		want.pushFront(d)
	}
}

// step brings a device to time t for an event that started at from: ends
// its learning when due, closes the window in progress when t is in a
// later one, and notes whether the event belongs to the learning period
// (a flow record comes when the flow ends, up to minutes later: one that
// started while the device learnt is learnt).
func (b *Baseline) step(d *device, t, from time.Time) {
	tn := ns(t)
	if d.learning && tn >= d.learnUntil &&
		(d.flows >= uint64(b.cfg.LearnFlows) || tn >= d.learnFrom+int64(b.cfg.LearnMax)) {
		b.endLearning(d)
	}
	if w := tn / int64(b.cfg.Window); w > d.win {
		b.closeWindow(d)
		d.win = w
		d.setLimits(&b.p)
	}
	d.cur = d.learning || ns(from) < d.learnedAt
}

// endLearning makes what the device did so far its baseline.
func (b *Baseline) endLearning(d *device) {
	d.learning = false
	d.learnedAt = ns(b.now)
	b.relist(d)
	d.peers.establish()
	d.services.establish()
	d.kinds.establish()
	d.macs.establish()
	for _, e := range d.services.m {
		e.val.sent.finishLearning(&b.p)
		e.val.recv.finishLearning(&b.p)
		e.val.gap.finishLearning(&b.p)
	}
	for i := range d.wstat {
		d.wstat[i].finishLearning(&b.p)
	}
	d.setLimits(&b.p)
}

// closeWindow learns the counts of the window in progress (windows in
// which the device did nothing are not learned: medical devices are
// bursty, and counting idle windows would make every burst an anomaly).
func (b *Baseline) closeWindow(d *device) {
	for i, c := range d.counts {
		if c == 0 {
			continue
		}
		r := &d.wstat[i]
		if d.learning {
			r.learn(logv(float64(c)), &b.p)
		} else {
			b.numeric(d, r, logv(float64(c)), upper, b.now)
		}
	}
	d.counts = [numWin]uint64{}
	d.records = [2]uint32{}
}

// numeric runs a value through a feature after learning, counting
// anomalies and lasting changes; the caller reports the anomaly.
func (b *Baseline) numeric(d *device, r *robust, x float64, sd side, t time.Time) (bool, float64) {
	was := r.seeded
	bad, z := r.observe(x, sd, ns(t), &b.p)
	if bad {
		b.stats.NumericAnomalies++
	}
	if was && !r.seeded {
		b.stats.Shifts++
		d.shifted = true
	}
	return bad, z
}

// shiftNote tells an incident that its feature has started learning a
// new level.
func (b *Baseline) shiftNote(d *device, in *incident) {
	if d.shifted {
		d.shifted = false
		in.note = "the deviation has lasted " + fmtDur(b.cfg.ShiftAfter) + ": the feature now learns the new level"
	}
}

// countWindow adds n to a window counter and reports the window as an
// anomaly once the count passes its limit.
func (b *Baseline) countWindow(d *device, i int, n uint64, t time.Time, peer event.Endpoint, ref ref) {
	d.counts[i] += n
	c := float64(d.counts[i])
	if c < d.wlim[i] {
		return
	}
	r := &d.wstat[i]
	bad, z := r.anomalous(logv(c), upper, &b.p)
	if !bad {
		return
	}
	k := kBurst
	if i == wBytesOut || i == wBytesIn {
		k = kVolume
		if d.records[i-wBytesOut] < 2 {
			// One flow's bytes: its flow-size feature speaks for it.
			return
		}
	}
	in := b.incidentFor(d, k, t)
	if in == nil {
		return
	}
	unit := "flows"
	if k == kVolume {
		unit = "bytes"
	}
	feature := winNames[i] + " of " + fmtDur(b.cfg.Window)
	in.deviation(feature, c, unlog(r.m), unlog(r.hi), z, unit)
	if i == wFlowsIn {
		in.setClass("service-flood", "the device receives far more connections than it ever did")
	}
	in.addTarget(peer)
	in.addEvidence(ref)
	b.shiftNote(d, in)
	b.hitOpen(in, t)
}

// --- categorical values ---

// seen records a sighting of a value the set holds (nil if it holds
// none) and reports whether it is news after learning: a provisional
// value unseen for ForgetAfter. Provisional values of an open incident
// extend it; seen often enough for long enough they become normal.
func seen[T any](b *Baseline, d *device, s *catSet[T], k kind, key uint64, t time.Time) (e *entry[T], isNew bool) {
	if e = s.get(key); e == nil {
		return nil, false
	}
	tn := ns(t)
	if e.prov && tn-e.last > int64(b.cfg.ForgetAfter) {
		b.stats.Forgotten++
		e.first, e.last, e.n = tn, tn, 1
		return e, true
	}
	if tn > e.last {
		e.last = tn
	}
	e.n++
	if e.prov {
		if e.n >= uint32(b.cfg.ConfirmSightings) && e.last-e.first >= int64(b.cfg.ConfirmAfter) {
			e.prov = false
			b.stats.Confirmed++
		} else if in := d.inc[k]; in != nil && in.Open() && e.first >= ns(in.start) {
			b.extend(in, t)
		}
	}
	return e, false
}

// remember adds a value the set does not hold; after learning it is
// provisional and news.
func remember[T any](b *Baseline, d *device, s *catSet[T], key uint64, label string, max int, evictions *uint64,
	t time.Time) (*entry[T], bool) {
	e, ev := s.add(key, label, ns(t), max)
	e.n = 1
	if ev {
		*evictions++
	}
	if d.cur {
		return e, false
	}
	e.prov = true
	b.stats.NewValues++
	return e, true
}

// peer records a conversation partner.
func (b *Baseline) peer(d *device, p event.Endpoint, t time.Time, ref ref) {
	if !p.IP.IsValid() {
		return
	}
	a := p.IP.Unmap()
	key := peerKey(a)
	e, isNew := seen(b, d, &d.peers, kNewPeer, key, t)
	if e == nil {
		e, isNew = remember(b, d, &d.peers, key, a.String(), b.cfg.Limits.MaxPeers, &b.stats.PeersEvicted, t)
	}
	if d.cur {
		if d.peers.len() >= b.cfg.Limits.MaxPeers {
			d.hub = true
		}
		// A device new after the network's learning period: its alert
		// follows what it does while it learns.
		if in := d.inc[kNewDevice]; in != nil && in.Open() && t.Sub(in.start) < b.cfg.MaxSpan {
			in.addTarget(event.Endpoint{IP: a})
			b.extend(in, t)
		}
	}
	if !isNew || d.hub {
		return
	}
	in := b.incidentFor(d, kNewPeer, t)
	if in == nil {
		return
	}
	in.addValue(e.label)
	in.learned = d.peers.len() - 1
	in.addTarget(event.Endpoint{IP: a, Port: p.Port})
	in.addEvidence(ref)
	if !b.home(a) {
		in.raise(event.SeverityMedium)
		in.note = "a peer outside the home networks"
	}
	b.hitOpen(in, t)
}

// --- sensor.Output ---

// FlowStart sees a flow as it starts: peers and flow counts need it at
// once (a flood is counted as it comes), not when the flow ends.
func (b *Baseline) FlowStart(c *proto.Conn, t time.Time) {
	b.stats.FlowStarts++
	b.start(t)
	b.advance(t)
	ref := ref{flow: c.ID, t: t, what: "flow start"}
	// A TCP client becomes a device when its flow record or a message
	// shows the handshake completed (a spoofed SYN never does); other
	// transports cannot tell a spoofed source apart, so their clients
	// count at once.
	if d, _ := b.lookup(c.Client.IP, t, c.Transport != proto.TCP); d != nil {
		b.step(d, t, t)
		d.flows++
		b.peer(d, c.Server, t, ref)
		b.countWindow(d, wFlowsOut, 1, t, c.Server, ref)
	}
	if d, _ := b.lookup(c.Server.IP, t, false); d != nil {
		b.step(d, t, t)
		d.flows++
		b.peer(d, event.Endpoint{IP: c.Client.IP}, t, ref)
		b.countWindow(d, wFlowsIn, 1, t, event.Endpoint{IP: c.Client.IP}, ref)
	}
}

// Flow sees a flow record: services, sizes, rhythm, volumes, hardware
// addresses.
func (b *Baseline) Flow(f *event.Flow) {
	b.stats.Flows++
	t := f.End
	b.start(f.Start)
	b.advance(t)
	ref := ref{flow: f.ID, t: t, what: protoOr(f.Proto), what2: "flow"}
	if d, _ := b.lookup(f.Client.IP, t, genuine(f)); d != nil {
		b.flowSide(d, f, "client", f.Client, f.Server, &f.Counts[0], &f.Counts[1], false, t, ref)
	}
	alive := f.Counts[1].Packets > 0
	if d, _ := b.lookup(f.Server.IP, t, alive); d != nil {
		b.flowSide(d, f, "server", f.Server, event.Endpoint{IP: f.Client.IP}, &f.Counts[1], &f.Counts[0], accepted(f), t, ref)
	}
}

// genuine says whether a flow's client is a real device rather than a
// spoofed address: for TCP the handshake completed (or data came back);
// for other transports it sent something (which cannot be told apart).
func genuine(f *event.Flow) bool {
	if f.Counts[0].Packets == 0 {
		return false
	}
	if f.Transport == "tcp" {
		return accepted(f) && (strings.IndexByte(f.ClientTCP, 'A') >= 0 || f.Counts[0].PayloadBytes > 0)
	}
	return true
}

// accepted says whether a flow's server took it: a SYN-ACK or data for
// TCP (a RST proves the address is alive, not that it offers a service),
// any answer for other transports.
func accepted(f *event.Flow) bool {
	if f.Counts[1].Packets == 0 {
		return false
	}
	if f.Transport == "tcp" {
		return strings.IndexByte(f.ServerTCP, 'S') >= 0 || f.Counts[1].PayloadBytes > 0
	}
	return true
}

// flowSide applies one flow record to the device at one of its ends.
func (b *Baseline) flowSide(d *device, f *event.Flow, role string, self, other event.Endpoint, out, in *event.Counts,
	answered bool, t time.Time, ref ref) {
	b.step(d, t, f.Start)
	if ns(f.Start) < d.first && !f.Continuing {
		d.flows++ // it became a device during the flow: its start was not counted
	}
	// Peers are recorded as flows start; a device that became one during
	// a flow (by answering it, or by a message) has its peer recorded now.
	if d.peers.get(peerKey(other.IP.Unmap())) == nil {
		b.peer(d, other, t, ref)
	}
	if self.MAC != "" && out.Packets > 0 {
		b.mac(d, self.MAC, t, ref)
	}
	// Only a server that answered offers a service: a refused probe is
	// the prober's behaviour, not the device's (its peer is recorded).
	// Answering an ICMP echo is the operating system's reflex, not a
	// service: a ping sweep is the sweeper's news (and a new peer of each
	// device pinged), not a new service of every device it reached.
	if role == "client" || (answered && !isICMP(f.Transport)) {
		b.service(d, f, role, other, out, in, t, ref)
	}
	if out.Bytes > 0 {
		d.records[0]++
		b.countWindow(d, wBytesOut, out.Bytes, t, other, ref)
	}
	if in.Bytes > 0 {
		d.records[1]++
		b.countWindow(d, wBytesIn, in.Bytes, t, other, ref)
	}
}

func isICMP(transport string) bool { return transport == "icmp" || transport == "icmpv6" }

// service records the service of a flow and its sizes and rhythm.
func (b *Baseline) service(d *device, f *event.Flow, role string, other event.Endpoint, out, in *event.Counts,
	t time.Time, ref ref) {
	first := role == "server" && !d.served
	if role == "server" {
		d.served = true
	}
	key := serviceKey(role, f)
	e, isNew := seen(b, d, &d.services, kNewService, key, t)
	if e == nil {
		e, isNew = remember(b, d, &d.services, key, serviceLabel(role, f), b.cfg.Limits.MaxServices,
			&b.stats.ServicesEvicted, t)
	}
	ch := &e.val
	if ch.proto == "" || ch.proto == "unknown" {
		ch.proto = protoOr(f.Proto)
	}
	if isNew {
		if inc := b.incidentFor(d, kNewService, t); inc != nil {
			label := e.label
			if f.Proto != "" && !f.Continuing {
				label += " (" + f.Proto + ")"
			}
			inc.addValue(label)
			inc.learned = d.services.len() - 1
			inc.addTarget(other)
			inc.addEvidence(ref)
			if role == "server" {
				inc.raise(event.SeverityMedium)
			}
			if first {
				inc.raise(event.SeverityHigh)
				inc.note = "the device acted as a server for the first time"
			}
			b.hitOpen(inc, t)
		}
	}
	if f.Continuing {
		return // a partial record: its sizes are not a flow's
	}
	start := ns(f.Start)
	var gap float64 = -1
	if start > ch.lastStart {
		if ch.lastStart != 0 {
			gap = float64(start-ch.lastStart) / 1e6
		}
		ch.lastStart = start
	}
	if d.cur {
		ch.sent.learn(logv(float64(out.Bytes)), &b.p)
		ch.recv.learn(logv(float64(in.Bytes)), &b.p)
		if gap >= 0 {
			ch.gap.learn(logv(gap), &b.p)
		}
		return
	}
	if bad, z := b.numeric(d, &ch.sent, logv(float64(out.Bytes)), upper, t); bad {
		b.sizeAnomaly(d, "bytes sent per flow, "+chanText(e.label, ch), float64(out.Bytes), &ch.sent, z, other, t, ref,
			role == "server" && ch.proto == "dicom")
	}
	if bad, z := b.numeric(d, &ch.recv, logv(float64(in.Bytes)), upper, t); bad {
		b.sizeAnomaly(d, "bytes received per flow, "+chanText(e.label, ch), float64(in.Bytes), &ch.recv, z, other, t, ref, false)
	}
	if gap >= 0 {
		if bad, z := b.numeric(d, &ch.gap, logv(gap), lower, t); bad {
			if inc := b.incidentFor(d, kFlowRhythm, t); inc != nil {
				inc.deviationLow("time between flows, "+chanText(e.label, ch), gap, unlog(ch.gap.m), unlog(ch.gap.lo), z, "ms")
				inc.addTarget(other)
				inc.addEvidence(ref)
				b.shiftNote(d, inc)
				b.hitOpen(inc, t)
			}
		}
	}
}

// chanText names a service for an alert: "server tcp/4242 (dicom)".
func chanText(label string, ch *channel) string {
	if ch.proto != "" && ch.proto != "unknown" && !strings.HasSuffix(label, "/"+ch.proto) {
		return label + " (" + ch.proto + ")"
	}
	return label
}

func (b *Baseline) sizeAnomaly(d *device, feature string, x float64, r *robust, z float64, other event.Endpoint,
	t time.Time, ref ref, dicomOut bool) {
	in := b.incidentFor(d, kFlowSize, t)
	if in == nil {
		return
	}
	in.deviation(feature, x, unlog(r.m), unlog(r.hi), z, "bytes")
	if dicomOut {
		in.setClass("dicom-exfiltration", "the archive sent far more in one association than it ever did")
	}
	in.addTarget(other)
	in.addEvidence(ref)
	b.shiftNote(d, in)
	b.hitOpen(in, t)
}

// mac records the hardware address an address was seen with.
func (b *Baseline) mac(d *device, mac string, t time.Time, ref ref) {
	if d.mac == mac {
		return
	}
	key := macKey(mac)
	e, isNew := seen(b, d, &d.macs, kNewMAC, key, t)
	if e == nil {
		e, isNew = remember(b, d, &d.macs, key, clip(mac), b.cfg.Limits.MaxMACs, &b.stats.MACsEvicted, t)
	}
	prev := d.mac
	d.mac = e.label
	if !isNew {
		return
	}
	if in := b.incidentFor(d, kNewMAC, t); in != nil {
		in.addValue(e.label)
		in.learned = d.macs.len() - 1
		if prev != "" {
			in.note = "previously " + prev
		}
		in.addEvidence(ref)
		b.hitOpen(in, t)
	}
}

// Observe takes a dissector's observation: the message kinds its sender
// sent and its receiver received.
func (b *Baseline) Observe(o *event.Observation) {
	b.stats.Observations++
	t := o.Time
	b.start(t)
	b.advance(t)
	ref := ref{flow: o.Flow, frame: o.Frame, t: t, what: o.Proto, what2: o.Kind}
	if d, _ := b.lookup(o.Src.IP, t, true); d != nil {
		b.step(d, t, t)
		b.kinds(d, o, true, o.Dst, t, ref)
	}
	// A message over TCP means both ends completed a handshake.
	if d, _ := b.lookup(o.Dst.IP, t, o.Transport == "tcp"); d != nil {
		b.step(d, t, t)
		b.kinds(d, o, false, o.Src, t, ref)
	}
}

func (b *Baseline) kinds(d *device, o *event.Observation, sent bool, other event.Endpoint, t time.Time, ref ref) {
	var items [maxKindItems]kindItem
	n := kindKeys(o, sent, &items)
	for _, it := range items[:n] {
		e, isNew := seen(b, d, &d.kinds, kNewMessage, it.key, t)
		if e == nil {
			e, isNew = remember(b, d, &d.kinds, it.key, kindLabel(o, sent, it.sub), b.cfg.Limits.MaxKinds,
				&b.stats.KindsEvicted, t)
		}
		if !isNew {
			continue
		}
		in := b.incidentFor(d, kNewMessage, t)
		if in == nil {
			continue
		}
		in.addValue(e.label)
		in.learned = d.kinds.len() - 1
		in.addTarget(other)
		in.addEvidence(ref)
		if !sent && o.Proto == "dicom" && (o.Kind == "c-find-rq" || o.Kind == "c-get-rq" || o.Kind == "c-move-rq") {
			in.raise(event.SeverityHigh)
			in.setClass("dicom-exfiltration", "the device answers DICOM queries or retrievals it never served before")
		}
		b.hitOpen(in, t)
	}
}

// ARP advances the clock; the baseline learns from flows and messages.
func (b *Baseline) ARP(a *sensor.ARP) { b.advance(a.Time) }

// --- relearning ---

// Relearn forgets what the baseline learnt about every device in the
// prefixes (a device whose behaviour changed for good: new firmware, new
// role, moved to another ward) and starts their learning again from the
// current capture time. Their open alerts end. It returns how many
// devices relearn.
func (b *Baseline) Relearn(prefixes ...netip.Prefix) int {
	n := 0
	for a, d := range b.devices {
		hit := false
		for _, p := range prefixes {
			if p.Contains(a) {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		for _, in := range d.inc {
			if in != nil && in.Open() {
				b.closeIncident(in)
			}
		}
		now := ns(b.now)
		if d.list != nil {
			d.list.unlink(d)
		}
		*d = device{addr: d.addr, mac: d.mac, first: d.first, last: d.last, learning: true,
			learnFrom: now, learnUntil: now + int64(b.cfg.LearnFor), win: now / int64(b.cfg.Window)}
		d.setLimits(&b.p)
		b.relist(d)
		n++
	}
	b.stats.Relearned += uint64(n)
	if n > 0 {
		b.log.Info("baseline relearning", "devices", n, "prefixes", prefixes)
	}
	return n
}
