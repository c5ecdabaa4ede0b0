package detect

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/detect/indicator"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto"
	httpproto "github.com/heir-emd/heir/internal/proto/http"
	"github.com/heir-emd/heir/internal/sensor"
)

func login(t time.Time, src, dst string, outcome, user string) *event.Observation {
	return obs(t, src, 40000, dst, 21, "ftp", "login", map[string]any{"outcome": outcome, "user": user})
}

// One incident is one alert: five failures open it, later ones update it
// (same id, growing count), and it is final after the quiet window.
func TestBruteForceIncident(t *testing.T) {
	rec := &recorder{}
	e, err := New(Config{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		e.Observe(login(t0.Add(time.Duration(i)*time.Second), "10.0.0.66", "10.0.0.50", "failure", "admin"))
	}
	e.Observe(login(t0.Add(5*time.Second), "10.0.0.66", "10.0.0.50", "success", "admin"))
	if len(rec.alerts) != 0 {
		t.Fatalf("alert below the threshold: %+v", rec.alerts)
	}
	e.Observe(login(t0.Add(6*time.Second), "10.0.0.66", "10.0.0.50", "failure", "root"))
	if len(rec.alerts) != 1 {
		t.Fatalf("%d alerts after 5 failures", len(rec.alerts))
	}
	first := rec.alerts[0]
	if first.Rule != "bruteforce-login" || first.Count != 5 || first.Final || first.Source.IP.String() != "10.0.0.66" ||
		len(first.Targets) != 1 || first.Targets[0].Port != 21 || first.Samples["user"] != "admin,root" || first.Start != t0 {
		t.Fatalf("first alert %+v", first)
	}
	// 20 more failures within the window: updates, not new alerts.
	for i := 0; i < 20; i++ {
		e.Observe(login(t0.Add(7*time.Second+time.Duration(i)*time.Second), "10.0.0.66", "10.0.0.50", "failure", "admin"))
	}
	// Quiet: 2 minutes later the incident closes.
	e.Tick(t0.Add(5 * time.Minute))
	last := rec.alerts[len(rec.alerts)-1]
	if !last.Final || last.ID != first.ID || last.Count != 25 {
		t.Fatalf("last alert %+v", last)
	}
	for _, a := range rec.alerts {
		if a.ID != first.ID {
			t.Fatalf("a second incident: %+v", a)
		}
	}
	if len(rec.alerts) > 5 {
		t.Errorf("%d emissions for one incident: updates are not rate-limited", len(rec.alerts))
	}
	// A new burst later is a new alert.
	for i := 0; i < 5; i++ {
		e.Observe(login(t0.Add(10*time.Minute+time.Duration(i)*time.Second), "10.0.0.66", "10.0.0.50", "failure", "admin"))
	}
	if a := rec.alerts[len(rec.alerts)-1]; a.ID == first.ID || a.Final {
		t.Errorf("second burst: %+v", a)
	}
	// Different targets are different incidents.
	st := e.Stats()
	if st.AlertsOpened != 2 || st.AlertsFinal != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Failures spread beyond the window do not add up.
func TestWindowSlides(t *testing.T) {
	e, c := newTestEngine(t, Config{})
	for i := 0; i < 10; i++ {
		e.Observe(login(t0.Add(time.Duration(i)*40*time.Second), "10.0.0.66", "10.0.0.50", "failure", "admin"))
	}
	if a := byRule(c, "bruteforce-login"); len(a) != 0 {
		t.Fatalf("one failure per 40 s raised %+v", a[0])
	}
}

func TestDistinctAndSum(t *testing.T) {
	e, c := newTestEngine(t, Config{})
	users := []string{"a", "b", "c", "d"}
	for i, u := range users {
		e.Observe(login(t0.Add(time.Duration(i)*time.Second), "10.0.0.66", "10.0.0."+string(rune('1'+i)), "failure", u))
	}
	if len(byRule(c, "password-spraying")) != 0 {
		t.Fatal("4 users raised spraying")
	}
	e.Observe(login(t0.Add(5*time.Second), "10.0.0.66", "10.0.0.9", "failure", "e"))
	sp := byRule(c, "password-spraying")
	if len(sp) != 1 || sp[0].Counts["users"] != 5 {
		t.Fatalf("spraying %+v", sp)
	}
	if d := byRule(c, "password-spraying-devices"); len(d) != 1 || d[0].Counts["hosts"] != 5 || d[0].TargetCount != 5 {
		t.Fatalf("devices %+v", d)
	}
	// MQTT publish flood: a sum over session summaries.
	for i := 0; i < 19; i++ {
		e.Observe(obs(t0.Add(time.Duration(i)*100*time.Millisecond), "10.0.0.66", uint16(50000+i), "10.0.0.41", 1883, "mqtt", "session-summary",
			map[string]any{"publishes": 50, "client_id": "x"}))
	}
	if len(byRule(c, "mqtt-publish-flood")) != 0 {
		t.Fatal("950 publishes raised a flood")
	}
	e.Observe(obs(t0.Add(2*time.Second), "10.0.0.66", 50100, "10.0.0.41", 1883, "mqtt", "session-summary", map[string]any{"publishes": 50}))
	if f := byRule(c, "mqtt-publish-flood"); len(f) != 1 || f[0].Counts["publishes"] != 1000 {
		t.Fatalf("flood %+v", f)
	}
}

func ruleFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A reload swaps rules without a restart; a broken file is refused and the
// rules in force stay.
func TestReload(t *testing.T) {
	path := ruleFile(t, okRule)
	files := Files{Rules: path}
	rs, ind, err := files.Load()
	if err != nil {
		t.Fatal(err)
	}
	e, c := newTestEngine(t, Config{Rules: rs, Indicators: ind})
	os.WriteFile(path, []byte(strings.Replace(okRule, "count: 5", "count: 2", 1)+"  - broken\n"), 0o644)
	err = e.ReloadFiles(files)
	if err == nil || !strings.Contains(err.Error(), "rules.yaml:14:") {
		t.Fatalf("broken file: %v", err)
	}
	for i := 0; i < 4; i++ {
		e.Observe(login(t0.Add(time.Duration(i)*time.Second), "10.0.0.66", "10.0.0.50", "failure", "admin"))
	}
	if n := len(c.Alerts()); n != 0 {
		t.Fatalf("old rule (count 5) not in force: %d alerts", n)
	}
	// A good change takes effect at the next event.
	os.WriteFile(path, []byte(strings.Replace(okRule, "count: 5", "count: 2", 1)), 0o644)
	if err := e.ReloadFiles(files); err != nil {
		t.Fatal(err)
	}
	e.Observe(login(t0.Add(5*time.Second), "10.0.0.66", "10.0.0.51", "failure", "admin"))
	e.Observe(login(t0.Add(6*time.Second), "10.0.0.66", "10.0.0.51", "failure", "admin"))
	if a := c.Alerts(); len(a) != 1 || a[0].Rule != "brute" {
		t.Fatalf("after reload: %+v", a)
	}
	if st := e.Stats(); st.Reloads != 1 || st.ReloadErrors != 1 || !strings.HasPrefix(st.RuleSet, path) {
		t.Errorf("stats %+v", st)
	}
	// A wording change keeps the rule's state: the open incident goes on
	// under the new title.
	os.WriteFile(path, []byte(strings.Replace(strings.Replace(okRule, "count: 5", "count: 2", 1), "Guessing against", "Guesses at", 1)), 0o644)
	e.ReloadFiles(files)
	e.Observe(login(t0.Add(7*time.Second), "10.0.0.66", "10.0.0.51", "failure", "admin"))
	e.Flush()
	a := c.Alerts()
	if len(a) != 1 || !strings.HasPrefix(a[0].Title, "Guesses at") || a[0].Count != 3 || !a[0].Final {
		t.Fatalf("after wording reload: %+v", a)
	}
}

// WatchFiles reloads a changed file and keeps the rules on a broken one.
func TestWatchFiles(t *testing.T) {
	path := ruleFile(t, okRule)
	rs, _ := LoadRules(path)
	e, _ := newTestEngine(t, Config{Rules: rs})
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- e.WatchFiles(ctx, Files{Rules: path}, 10*time.Millisecond) }()
	// The watcher may take its first look after a write: keep changing
	// the file (its size too) until it notices.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; e.pending.Load() == nil; i++ {
		if time.Now().After(deadline) {
			t.Fatal("change not picked up")
		}
		os.WriteFile(path, []byte(strings.Replace(okRule, "count: 5", "count:"+strings.Repeat(" ", 1+i%2)+"3", 1)), 0o644)
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("WatchFiles returned nil after cancel")
	}
	e.Tick(t0)
	if e.cur.byID["brute"].count != 3 {
		t.Error("new rules not in force")
	}
}

// --- packet-level detectors ---

var mac1 = [6]byte{2, 0, 0, 0, 0, 0x66}

func synPacket(src, dst string, dport uint16, flags uint8) *packet.Packet {
	return &packet.Packet{HasEth: true, SrcMAC: mac1, IPVersion: 4, Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		Proto: packet.ProtoTCP, SrcPort: 45000, DstPort: dport, TCPFlags: flags}
}

// probeFlow plays what the sensor does for a new TCP flow: Packet, then
// FlowStart.
func probeFlow(e *Engine, t time.Time, src, dst string, dport uint16, flags uint8) {
	p := synPacket(src, dst, dport, flags)
	e.Packet(p, t, 60)
	c := &proto.Conn{ID: src + ">" + dst, Transport: proto.TCP, Client: event.Endpoint{IP: p.Src, Port: p.SrcPort},
		Server: event.Endpoint{IP: p.Dst, Port: dport}}
	e.FlowStart(c, t)
}

func rst(e *Engine, t time.Time, from, to string) {
	p := synPacket(from, to, 45000, packet.RST|packet.ACK)
	e.Packet(p, t, 60)
}

func TestPortScan(t *testing.T) {
	cases := []struct {
		name    string
		ports   int
		refused bool
		flags   uint8
		want    string // scan type, "" for no alert
	}{
		{"syn scan with refusals", 30, true, packet.SYN, "tcp-syn"},
		{"fin scan", 30, true, packet.FIN, "tcp-fin"},
		{"xmas scan", 30, true, packet.FIN | packet.PSH | packet.URG, "tcp-xmas"},
		{"null scan", 30, true, 0, "tcp-null"},
		{"too few ports", 15, true, packet.SYN, ""},
		{"no refusals", 100, false, packet.SYN, ""},
		{"no refusals, many probes", 600, false, packet.SYN, "tcp-syn"},
	}
	for _, tc := range cases {
		e, c := newTestEngine(t, Config{})
		tm := t0
		for i := 0; i < tc.ports; i++ {
			tm = tm.Add(time.Millisecond)
			dst := "10.0.1." + itoa(1+i%5)
			probeFlow(e, tm, "10.0.0.66", dst, uint16(1000+i), tc.flags)
			if tc.refused {
				rst(e, tm, dst, "10.0.0.66")
			}
		}
		a := byRule(c, "port-scan")
		if tc.want == "" {
			if len(a) != 0 {
				t.Errorf("%s: alert %+v", tc.name, a[0])
			}
			continue
		}
		if len(a) != 1 || a[0].Samples["scan_type"] != tc.want || a[0].TargetCount != 5 || a[0].Source.IP.String() != "10.0.0.66" {
			t.Errorf("%s: alerts %+v", tc.name, a)
		}
	}
}

// A horizontal scan (one port on many hosts) and a UDP scan answered by
// ICMP port unreachables.
func TestHorizontalAndUDPScans(t *testing.T) {
	e, c := newTestEngine(t, Config{})
	for i := 0; i < 30; i++ {
		tm := t0.Add(time.Duration(i) * time.Millisecond)
		dst := "10.0.5." + itoa(1+i)
		probeFlow(e, tm, "10.0.0.66", dst, 445, packet.SYN)
		rst(e, tm, dst, "10.0.0.66")
	}
	e.Flush()
	if a := byRule(c, "port-scan"); len(a) != 1 || a[0].TargetCount != 30 || a[0].Counts["ports"] != 1 {
		t.Fatalf("horizontal scan %+v", a)
	}
	e2, c2 := newTestEngine(t, Config{})
	for i := 0; i < 30; i++ {
		tm := t0.Add(time.Duration(i) * time.Millisecond)
		src, dst := netip.MustParseAddr("10.0.0.67"), netip.MustParseAddr("10.0.6.1")
		p := &packet.Packet{IPVersion: 4, Src: src, Dst: dst, Proto: packet.ProtoUDP, SrcPort: 40000, DstPort: uint16(100 + i)}
		e2.Packet(p, tm, 60)
		e2.FlowStart(&proto.Conn{ID: "u" + itoa(i), Transport: proto.UDP, Client: event.Endpoint{IP: src, Port: 40000},
			Server: event.Endpoint{IP: dst, Port: uint16(100 + i)}}, tm)
		e2.Packet(&packet.Packet{IPVersion: 4, Src: dst, Dst: src, Proto: packet.ProtoICMP, ICMPType: 3, ICMPCode: 3}, tm, 70)
	}
	e2.Flush()
	if a := byRule(c2, "port-scan"); len(a) != 1 || a[0].Samples["scan_type"] != "udp" || a[0].Counts["failed"] < 10 {
		t.Fatalf("udp scan %+v", a)
	}
}

// Connections repeated to the same few services are not a scan, however
// many there are.
func TestRepeatedConnectionsAreNotAScan(t *testing.T) {
	e, c := newTestEngine(t, Config{})
	for i := 0; i < 2000; i++ {
		tm := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		probeFlow(e, tm, "10.0.0.20", "10.0.0.10", uint16(4242+i%3), packet.SYN)
		if i%2 == 0 {
			rst(e, tm, "10.0.0.10", "10.0.0.20")
		}
	}
	if a := byRule(c, "port-scan"); len(a) != 0 {
		t.Fatalf("alert %+v", a[0])
	}
}

func TestScanIgnoredSource(t *testing.T) {
	body := strings.Replace(DefaultRulesYAML(), "      min_probes_any: 500\n", "      min_probes_any: 500\n      ignore_sources: [10.0.0.64/30]\n", 1)
	rs, err := ParseRules("r.yaml", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	e, c := newTestEngine(t, Config{Rules: rs})
	for i := 0; i < 50; i++ {
		probeFlow(e, t0.Add(time.Duration(i)*time.Millisecond), "10.0.0.66", "10.0.1.1", uint16(1000+i), packet.SYN)
		rst(e, t0.Add(time.Duration(i)*time.Millisecond), "10.0.1.1", "10.0.0.66")
	}
	if a := byRule(c, "port-scan"); len(a) != 0 {
		t.Fatalf("ignored source alerted: %+v", a[0])
	}
}

func arp(t time.Time, op uint16, smac [6]byte, sip, tip string) *sensor.ARP {
	return &sensor.ARP{Time: t, Op: op, SenderMAC: smac, SenderIP: netip.MustParseAddr(sip), TargetIP: netip.MustParseAddr(tip)}
}

func TestHostSweep(t *testing.T) {
	e, c := newTestEngine(t, Config{})
	// A router ARPs for 40 hosts that answer: not a sweep.
	router := [6]byte{2, 0, 0, 0, 0, 1}
	for i := 0; i < 40; i++ {
		tm := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		ip := "10.0.2." + itoa(10+i)
		e.ARP(arp(tm, 1, router, "10.0.2.1", ip))
		host := [6]byte{2, 0, 0, 0, 1, byte(i)}
		e.ARP(&sensor.ARP{Time: tm.Add(time.Millisecond), Op: 2, SenderMAC: host, SenderIP: netip.MustParseAddr(ip),
			TargetMAC: router, TargetIP: netip.MustParseAddr("10.0.2.1")})
	}
	e.Tick(t0.Add(5 * time.Second))
	if a := byRule(c, "host-sweep"); len(a) != 0 {
		t.Fatalf("answered ARPs raised %+v", a[0])
	}
	// A scanner ARPs for 100 addresses nobody holds, and pings 10 that
	// exist: a sweep, reported within about a second of event time.
	for i := 0; i < 100; i++ {
		e.ARP(arp(t0.Add(10*time.Second+time.Duration(i)*time.Millisecond), 1, mac1, "10.0.2.66", "10.0.3."+itoa(i)))
	}
	for i := 0; i < 10; i++ {
		p := &packet.Packet{IPVersion: 4, Src: netip.MustParseAddr("10.0.2.66"), Dst: netip.MustParseAddr("10.0.2." + itoa(10+i)),
			Proto: packet.ProtoICMP, ICMPType: 8}
		e.Packet(p, t0.Add(10*time.Second+time.Duration(i)*time.Millisecond), 98)
	}
	e.Tick(t0.Add(12500 * time.Millisecond))
	a := byRule(c, "host-sweep")
	if len(a) != 1 || a[0].Start.After(t0.Add(10*time.Second+100*time.Millisecond)) {
		t.Fatalf("sweep not reported by 2.5 s: %+v", a)
	}
	e.Flush()
	a = byRule(c, "host-sweep")
	if len(a) != 1 || a[0].TargetCount != 110 || a[0].Source.IP.String() != "10.0.2.66" || a[0].Source.MAC != "02:00:00:00:00:66" {
		t.Fatalf("sweep alerts %+v", a)
	}
}

func TestFloods(t *testing.T) {
	e, c := newTestEngine(t, Config{})
	// 900 SYN in a second: under the rate.
	for i := 0; i < 900; i++ {
		e.Packet(synPacket("10.9.0."+itoa(i%200), "10.0.0.10", 4242, packet.SYN), t0.Add(time.Duration(i)*time.Millisecond), 60)
	}
	if len(byRule(c, "syn-flood")) != 0 {
		t.Fatal("900 SYN/s raised a flood")
	}
	// 1000 within 200 ms: the alert comes at the 1000th packet, before
	// the second is over.
	base := t0.Add(10 * time.Second)
	var at time.Time
	for i := 0; i < 3000; i++ {
		tm := base.Add(time.Duration(i) * 200 * time.Microsecond)
		e.Packet(synPacket("10.9.1."+itoa(i%250), "10.0.0.10", 4242, packet.SYN), tm, 60)
		if at.IsZero() && len(byRule(c, "syn-flood")) > 0 {
			at = tm
		}
	}
	if at.IsZero() || at.Sub(base) > 250*time.Millisecond {
		t.Fatalf("flood alert at %v after its start", at.Sub(base))
	}
	e.Flush()
	a := byRule(c, "syn-flood")
	if len(a) != 1 || a[0].Count != 3000 || a[0].Counts["peak_pps"] < 3000 || a[0].Targets[0].IP.String() != "10.0.0.10" {
		t.Fatalf("flood %+v", a)
	}
}

func TestARPSpoofing(t *testing.T) {
	e, c := newTestEngine(t, Config{})
	real := [6]byte{2, 0, 0, 0, 0, 0x10}
	evil := [6]byte{2, 0, 0, 0, 0, 0x66}
	e.ARP(arp(t0, 2, real, "10.0.0.10", "10.0.0.20"))
	// A new MAC takes the address after the old one went silent for an
	// hour: a reassignment.
	e.ARP(arp(t0.Add(time.Hour), 2, evil, "10.0.0.10", "10.0.0.20"))
	e.ARP(arp(t0.Add(time.Hour+time.Second), 2, evil, "10.0.0.10", "10.0.0.20"))
	if len(byRule(c, "arp-spoofing")) != 0 {
		t.Fatal("reassignment raised an alert")
	}
	// Now the first MAC comes back and both answer: poisoning.
	base := t0.Add(2 * time.Hour)
	for i := 0; i < 10; i++ {
		m := real
		if i%2 == 1 {
			m = evil
		}
		e.ARP(arp(base.Add(time.Duration(i)*time.Second), 2, m, "10.0.0.10", "10.0.0.20"))
	}
	a := byRule(c, "arp-spoofing")
	if len(a) != 1 || a[0].Source.IP.String() != "10.0.0.10" || a[0].Samples["new_mac"] == a[0].Samples["old_mac"] {
		t.Fatalf("spoofing alerts %+v", a)
	}
	// A storm of gratuitous ARPs.
	for i := 0; i < 60; i++ {
		e.ARP(arp(base.Add(time.Duration(i)*50*time.Millisecond), 1, evil, "10.0.0.99", "10.0.0.99"))
	}
	if s := byRule(c, "arp-storm"); len(s) != 1 || s[0].Counts["gratuitous"] < 50 {
		t.Fatalf("storm %+v", s)
	}
}

func TestIndicators(t *testing.T) {
	set := indicator.NewSet()
	for _, ind := range []indicator.Indicator{
		{Type: indicator.TypeIP, Value: "198.51.100.7", Description: "botnet C2", Source: "list:1"},
		{Type: indicator.TypeDomain, Value: "evil.example", Description: "xmrig mining pool", Source: "list:2"},
		{Type: indicator.TypeCert, Value: "0ddb34f875632c7e1ec09d75827f82d2336dfeb6", Description: "AsyncRAT C&C", Source: "sslbl.csv:10"},
	} {
		if err := set.Add(ind); err != nil {
			t.Fatal(err)
		}
	}
	e, c := newTestEngine(t, Config{Indicators: set})
	// A flow to a listed address, twice: one alert.
	for i := 0; i < 2; i++ {
		p := synPacket("10.0.0.30", "198.51.100.7", 443, packet.SYN)
		p.SrcPort = uint16(50000 + i)
		e.Packet(p, t0.Add(time.Duration(i)*time.Second), 60)
		e.FlowStart(&proto.Conn{ID: "flow" + itoa(i), Transport: proto.TCP, Client: event.Endpoint{IP: p.Src, Port: p.SrcPort},
			Server: event.Endpoint{IP: p.Dst, Port: 443}}, t0.Add(time.Duration(i)*time.Second))
	}
	// A DNS question for a name under a listed domain.
	e.Observe(obs(t0, "10.0.0.31", 5353, "10.0.0.2", 53, "dns", "query", map[string]any{"name": "pool.EVIL.example."}))
	// A certificate in a chain.
	e.Observe(reply(t0, "203.0.113.5", 443, "10.0.0.32", 40000, "tls", "certificate", map[string]any{
		"certificates": []map[string]any{{"sha1": "0DDB34F875632C7E1EC09D75827F82D2336DFEB6"}, {"sha1": "00"}}}))
	// An HTTP Host header with a port.
	e.Observe(obs(t0, "10.0.0.33", 40000, "203.0.113.6", 80, "http", "request", &httpproto.Request{Host: "www.evil.example:8080"}))
	e.Flush()
	a := byRule(c, "known-bad-peer")
	got := map[string]event.Alert{}
	for _, x := range a {
		got[x.Source.IP.String()] = x
	}
	if len(a) != 4 || got["10.0.0.30"].Counts["flows"] != 2 || got["10.0.0.31"].Samples["seen_in"] != "dns" ||
		got["10.0.0.32"].Samples["indicator"] != "0ddb34f875632c7e1ec09d75827f82d2336dfeb6" ||
		got["10.0.0.33"].Samples["seen_in"] != "http-host" {
		t.Fatalf("alerts %+v", a)
	}
	mining := false
	for _, tag := range got["10.0.0.31"].Tags {
		if tag.Taxonomy == event.TaxENISA && tag.ID == "13" {
			mining = true
		}
	}
	if !mining {
		t.Error("a mining pool's alert lacks ENISA 13 Cryptojacking")
	}
	fs := c.Findings()
	if len(fs) != 1 || fs[0].Rule != "blocklisted-certificate" || fs[0].Endpoint.IP.String() != "203.0.113.5" || fs[0].Endpoint.Port != 443 {
		t.Fatalf("findings %+v", fs)
	}
}

func dicomObs(t time.Time, toServer bool, kind string, detail map[string]any) *event.Observation {
	if toServer {
		return obs(t, "10.0.0.66", 40000, "10.0.0.10", 4242, "dicom", kind, detail)
	}
	return reply(t, "10.0.0.10", 4242, "10.0.0.66", 40000, "dicom", kind, detail)
}

func TestDICOMExfiltration(t *testing.T) {
	retrieve := func(e *Engine, base time.Time, n int, wildcard bool) {
		d := map[string]any{"query_level": "STUDY"}
		if wildcard {
			d = map[string]any{"query_level": "PATIENT", "wildcards": []map[string]any{{"keyword": "PatientName"}}}
		}
		e.Observe(dicomObs(base, true, "associate-rq", map[string]any{"calling_ae": "VIEWER"}))
		e.Observe(dicomObs(base, true, "c-find-rq", d))
		for i := 0; i < n; i++ {
			e.Observe(dicomObs(base.Add(time.Duration(i)*time.Millisecond), false, "c-find-rsp", map[string]any{"status_class": "pending", "data_set": true}))
		}
	}
	// A new peer that gets 4 matches: below min_records, no wildcard.
	e, c := newTestEngine(t, Config{})
	retrieve(e, t0, 4, false)
	if len(byRule(c, "dicom-exfiltration")) != 0 {
		t.Fatal("4 matches raised an alert")
	}
	// 12 matches: an alert, once; after it, the peer is usual.
	retrieve(e, t0.Add(time.Second), 12, false)
	e.Tick(t0.Add(10 * time.Minute))
	a := byRule(c, "dicom-exfiltration")
	if len(a) != 1 || a[0].Counts["matches"] != 16 || a[0].Samples["calling_ae"] != "VIEWER" || !a[0].Final {
		t.Fatalf("alerts %+v", a)
	}
	retrieve(e, t0.Add(20*time.Minute), 50, true)
	if len(byRule(c, "dicom-exfiltration")) != 1 {
		t.Fatal("a learnt peer alerted again")
	}
	// A wildcard patient query is enough with any match.
	e2, c2 := newTestEngine(t, Config{})
	retrieve(e2, t0, 1, true)
	if a := byRule(c2, "dicom-exfiltration"); len(a) != 1 || a[0].Samples["wildcard"] == "" {
		t.Fatalf("wildcard: %+v", a)
	}
	// During the learning period every peer is learnt.
	rs, err := ParseRules("r.yaml", []byte(strings.Replace(DefaultRulesYAML(), "      min_records: 10\n", "      min_records: 10\n      learn: 1h\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	e3, c3 := newTestEngine(t, Config{Rules: rs})
	retrieve(e3, t0, 50, true)
	retrieve(e3, t0.Add(2*time.Hour), 50, true)
	if a := byRule(c3, "dicom-exfiltration"); len(a) != 0 {
		t.Fatalf("learnt peer: %+v", a)
	}
}

func TestWebAttackAlert(t *testing.T) {
	e, c := newTestEngine(t, Config{})
	for i := 0; i < 3; i++ {
		e.Observe(obs(t0.Add(time.Duration(i)*time.Second), "10.0.0.66", uint16(40000+i), "10.0.0.50", 80, "http", "request",
			&httpproto.Request{Attacks: []httpproto.Attack{{Class: "sqli", Rule: "sqli-union", Where: "query", Param: "id"},
				{Class: "xss", Rule: "xss-script", Where: "query", Param: "q"}}}))
	}
	e.Flush()
	inj, xss := byRule(c, "web-injection"), byRule(c, "web-xss")
	if len(inj) != 1 || inj[0].Counts["requests"] != 3 || inj[0].Samples["params"] != "id" || inj[0].Samples["patterns"] != "sqli-union" {
		t.Fatalf("injection %+v", inj)
	}
	if len(xss) != 1 || xss[0].Samples["params"] != "q" {
		t.Fatalf("xss %+v", xss)
	}
}

// The state is bounded: a flood of sources beyond MaxHosts evicts, and
// counts it.
func TestBoundedHosts(t *testing.T) {
	e, _ := newTestEngine(t, Config{Limits: Limits{MaxHosts: 64, MaxPairs: 256}})
	for i := 0; i < 1000; i++ {
		probeFlow(e, t0.Add(time.Duration(i)*time.Millisecond), "10.1."+itoa(i/250)+"."+itoa(i%250), "10.0.0.1", 80, packet.SYN)
	}
	st := e.Stats()
	if len(e.hosts.h) > 64 || st.HostsEvicted == 0 || e.pairs.n > 256 {
		t.Fatalf("hosts %d evicted %d pairs %d", len(e.hosts.h), st.HostsEvicted, e.pairs.n)
	}
}

func itoa(i int) string { return strconvItoa(i) }

// Groups of field rules that go idle are dropped: what is kept is the
// active ones, not every source ever seen.
func TestGroupsExpire(t *testing.T) {
	e, _ := newTestEngine(t, Config{})
	for i := 0; i < 3000; i++ {
		e.Observe(login(t0.Add(time.Duration(i)*100*time.Millisecond), "10.2."+itoa(i/250)+"."+itoa(i%250), "10.0.0.50", "failure", "u"))
	}
	st := e.cur.states["bruteforce-login"]
	if n := len(st.groups); n > 1300 {
		t.Fatalf("%d groups kept for sources idle longer than the window", n)
	}
	e.Tick(t0.Add(time.Hour))
	if n := len(st.groups); n != 0 {
		t.Fatalf("%d groups left after an idle hour", n)
	}
}
