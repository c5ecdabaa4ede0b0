package asset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
)

func FuzzParseRules(f *testing.F) {
	// A few default rules rather than the whole file: minimising a 10 KB
	// input under coverage instrumentation takes minutes per find.
	small, err := json.Marshal(RuleFile{Version: 1, Rules: DefaultRules()[2:6]})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	roles := DefaultRoles()
	f.Add([]byte(`{"version":1,"roles":{"x":"y"},"rules":[{"id":"a","role":"x","confidence":0.5,"reason":"r","all":[{"attr":"peers","min":1}],"none":[{"attr":"banner","keywords":["a b"]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rf, err := ParseRules(bytes.NewReader(data), roles)
		if err != nil {
			return
		}
		rs := compile(rf.Rules)
		v := &view{
			values: map[string][]viewValue{"banner": {{value: "Patient Monitor", lower: "patient monitor", conf: 0.9}}, "server": {{value: "dicom", lower: "dicom", conf: 1}}},
			nums:   map[string]int{numPeers: 3}, numEv: map[string]event.Evidence{},
		}
		for _, m := range evaluate(rs, v) {
			if !(m.score >= 0 && m.score <= 1) {
				t.Fatalf("score %v", m.score)
			}
		}
	})
}

// FuzzInventory drives an inventory with operations decoded from the
// input over a small pool of addresses, so that bindings collide, move,
// and make routers, and checks its invariants after each run.
func FuzzInventory(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 1, 4, 5, 6, 2, 7, 8, 9, 0, 4, 2, 3})
	f.Add(bytes.Repeat([]byte{1, 9, 3, 0, 1, 10, 3, 1, 1, 11, 3, 2, 1, 12, 3, 3, 1, 13, 3, 4, 1, 14, 3, 5}, 3))
	f.Add([]byte("\x02\x05\x06\x07pump\x00\x02\x05\x06\x08vitals\x03\x00\x01\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := New(Config{MaxDevices: 8, MaxValues: 3, MaxIPs: 3, MaxServices: 3, MaxPeers: 4, MaxWeaknesses: 2,
			MaxProtocols: 2, MaxTargets: 4, RouterIPs: 2, RouterIPv6: 2, MaxHistory: 2})
		if err != nil {
			t.Fatal(err)
		}
		ips := []netip.Addr{
			netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3"),
			netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("0.0.0.0"),
			netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("fe80::1"), netip.MustParseAddr("2001:db8::1"),
			netip.MustParseAddr("224.0.0.251"), netip.MustParseAddr("10.0.0.4"), netip.MustParseAddr("10.0.0.5"),
			netip.MustParseAddr("10.0.0.6"), netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.0.8"), {},
		}
		macs := []string{"", "02:00:00:00:00:01", "02:00:00:00:00:02", "00:1c:23:00:00:03", "ff:ff:ff:ff:ff:ff",
			"01:00:5e:00:00:fb", "00:00:00:00:00:00", "bogus", "02:00:00:00:00:04"}
		attrs := []event.Attr{event.AttrServer, event.AttrClient, event.AttrSoftware, event.AttrHostname, event.AttrMQTTTopic,
			event.AttrBanner, attrMAC, attrIP, event.AttrRole, event.AttrModel}
		next := func() int {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return int(b)
		}
		endpoint := func() event.Endpoint {
			return event.Endpoint{IP: ips[next()%len(ips)], Port: uint16(next() % 4 * 1000), MAC: macs[next()%len(macs)]}
		}
		str := func() string {
			n := next() % 12
			if n > len(data) {
				n = len(data)
			}
			s := string(data[:n])
			data = data[n:]
			return s
		}
		ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for step := 0; len(data) > 0 && step < 200; step++ {
			ts = ts.Add(time.Duration(next()) * time.Minute)
			switch next() % 5 {
			case 0:
				var sm, tm [6]byte
				copy(sm[:], []byte{2, 0, 0, 0, 0, byte(next() % 6)})
				inv.ARP(&sensor.ARP{Time: ts, Op: uint16(next()%2 + 1), SenderMAC: sm, TargetMAC: tm,
					SenderIP: ips[next()%len(ips)], TargetIP: ips[next()%len(ips)]})
			case 1, 2:
				c, s := endpoint(), endpoint()
				id := fmt.Sprint(next() % 6)
				inv.FlowStart(&proto.Conn{ID: id, Transport: proto.TCP, Client: c, Server: s}, ts)
				rec := &event.Flow{ID: id, Start: ts, End: ts, Transport: []string{"tcp", "udp", "icmp"}[next()%3],
					Client: c, Server: s, Proto: []string{"", "dicom", "mqtt"}[next()%3],
					ClientTCP: []string{"S", "SAPF", ""}[next()%3], ServerTCP: []string{"", "SA", "RA", "AP"}[next()%4],
					Continuing: next()%4 == 0}
				rec.Counts[1].Packets = uint64(next() % 2)
				rec.Counts[1].PayloadBytes = uint64(next() % 2)
				inv.Flow(rec)
			case 3:
				o := &event.Observation{Time: ts, Flow: fmt.Sprint(next() % 6), Src: endpoint(), Dst: endpoint(), Transport: "tcp", Proto: str(), Kind: str()}
				for k := next() % 4; k > 0; k-- {
					o.Facts = append(o.Facts, event.Fact{About: []event.About{event.AboutSrc, event.AboutDst, "x"}[next()%3],
						Attr: attrs[next()%len(attrs)], Value: str(), Confidence: float64(next()) / 200})
				}
				if next()%2 == 0 {
					o.Weaknesses = []event.Weakness{{Kind: event.WeakCleartextPHI, About: event.AboutDst, Detail: str()}}
				}
				inv.Observe(o)
			case 4:
				inv.Changes()
			}
			checkInvariants(t, inv)
		}
		seen := map[netip.Addr]bool{}
		for _, a := range inv.Assets() {
			for _, ip := range a.IPs {
				if seen[ip] {
					t.Fatalf("%s in two assets", ip)
				}
				seen[ip] = true
			}
		}
	})
}

func checkInvariants(t *testing.T, inv *Inventory) {
	t.Helper()
	if len(inv.hosts) > inv.cfg.MaxDevices || len(inv.macs) > inv.cfg.MaxDevices {
		t.Fatalf("bounds: %d hosts %d macs", len(inv.hosts), len(inv.macs))
	}
	for ip, h := range inv.hosts {
		if h.ip != ip || h.isMAC {
			t.Fatalf("host record %s mismatched", ip)
		}
		if h.mac != 0 {
			m := inv.macs[h.mac]
			if m == nil || !slices.Contains(m.ips, ip) {
				t.Fatalf("%s bound to %x, which does not list it", ip, h.mac)
			}
			if m.router && !h.strong {
				t.Fatalf("%s weakly bound to router %x", ip, h.mac)
			}
		}
		if len(h.services) > inv.cfg.MaxServices || len(h.peers) > inv.cfg.MaxPeers || len(h.weak) > inv.cfg.MaxWeaknesses || len(h.history) > inv.cfg.MaxHistory {
			t.Fatalf("record bounds exceeded on %s", ip)
		}
	}
	for mac, m := range inv.macs {
		if len(m.ips) > inv.cfg.MaxIPs {
			t.Fatalf("%x holds %d addresses", mac, len(m.ips))
		}
		for _, ip := range m.ips {
			if h := inv.hosts[ip]; h == nil || h.mac != mac {
				t.Fatalf("%x lists %s, which is not bound to it", mac, ip)
			}
		}
	}
	n := 0
	for r := inv.hostLRU.head; r != nil; r = r.next {
		n++
	}
	if n != len(inv.hosts) {
		t.Fatalf("host LRU has %d, map %d", n, len(inv.hosts))
	}
}
