package baseline

import (
	"bytes"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
)

// A small ward: a CT stores studies on the PACS, the HIS sends HL7 to the
// interface engine, an infusion pump publishes telemetry to the broker.
const (
	ct     = "10.1.0.20"
	pacs   = "10.1.0.10"
	his    = "10.1.0.31"
	engine = "10.1.0.30"
	pump   = "10.1.0.40"
	broker = "10.1.0.41"
)

func wardConfig() Config {
	return Config{LearnFor: 6 * time.Hour, LearnFlows: 50, Window: time.Minute}
}

// ward generates the ward's routine from `from` until `to` (exclusive) in
// 30-second ticks, with sizes varying by a log-normal factor (σ 0.15): the
// pump publishes every 30 s, the HIS sends every 2 minutes, the CT stores
// a study of three associations every 20 minutes.
type ward struct {
	lan
	rng  *rand.Rand
	tick int
}

func newWard(b *Baseline) *ward {
	return &ward{lan: lan{b: b}, rng: rand.New(rand.NewPCG(1, 2))}
}

func (w *ward) noisy(x float64) uint64 { return uint64(x * math.Exp(0.15*w.rng.NormFloat64())) }

func (w *ward) run(from, to time.Time) time.Time {
	t := from
	for ; t.Before(to); t = t.Add(30 * time.Second) {
		w.tick++
		w.flow(t, flowSpec{client: pump, server: broker, sport: 1883, proto: "mqtt", sent: w.noisy(600), recv: w.noisy(120)})
		w.obs(t, pump, broker, 40000, 1883, "mqtt", "publish", publish("ward3/pump/7/telemetry"))
		if w.tick%4 == 0 {
			typ := "ADT^A01"
			if w.rng.IntN(2) == 0 {
				typ = "ORU^R01"
			}
			w.flow(t.Add(time.Second), flowSpec{client: his, server: engine, sport: 2575, proto: "hl7", sent: w.noisy(1800), recv: w.noisy(700)})
			w.obs(t.Add(time.Second), his, engine, 40000, 2575, "hl7", "message", hl7msg(typ))
		}
		if w.tick%40 == 0 {
			for i := range 3 {
				st := t.Add(time.Duration(2+i) * time.Second)
				w.flow(st, flowSpec{client: ct, server: pacs, sport: 104, proto: "dicom", sent: w.noisy(120e3), recv: w.noisy(5e3), dur: 400 * time.Millisecond})
				w.obs(st, ct, pacs, 40000, 104, "dicom", "c-store-rq", nil)
			}
		}
	}
	return t
}

// TestRegularDeviceStaysQuiet: two days of the ward's routine, six hours
// of which are learning, raise nothing.
func TestRegularDeviceStaysQuiet(t *testing.T) {
	b, rec := newBaseline(t, wardConfig())
	w := newWard(b)
	w.run(t0, t0.Add(48*time.Hour))
	b.Flush()
	rec.dump(t)
	if n := len(rec.alerts("", "")); n != 0 {
		t.Errorf("%d alerts on routine traffic", n)
	}
	st := b.Stats()
	if st.Devices != 6 || st.Learning != 0 {
		t.Errorf("devices %d, learning %d; want 6 devices, none learning", st.Devices, st.Learning)
	}
}

// learnt returns a baseline that has learnt the ward, at the end of
// learning plus an hour.
func learnt(t *testing.T, cfg Config) (*Baseline, *recorder, *ward, time.Time) {
	t.Helper()
	b, rec := newBaseline(t, cfg)
	w := newWard(b)
	end := w.run(t0, t0.Add(cfg.LearnFor+time.Hour))
	if n := len(rec.alerts("", "")); n != 0 {
		rec.dump(t)
		t.Fatalf("%d alerts while learning", n)
	}
	return b, rec, w, end
}

// TestNewPeerAndServiceFlaggedOnce: the CT storing to a second archive,
// ten times, is one alert; storing on a new port is one more; the
// provisional values are not alerted again after the incident ends, and
// become normal once seen three times over a day.
func TestNewPeerAndServiceFlaggedOnce(t *testing.T) {
	cfg := wardConfig()
	b, rec, w, now := learnt(t, cfg)
	const pacs2 = "10.1.0.11"
	for i := range 10 {
		w.flow(now.Add(time.Duration(i)*time.Minute), flowSpec{client: ct, server: pacs2, sport: 104, proto: "dicom", sent: 120e3, recv: 5e3})
	}
	now = now.Add(10 * time.Minute)
	w.flow(now, flowSpec{client: ct, server: pacs, sport: 11112, proto: "dicom", sent: 120e3, recv: 5e3})
	now = w.run(now, now.Add(time.Hour))
	// Hourly afterwards: provisional, never alerted again.
	for i := range 30 {
		w.flow(now, flowSpec{client: ct, server: pacs2, sport: 104, proto: "dicom", sent: 120e3, recv: 5e3})
		now = w.run(now, now.Add(time.Hour))
		_ = i
	}
	b.Flush()
	rec.dump(t)

	peers := rec.alerts(RuleNewPeer, ct)
	if len(peers) != 1 {
		t.Fatalf("%d new-peer alerts on the CT, want 1", len(peers))
	}
	if a := peers[0]; !hasValue(a, pacs2) || a.Count != 10 || a.Score != 1 || !a.Final || a.Counts["learned_values"] != 1 {
		t.Errorf("new-peer alert: values %q count %d score %g final %v learned %d; want %s, 10 flows, score 1, final, 1 learned",
			a.Samples["new_values"], a.Count, a.Score, a.Final, a.Counts["learned_values"], pacs2)
	}
	if peers[0].Targets[0].IP.String() != pacs2 {
		t.Errorf("target %v, want %s", peers[0].Targets, pacs2)
	}
	svc := rec.alerts(RuleNewService, ct)
	if len(svc) != 1 || !hasValue(svc[0], "client tcp/11112 (dicom)") {
		t.Fatalf("new-service alerts on the CT: %+v; want one for client tcp/11112", svc)
	}
	// The second archive answered: it is a device, new after learning.
	if n := len(rec.alerts(RuleNewDevice, pacs2)); n != 1 {
		t.Errorf("%d new-device alerts on %s, want 1", n, pacs2)
	}
	for _, a := range rec.alerts("", "") {
		if a.Source.IP.String() != pacs2 && a.Rule != RuleNewPeer && a.Rule != RuleNewService {
			t.Errorf("unexpected %s on %s: %s", a.Rule, a.Source.IP, a.Description)
		}
	}
	d := b.devices[netip.MustParseAddr(ct)]
	e := d.peers.get(peerKey(netip.MustParseAddr(pacs2)))
	if e == nil || e.prov {
		t.Errorf("the second archive should be a confirmed peer of the CT after a day of sightings: %+v", e)
	}
	if b.Stats().Confirmed == 0 {
		t.Error("nothing confirmed")
	}
}

// TestForgottenValueAlertsAgain: a provisional peer unseen for ForgetAfter
// is news again.
func TestForgottenValueAlertsAgain(t *testing.T) {
	cfg := wardConfig()
	cfg.ForgetAfter = 12 * time.Hour
	b, rec, w, now := learnt(t, cfg)
	w.flow(now, flowSpec{client: pump, server: "10.1.0.99", sport: 1883, proto: "mqtt", sent: 600, recv: 120, silent: true})
	now = w.run(now, now.Add(13*time.Hour))
	w.flow(now, flowSpec{client: pump, server: "10.1.0.99", sport: 1883, proto: "mqtt", sent: 600, recv: 120, silent: true})
	w.run(now, now.Add(time.Hour))
	b.Flush()
	rec.dump(t)
	if n := len(rec.alerts(RuleNewPeer, pump)); n != 2 {
		t.Errorf("%d new-peer alerts, want 2 (first sight, and return after being forgotten)", n)
	}
	if b.Stats().Forgotten != 1 {
		t.Errorf("forgotten %d, want 1", b.Stats().Forgotten)
	}
}

// sizeRun learns a device whose flows vary in size around e^10 bytes by
// known log offsets, then sends one flow of the given size.
func sizeRun(t *testing.T, size func(med, scale float64) float64) (*recorder, float64, float64) {
	t.Helper()
	offsets := []float64{-0.4, -0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3, 0.4, -0.35, 0.35, -0.05, 0.05, 0.15, -0.15, 0.25}
	cfg := Config{LearnFor: 46 * time.Minute, LearnFlows: len(offsets), Window: time.Minute}
	b, rec := newBaseline(t, cfg)
	n := &lan{b: b}
	var logs []float64
	now := t0
	for _, o := range offsets {
		s := math.Round(math.Exp(10 + o))
		logs = append(logs, math.Log1p(s))
		n.flow(now, flowSpec{client: ct, server: pacs, sport: 104, proto: "dicom", sent: uint64(s), recv: 4000})
		now = now.Add(3 * time.Minute)
	}
	med, scale := medianOf(logs), madToSigma*madOf(logs)
	if scale <= DefaultConfig.MinScale {
		t.Fatalf("test data: spread %g is below the floor", scale)
	}
	x := math.Round(size(med, scale))
	n.flow(now, flowSpec{client: ct, server: pacs, sport: 104, proto: "dicom", sent: uint64(x), recv: 4000})
	b.Flush()
	rec.dump(t)
	return rec, (math.Log1p(x) - med) / scale, x
}

// TestSizeDeviationScore: a flow k robust deviations above the learnt
// median (computed here from the learnt sizes) is flagged with score k
// from the threshold (6) on, and its severity grows with k.
func TestSizeDeviationScore(t *testing.T) {
	for _, tc := range []struct {
		k        float64
		alert    bool
		severity string
	}{{4, false, ""}, {5.9, false, ""}, {7, true, event.SeverityLow}, {13, true, event.SeverityMedium}, {25, true, event.SeverityHigh}} {
		rec, want, x := sizeRun(t, func(med, scale float64) float64 { return math.Expm1(med + tc.k*scale) })
		got := rec.alerts(RuleFlowSize, ct)
		if !tc.alert {
			if len(got) != 0 {
				t.Errorf("k=%g: flagged with score %g", tc.k, got[0].Score)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("k=%g: %d flow-size alerts, want 1", tc.k, len(got))
			continue
		}
		a := got[0]
		if math.Abs(a.Score-want) > 0.01 || math.Abs(want-tc.k) > 0.01 {
			t.Errorf("k=%g: score %g, want %g", tc.k, a.Score, want)
		}
		if a.Severity != tc.severity {
			t.Errorf("k=%g: severity %s, want %s", tc.k, a.Severity, tc.severity)
		}
		if !strings.Contains(a.Samples["feature"], "bytes sent per flow, client tcp/104") || a.Samples["observed"] != fmtUnit(x, "bytes") {
			t.Errorf("k=%g: feature %q observed %q; want the CT's bytes sent on tcp/104, %s", tc.k, a.Samples["feature"], a.Samples["observed"], fmtUnit(x, "bytes"))
		}
	}
}

// TestSlowDriftAbsorbed: flows growing 0.3 % a flow for 2,000 flows (400
// times in all) are followed without an alert; a sudden 30-fold jump
// afterwards is flagged.
func TestSlowDriftAbsorbed(t *testing.T) {
	cfg := Config{LearnFor: 2 * time.Hour, LearnFlows: 100, Window: time.Minute}
	b, rec := newBaseline(t, cfg)
	n := &lan{b: b}
	rng := rand.New(rand.NewPCG(3, 4))
	now := t0
	size := 50e3
	for i := range 2120 {
		if i >= 120 {
			size *= 1.003
		}
		n.flow(now, flowSpec{client: pump, server: broker, sport: 1883, proto: "mqtt", sent: uint64(size * math.Exp(0.05*rng.NormFloat64())), recv: 200})
		now = now.Add(time.Minute)
	}
	if got := rec.alerts("", ""); len(got) != 0 {
		rec.dump(t)
		t.Fatalf("%d alerts on slow drift (sizes now %.0f times the learnt)", len(got), size/50e3)
	}
	n.flow(now, flowSpec{client: pump, server: broker, sport: 1883, proto: "mqtt", sent: uint64(size * 30), recv: 200})
	b.Flush()
	rec.dump(t)
	if len(rec.alerts(RuleFlowSize, pump)) != 1 {
		t.Error("a 30-fold jump after the drift was not flagged")
	}
}

// TestLastingChangeRelearnt: a device whose flows became 30 times larger
// for good is alerted at first; once the change has lasted ShiftAfter the
// feature learns the new level and the alerts stop.
func TestLastingChangeRelearnt(t *testing.T) {
	cfg := Config{LearnFor: 2 * time.Hour, LearnFlows: 10, Window: time.Minute, ShiftAfter: 12 * time.Hour}
	b, rec := newBaseline(t, cfg)
	n := &lan{b: b}
	rng := rand.New(rand.NewPCG(5, 6))
	now := t0
	var changed time.Time
	for i := range 4 * 24 * 6 { // four days, a flow every 10 minutes
		size := 50e3
		if i >= 24 {
			size *= 30
			if changed.IsZero() {
				changed = now
			}
		}
		n.flow(now, flowSpec{client: pump, server: broker, sport: 1883, proto: "mqtt", sent: uint64(size * math.Exp(0.05*rng.NormFloat64())), recv: 200})
		now = now.Add(10 * time.Minute)
	}
	b.Flush()
	rec.dump(t)
	got := rec.alerts(RuleFlowSize, pump)
	if len(got) == 0 {
		t.Fatal("the change was never flagged")
	}
	last := got[len(got)-1].End
	if last.Sub(changed) > cfg.ShiftAfter+time.Hour {
		t.Errorf("still alerting %v after the change (ShiftAfter %v)", last.Sub(changed), cfg.ShiftAfter)
	}
	if b.Stats().Shifts == 0 {
		t.Error("no shift counted")
	}
}

// TestNewMessageKinds: an HL7 sender's new message type, a modality's
// first query, an archive answering queries, a pump's new topic.
func TestNewMessageKinds(t *testing.T) {
	b, rec, w, now := learnt(t, wardConfig())
	w.obs(now, his, engine, 40000, 2575, "hl7", "message", hl7msg("ADT^A08"))
	w.obs(now.Add(time.Second), ct, pacs, 40000, 104, "dicom", "c-find-rq", nil)
	w.obs(now.Add(2*time.Second), pump, broker, 40000, 1883, "mqtt", "publish", publish("ward3/pump/7/cmd"))
	w.obs(now.Add(3*time.Second), his, engine, 40000, 2575, "hl7", "message", hl7msg("ADT^A08"))
	b.Flush()
	rec.dump(t)
	check := func(dev, value, severity string, tagged bool) {
		t.Helper()
		got := rec.alerts(RuleNewMessage, dev)
		if len(got) != 1 || !hasValue(got[0], value) {
			t.Errorf("%s: new-message alerts %d, want one with %q", dev, len(got), value)
			return
		}
		if got[0].Severity != severity {
			t.Errorf("%s: severity %s, want %s", dev, got[0].Severity, severity)
		}
		enisa8 := slices.ContainsFunc(got[0].Tags, func(t event.Tag) bool { return t.Taxonomy == event.TaxENISA && t.ID == "8" })
		if enisa8 != tagged {
			t.Errorf("%s: tagged as data breach %v, want %v (%v)", dev, enisa8, tagged, got[0].Tags)
		}
		if got[0].Category != "anomaly" || got[0].Tags == nil {
			t.Errorf("%s: category %q tags %v", dev, got[0].Category, got[0].Tags)
		}
	}
	check(his, "sent hl7/message ADT^A08", event.SeverityMedium, false)
	check(engine, "received hl7/message ADT^A08", event.SeverityMedium, false)
	check(ct, "sent dicom/c-find-rq", event.SeverityMedium, false)
	check(pacs, "received dicom/c-find-rq", event.SeverityHigh, true)
	check(pump, "sent mqtt/publish ward3/pump/7/cmd", event.SeverityMedium, false)
	if a := rec.alerts(RuleNewMessage, his)[0]; a.Count != 2 {
		t.Errorf("the HIS's second ADT^A08 should extend its alert: count %d", a.Count)
	}
}

// TestSensitiveRole: a role lookup raises the severity of sensitive
// devices by one step.
func TestSensitiveRole(t *testing.T) {
	cfg := wardConfig()
	cfg.Role = func(a netip.Addr) string {
		if a.String() == pump {
			return "infusion-pump"
		}
		return "workstation"
	}
	b, rec, w, now := learnt(t, cfg)
	w.flow(now, flowSpec{client: pump, server: "10.1.0.99", sport: 1883, sent: 600, recv: 100, silent: true})
	w.flow(now, flowSpec{client: his, server: "10.1.0.99", sport: 1883, sent: 600, recv: 100, silent: true})
	b.Flush()
	if a := rec.alerts(RuleNewPeer, pump); len(a) != 1 || a[0].Severity != event.SeverityMedium || a[0].Samples["role"] != "infusion-pump" {
		t.Errorf("pump: %+v; want one medium alert naming its role", a)
	}
	if a := rec.alerts(RuleNewPeer, his); len(a) != 1 || a[0].Severity != event.SeverityLow {
		t.Errorf("HIS: %+v; want one low alert", a)
	}
}

// TestBurst: far more flows in a window than ever learnt is one alert,
// raised while the window is still in progress.
func TestBurst(t *testing.T) {
	b, rec, w, now := learnt(t, wardConfig())
	var first time.Time
	for i := range 200 {
		at := now.Add(time.Duration(i) * 100 * time.Millisecond)
		w.flow(at, flowSpec{client: "10.1.0.66", server: broker, sport: 1883, proto: "mqtt", sent: 600, recv: 100})
		if first.IsZero() && len(rec.alerts(RuleBurst, broker)) > 0 {
			first = at
		}
	}
	b.Flush()
	got := rec.alerts(RuleBurst, broker)
	if len(got) != 1 {
		rec.dump(t)
		t.Fatalf("%d burst alerts on the broker, want 1", len(got))
	}
	if first.IsZero() || first.Sub(now) > 5*time.Second {
		t.Errorf("burst flagged %v after it began", first.Sub(now))
	}
	if !strings.Contains(got[0].Samples["feature"], "flows received per window") || got[0].Score < DefaultConfig.Threshold {
		t.Errorf("burst alert: %q score %g", got[0].Samples["feature"], got[0].Score)
	}
	if !slices.ContainsFunc(got[0].Tags, func(t event.Tag) bool { return t.Taxonomy == event.TaxENISA && t.ID == "5" }) {
		t.Errorf("a flood of connections should carry its closest cause (denial of service): %v", got[0].Tags)
	}
}

// TestHub: a device with more peers than MaxPeers while learning is a
// hub; new peers are not alerted for it.
func TestHub(t *testing.T) {
	cfg := wardConfig()
	cfg.Limits.MaxPeers = 8
	b, rec := newBaseline(t, cfg)
	n := &lan{b: b}
	now := t0
	for i := range 400 {
		n.flow(now, flowSpec{client: netip.AddrFrom4([4]byte{10, 1, 1, byte(i % 20)}).String(), server: pacs, sport: 104, sent: 1e5, recv: 4e3})
		now = now.Add(time.Minute)
	}
	n.flow(now, flowSpec{client: "10.1.2.1", server: pacs, sport: 104, sent: 1e5, recv: 4e3})
	b.Flush()
	if got := rec.alerts(RuleNewPeer, pacs); len(got) != 0 {
		t.Errorf("hub alerted on a new peer: %s", got[0].Description)
	}
	if !b.devices[netip.MustParseAddr(pacs)].hub || b.Stats().Hubs != 1 {
		t.Error("the archive is not a hub")
	}
}

// TestRelearn: a device relearns after its behaviour changed for good.
func TestRelearn(t *testing.T) {
	cfg := wardConfig()
	b, rec, w, now := learnt(t, cfg)
	if n := b.Relearn(netip.MustParsePrefix(pump + "/32")); n != 1 {
		t.Fatalf("relearn %d devices", n)
	}
	// The pump now talks to a new broker; while relearning, nothing.
	for i := range 2 * 6 * 60 {
		at := now.Add(time.Duration(i) * 30 * time.Second)
		w.flow(at, flowSpec{client: pump, server: "10.1.0.42", sport: 8883, proto: "tls", sent: 900, recv: 300, silent: true})
	}
	now = now.Add(12 * time.Hour)
	// Afterwards the new broker is normal, the old one news.
	w.flow(now, flowSpec{client: pump, server: "10.1.0.42", sport: 8883, proto: "tls", sent: 900, recv: 300, silent: true})
	w.flow(now.Add(time.Second), flowSpec{client: pump, server: broker, sport: 1883, proto: "mqtt", sent: 600, recv: 120})
	b.Flush()
	rec.dump(t)
	got := rec.alerts(RuleNewPeer, pump)
	if len(got) != 1 || !hasValue(got[0], broker) {
		t.Errorf("after relearning: %d new-peer alerts; want one, for the old broker", len(got))
	}
	if b.Stats().Relearned != 1 {
		t.Error("relearn not counted")
	}
}

// TestBoundedMemory: hostile input — tens of thousands of spoofed
// sources, ports, topics and hardware addresses aimed at the ward's
// devices — stays within the limits, every eviction is counted, the
// learnt devices are never pushed out by new ones, and each device holds
// at most one alert per feature kind.
func TestBoundedMemory(t *testing.T) {
	cfg := wardConfig()
	cfg.Limits.MaxDevices = 500
	b, rec, w, now := learnt(t, cfg)
	victims := []string{ct, pacs, his, engine, pump, broker}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 60000
	for i := range n {
		at := now.Add(time.Duration(i) * time.Millisecond)
		src := netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}).String()
		v := victims[i%len(victims)]
		// A spoofed SYN (never completes), a UDP datagram the victim
		// answers on a new port each time, a message on a new topic, a
		// packet claiming the victim's address from a new MAC.
		w.flow(at, flowSpec{client: src, server: v, sport: uint16(1 + i%60000), sent: 60, silent: true})
		w.flow(at, flowSpec{client: src, server: v, transport: "udp", sport: uint16(1 + i%60000), sent: 100, recv: 100})
		w.obs(at, src, v, 40000, 1883, "mqtt", "publish", publish("t/"+strings.Repeat("x", i%200)+string(rune('a'+i%26))))
		f := &event.Flow{ID: "spoof", Start: at, End: at, Transport: "udp",
			Client: event.Endpoint{IP: netip.MustParseAddr(v), Port: 5000, MAC: macOf(src)},
			Server: event.Endpoint{IP: netip.MustParseAddr(src), Port: 9}}
		f.Counts[0] = event.Counts{Packets: 1, Bytes: 60}
		b.Flow(f)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	st := b.Stats()
	lim := b.cfg.Limits
	if st.Devices > lim.MaxDevices {
		t.Errorf("%d devices, limit %d", st.Devices, lim.MaxDevices)
	}
	for _, v := range victims {
		d := b.devices[netip.MustParseAddr(v)]
		if d == nil || d.learning {
			t.Fatalf("learnt device %s pushed out or learning again", v)
		}
		if d.peers.len() != lim.MaxPeers || d.services.len() != lim.MaxServices || d.kinds.len() != lim.MaxKinds || d.macs.len() != lim.MaxMACs {
			t.Errorf("%s: peers %d services %d kinds %d macs %d; the flood should have filled every set to its limit",
				v, d.peers.len(), d.services.len(), d.kinds.len(), d.macs.len())
		}
	}
	for _, d := range b.devices {
		if d.peers.len() > lim.MaxPeers || d.services.len() > lim.MaxServices || d.kinds.len() > lim.MaxKinds || d.macs.len() > lim.MaxMACs {
			t.Fatalf("%v: peers %d services %d kinds %d macs %d beyond the limits", d.addr, d.peers.len(), d.services.len(), d.kinds.len(), d.macs.len())
		}
	}
	if st.DevicesEvicted+st.DevicesFull == 0 || st.PeersEvicted == 0 || st.ServicesEvicted == 0 || st.KindsEvicted == 0 || st.MACsEvicted == 0 {
		t.Errorf("evictions not counted: %+v", st)
	}
	if b.open.Len() > lim.MaxIncidents || b.newDevicesOpen > maxNewDeviceAlerts {
		t.Errorf("%d incidents open (limit %d), %d new-device alerts open", b.open.Len(), lim.MaxIncidents, b.newDevicesOpen)
	}
	// One alert per device and feature kind, not one per flow.
	perDev := map[string]int{}
	for _, a := range rec.alerts("", "") {
		perDev[a.Source.IP.String()+" "+a.Rule]++
	}
	for k, c := range perDev {
		if c > 1 {
			t.Errorf("%s: %d alerts", k, c)
		}
	}
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("devices %d, evicted %d, not followed %d, new devices unalerted %d; heap grew %d kB (%d B per device); evictions: peers %d services %d kinds %d macs %d; alerts %d",
		st.Devices, st.DevicesEvicted, st.DevicesFull, st.NewDevicesUnalerted, grown>>10, grown/int64(st.Devices),
		st.PeersEvicted, st.ServicesEvicted, st.KindsEvicted, st.MACsEvicted, st.AlertsOpened)
	// Memory: the whole table, new devices and full victims, stays within
	// what the limits promise (docs/baselines.md: 40 kB for a device
	// whose every set is full, a few kB for others).
	if grown > int64(st.Devices)*8<<10+int64(len(victims))*64<<10 {
		t.Errorf("heap grew %d kB for %d devices", grown>>10, st.Devices)
	}
}

// TestSaveLoadContinues: a baseline saved and loaded into a new one (as
// across a restart of heir sense) carries on exactly as the original:
// the same alerts, and the same file afterwards.
func TestSaveLoadContinues(t *testing.T) {
	cfg := wardConfig()
	a, recA, w, now := learnt(t, cfg)
	var buf bytes.Buffer
	if err := a.Save(&buf); err != nil {
		t.Fatal(err)
	}
	saved := buf.Bytes()
	b, recB := newBaseline(t, cfg)
	if err := b.Load(bytes.NewReader(saved)); err != nil {
		t.Fatal(err)
	}
	// The same traffic to both: routine, a new peer, a burst, a big flow.
	feed := func(x *Baseline) {
		v := newWard(x)
		v.rng = rand.New(rand.NewPCG(9, 9))
		t := v.run(now, now.Add(2*time.Hour))
		v.flow(t, flowSpec{client: ct, server: "10.1.0.77", sport: 104, sent: 5e6, recv: 3e3})
		v.flow(t.Add(time.Second), flowSpec{client: ct, server: pacs, sport: 104, proto: "dicom", sent: 50e6, recv: 3e3})
		for i := range 100 {
			v.flow(t.Add(time.Duration(i)*10*time.Millisecond), flowSpec{client: "10.1.0.66", server: engine, sport: 2575, sent: 100, recv: 100})
		}
		v.run(t, t.Add(time.Hour))
		x.Flush()
	}
	_ = w
	feed(a)
	feed(b)
	ga, gb := recA.alerts("", ""), recB.alerts("", "")
	if len(ga) == 0 {
		t.Fatal("no alerts: the test traffic should raise some")
	}
	if len(ga) != len(gb) {
		t.Fatalf("%d alerts without restart, %d after", len(ga), len(gb))
	}
	for i := range ga {
		if ga[i].ID != gb[i].ID || ga[i].Score != gb[i].Score || ga[i].Description != gb[i].Description {
			t.Errorf("alert %d differs:\n%s\n%s", i, ga[i].Description, gb[i].Description)
		}
	}
	var sa, sb bytes.Buffer
	if err := a.Save(&sa); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(&sb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sa.Bytes(), sb.Bytes()) {
		t.Error("the saved files differ after the same traffic")
	}
	t.Logf("saved baseline: %d bytes for %d devices", len(saved), a.Stats().Devices)
}

// TestLoadRejects: broken files are refused with the reason and leave the
// baseline as it was.
func TestLoadRejects(t *testing.T) {
	b, _, _, _ := learnt(t, wardConfig())
	var good bytes.Buffer
	if err := b.Save(&good); err != nil {
		t.Fatal(err)
	}
	devices := b.Stats().Devices
	for _, tc := range []struct{ name, from, to, want string }{
		{"version", `"v":1`, `"v":2`, "version 2"},
		{"type", `"type":"baseline"`, `"type":"alert"`, "type"},
		{"nan", `"m":`, `"m":1e999,"x":`, "load baseline"},
		{"spread", `"s":`, `"s":-1,"y":`, "out of range"},
		{"key", `"k":"`, `"k":"zz`, "hexadecimal"},
	} {
		bad := strings.Replace(good.String(), tc.from, tc.to, 1)
		if bad == good.String() {
			t.Fatalf("%s: nothing replaced", tc.name)
		}
		err := b.Load(strings.NewReader(bad))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
		if b.Stats().Devices != devices {
			t.Errorf("%s: a refused file changed the baseline", tc.name)
		}
	}
}

// TestConfigValidate names what is wrong.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Threshold: -1}, "Threshold"},
		{Config{AdaptRate: 2}, "AdaptRate"},
		{Config{MinSamples: 99}, "MinSamples"},
		{Config{Window: time.Microsecond}, "Window"},
		{Config{Limits: Limits{MaxPeers: -3}}, "MaxPeers"},
		{Config{Quiet: -time.Second}, "Quiet"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
