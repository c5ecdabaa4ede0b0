package asset

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/oui"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func ep(ip string, port uint16, mac string) event.Endpoint {
	return event.Endpoint{IP: netip.MustParseAddr(ip), Port: port, MAC: mac}
}

func macOf(t testing.TB, s string) [6]byte {
	t.Helper()
	m, err := oui.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func arp(t testing.TB, inv *Inventory, sec int, op uint16, mac, ip, target string) {
	t.Helper()
	a := &sensor.ARP{Time: at(sec), Frame: uint64(sec), Op: op, SenderMAC: macOf(t, mac), SenderIP: netip.MustParseAddr(ip),
		TargetIP: netip.MustParseAddr(target)}
	inv.ARP(a)
}

// tcpFlow feeds a finished TCP flow: start, record. serverFlags as the
// engine writes them ("SA", "RA", "SAPF" …).
func tcpFlow(inv *Inventory, id string, sec int, c, s event.Endpoint, p, clientFlags, serverFlags string, serverPayload uint64) {
	conn := &proto.Conn{ID: id, Transport: proto.TCP, Client: c, Server: s, Proto: p}
	inv.FlowStart(conn, at(sec))
	rec := &event.Flow{V: 1, Type: event.TypeFlow, ID: id, Start: at(sec), End: at(sec + 1), Transport: "tcp",
		Client: c, Server: s, Proto: p, ClientTCP: clientFlags, ServerTCP: serverFlags}
	rec.Counts[0] = event.Counts{Packets: 3, Bytes: 200, PayloadBytes: 20}
	if serverFlags != "" || serverPayload > 0 {
		rec.Counts[1] = event.Counts{Packets: 2, Bytes: 120 + serverPayload, PayloadBytes: serverPayload}
	}
	inv.Flow(rec)
}

func udpFlow(inv *Inventory, id string, sec int, c, s event.Endpoint, p string, answered bool) {
	inv.FlowStart(&proto.Conn{ID: id, Transport: proto.UDP, Client: c, Server: s, Proto: p}, at(sec))
	rec := &event.Flow{ID: id, Start: at(sec), End: at(sec), Transport: "udp", Client: c, Server: s, Proto: p}
	rec.Counts[0] = event.Counts{Packets: 1, Bytes: 80, PayloadBytes: 40}
	if answered {
		rec.Counts[1] = event.Counts{Packets: 1, Bytes: 90, PayloadBytes: 50}
	}
	inv.Flow(rec)
}

func observe(inv *Inventory, sec int, flow string, src, dst event.Endpoint, p, kind string, facts ...event.Fact) {
	inv.Observe(&event.Observation{V: 1, Type: event.TypeObservation, Time: at(sec), Flow: flow, Frame: uint64(sec),
		Src: src, Dst: dst, Transport: "tcp", Proto: p, Kind: kind, Facts: facts})
}

func fact(about event.About, a event.Attr, v string, c float64) event.Fact {
	return event.Fact{About: about, Attr: a, Value: v, Confidence: c}
}

func newInv(t testing.TB, cfg Config) *Inventory {
	t.Helper()
	if cfg.Vendors == nil {
		reg, err := oui.Embedded()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Vendors = reg
	}
	inv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func find(as []event.Asset, id string) (event.Asset, bool) {
	for _, a := range as {
		if a.ID == id {
			return a, true
		}
	}
	return event.Asset{}, false
}

func mustFind(t testing.TB, inv *Inventory, id string) event.Asset {
	t.Helper()
	as := inv.Assets()
	a, ok := find(as, id)
	if !ok {
		var ids []string
		for _, a := range as {
			ids = append(ids, a.ID)
		}
		t.Fatalf("no asset %s among %v", id, ids)
	}
	return a
}

func hasEvidence(a event.Asset, attr event.Attr, value, source string) bool {
	return slices.ContainsFunc(a.Evidence, func(e event.Evidence) bool {
		return e.Attr == attr && e.Value == value && strings.Contains(e.Source, source)
	})
}

func ips(a event.Asset) []string {
	var out []string
	for _, ip := range a.IPs {
		out = append(out, ip.String())
	}
	return out
}

const (
	dellMAC  = "00:1c:23:aa:bb:01"
	localMAC = "02:4d:4c:00:00:0a"
	gwMAC    = "00:1c:23:00:00:fe"
)

func TestARPBindsAndNamesVendor(t *testing.T) {
	inv := newInv(t, Config{})
	arp(t, inv, 1, 1, dellMAC, "10.1.0.5", "10.1.0.1")
	arp(t, inv, 2, 2, localMAC, "10.1.0.6", "10.1.0.5")
	a := mustFind(t, inv, mid(dellMAC))
	if a.Vendor != "Dell Inc." || !slices.Equal(ips(a), []string{"10.1.0.5"}) {
		t.Errorf("dell device: vendor %q ips %v", a.Vendor, ips(a))
	}
	if !hasEvidence(a, "ip", "10.1.0.5", "arp request") || !hasEvidence(a, event.AttrVendor, "Dell Inc.", "oui") {
		t.Errorf("evidence missing: %+v", a.Evidence)
	}
	l := mustFind(t, inv, mid(localMAC))
	if l.Vendor != "" || !hasEvidence(l, event.AttrVendor, "", "locally administered") {
		t.Errorf("local MAC: vendor %q evidence %+v", l.Vendor, l.Evidence)
	}
	if len(inv.Assets()) != 2 {
		t.Errorf("%d assets, want 2 (ARP targets are not devices)", len(inv.Assets()))
	}
}

func TestARPProbeIsOnlyAMACSighting(t *testing.T) {
	inv := newInv(t, Config{})
	arp(t, inv, 1, 1, dellMAC, "0.0.0.0", "10.1.0.9")
	as := inv.Assets()
	if len(as) != 1 || as[0].ID != mid(dellMAC) || len(as[0].IPs) != 0 {
		t.Fatalf("assets %+v, want one MAC-only device", as)
	}
	// Broadcast and multicast senders are no devices.
	inv.ARP(&sensor.ARP{Time: at(2), Op: 1, SenderMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, SenderIP: netip.MustParseAddr("10.1.0.3")})
	inv.ARP(&sensor.ARP{Time: at(2), Op: 1, SenderMAC: [6]byte{0x01, 0, 0x5e, 0, 0, 1}, SenderIP: netip.MustParseAddr("10.1.0.4")})
	if n := len(inv.Assets()); n != 1 || inv.Stats().ARPIgnored != 2 {
		t.Errorf("%d assets, %d ignored", n, inv.Stats().ARPIgnored)
	}
}

func TestFlowMACBindingAndPeers(t *testing.T) {
	inv := newInv(t, Config{})
	c := ep("192.168.1.20", 50000, localMAC)
	s := ep("192.168.1.10", 443, dellMAC)
	tcpFlow(inv, "f1", 1, c, s, "tls", "SAPF", "SAPF", 3000)
	as := inv.Assets()
	if len(as) != 2 {
		t.Fatalf("%d assets, want 2", len(as))
	}
	srv := mustFind(t, inv, mid(dellMAC))
	if !slices.Equal(ips(srv), []string{"192.168.1.10"}) || srv.Peers != 1 {
		t.Errorf("server ips %v peers %d", ips(srv), srv.Peers)
	}
	if len(srv.Services) != 1 || srv.Services[0] != (event.Service{Transport: "tcp", Port: 443, Proto: "tls"}) {
		t.Errorf("services %+v", srv.Services)
	}
	if !slices.Equal(srv.Protocols, []string{"tls"}) || srv.Role != "web-server" {
		t.Errorf("protocols %v role %q", srv.Protocols, srv.Role)
	}
	cl := mustFind(t, inv, mid(localMAC))
	if len(cl.Services) != 0 || cl.Peers != 1 {
		t.Errorf("client services %+v peers %d", cl.Services, cl.Peers)
	}
	// The binding came from a flow's Ethernet header: weaker than ARP.
	if !slices.ContainsFunc(cl.Evidence, func(e event.Evidence) bool { return e.Attr == "ip" && e.Confidence < 0.9 && e.Flow == "f1" }) {
		t.Errorf("client binding evidence %+v", cl.Evidence)
	}
}

func TestServices(t *testing.T) {
	inv := newInv(t, Config{})
	c := ep("10.0.0.2", 40000, "02:00:00:00:00:02")
	s := ep("10.0.0.3", 0, "02:00:00:00:00:03")
	with := func(port uint16) event.Endpoint { e := s; e.Port = port; return e }
	tcpFlow(inv, "syn-ack", 1, c, with(22), "", "SAR", "SA", 0)      // SYN scan of an open port
	tcpFlow(inv, "rst", 2, c, with(23), "", "S", "RA", 0)            // closed port
	tcpFlow(inv, "silent", 3, c, with(24), "", "S", "", 0)           // filtered
	tcpFlow(inv, "midstream", 4, c, with(40001), "", "AP", "AP", 10) // start not seen, no dissector: unsure
	tcpFlow(inv, "midstream-known", 5, c, with(40002), "x", "AP", "AP", 10)
	udpFlow(inv, "dns", 6, ep("10.0.0.2", 53000, ""), ep("10.0.0.3", 53, ""), "dns", true)
	udpFlow(inv, "syslog", 7, ep("10.0.0.2", 53001, ""), ep("10.0.0.3", 514, ""), "", false) // one-way
	udpFlow(inv, "rtp", 8, ep("10.0.0.2", 40000, ""), ep("10.0.0.3", 40002, ""), "", true)   // peer to peer
	a := mustFind(t, inv, mid("02:00:00:00:00:03"))
	var got []string
	for _, sv := range a.Services {
		got = append(got, serviceValue(sv.Transport, sv.Port, sv.Proto))
	}
	want := []string{"tcp/22", "tcp/40002 x", "udp/53 dns"}
	if !slices.Equal(got, want) {
		t.Errorf("services %v, want %v", got, want)
	}
	cl := mustFind(t, inv, mid("02:00:00:00:00:02"))
	if len(cl.Services) != 0 {
		t.Errorf("client has services %+v", cl.Services)
	}
}

func TestSoftwareGoesToTheServerService(t *testing.T) {
	inv := newInv(t, Config{})
	c := ep("10.0.0.2", 40000, "02:00:00:00:00:02")
	s := ep("10.0.0.3", 4242, "02:00:00:00:00:03")
	conn := &proto.Conn{ID: "d1", Transport: proto.TCP, Client: c, Server: s, Proto: "dicom"}
	inv.FlowStart(conn, at(1))
	observe(inv, 1, "d1", c, s, "dicom", "associate-rq",
		fact(event.AboutSrc, event.AttrSoftware, "OFFIS_DCMTK_367", 0.9),
		fact(event.AboutSrc, event.AttrClient, "dicom", 0.9))
	observe(inv, 1, "d1", s, c, "dicom", "associate-ac",
		fact(event.AboutSrc, event.AttrSoftware, "PACSONE_7", 0.9),
		fact(event.AboutSrc, event.AttrServer, "dicom", 0.9))
	srv := mustFind(t, inv, mid("02:00:00:00:00:03"))
	if len(srv.Services) != 1 || srv.Services[0].Software != "PACSONE_7" || srv.Services[0].Proto != "dicom" {
		t.Errorf("server services %+v", srv.Services)
	}
	cl := mustFind(t, inv, mid("02:00:00:00:00:02"))
	if len(cl.Services) != 0 || !slices.Equal(cl.Software, []string{"OFFIS_DCMTK_367"}) {
		t.Errorf("client services %+v software %v", cl.Services, cl.Software)
	}
	if !slices.Equal(cl.Protocols, []string{"dicom"}) || !slices.Equal(srv.Protocols, []string{"dicom"}) {
		t.Errorf("protocols %v %v", cl.Protocols, srv.Protocols)
	}
}

func TestRouterSplitsAddresses(t *testing.T) {
	inv := newInv(t, Config{})
	arp(t, inv, 0, 1, gwMAC, "10.1.0.1", "10.1.0.50") // the router's own address
	local := ep("10.1.0.50", 40000, "02:00:00:00:00:50")
	// Devices of another subnet reach 10.1.0.50 through the router: each
	// arrives with the router's MAC.
	for i := 1; i <= 5; i++ {
		remote := ep(fmt.Sprintf("10.2.0.%d", i), 50000, gwMAC)
		tcpFlow(inv, fmt.Sprintf("r%d", i), i, remote, ep("10.1.0.50", 443, "02:00:00:00:00:50"), "tls", "SAP", "SAP", 100)
		if i == 3 {
			// Before the threshold the addresses sit on the MAC.
			if a := mustFind(t, inv, mid(gwMAC)); len(a.IPs) != 4 {
				t.Fatalf("before detection: ips %v", ips(a))
			}
		}
	}
	_ = local
	gw := mustFind(t, inv, mid(gwMAC))
	if gw.Role != "network-gateway" || !slices.Equal(ips(gw), []string{"10.1.0.1"}) {
		t.Errorf("router: role %q ips %v", gw.Role, ips(gw))
	}
	if !hasEvidence(gw, event.AttrRole, "network-gateway", "carries 5 IPv4 addresses") {
		t.Errorf("router evidence %+v", gw.Evidence)
	}
	for i := 1; i <= 5; i++ {
		a := mustFind(t, inv, fmt.Sprintf("ip-10.2.0.%d", i))
		if a.MAC != "" || a.Peers != 1 || !slices.Equal(a.Protocols, []string{"tls"}) {
			t.Errorf("device behind router: %+v", a)
		}
	}
	if inv.Stats().Routers != 1 {
		t.Errorf("routers %d", inv.Stats().Routers)
	}
}

func TestRemoteAddressesArePeers(t *testing.T) {
	inv := newInv(t, Config{})
	lan := ep("192.168.5.7", 51000, localMAC)
	tcpFlow(inv, "w1", 1, lan, ep("93.184.216.34", 443, gwMAC), "tls", "SAPF", "SAPF", 5000)
	tcpFlow(inv, "w2", 2, lan, ep("151.101.1.1", 443, gwMAC), "tls", "SAPF", "SAPF", 5000)
	as := inv.Assets()
	if len(as) != 2 {
		t.Fatalf("assets %+v", as)
	}
	gw := mustFind(t, inv, mid(gwMAC))
	if gw.Role != "network-gateway" || len(gw.IPs) != 0 || len(gw.Services) != 0 {
		t.Errorf("gateway %+v", gw)
	}
	if !hasEvidence(gw, event.AttrRole, "network-gateway", "outside the home networks") {
		t.Errorf("gateway evidence %+v", gw.Evidence)
	}
	h := mustFind(t, inv, mid(localMAC))
	if h.Peers != 2 || h.Role != "workstation" {
		t.Errorf("host peers %d role %q", h.Peers, h.Role)
	}
	// Configured home networks make the remote addresses devices.
	inv2 := newInv(t, Config{HomeNets: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}})
	tcpFlow(inv2, "w1", 1, lan, ep("93.184.216.34", 443, "02:00:00:00:00:99"), "tls", "SAPF", "SAPF", 5000)
	if _, ok := find(inv2.Assets(), mid("02:00:00:00:00:99")); !ok {
		t.Error("with 0.0.0.0/0 home, the server is a device")
	}
}

func TestAddressMovesToAnotherMAC(t *testing.T) {
	inv := newInv(t, Config{})
	const a, b = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
	arp(t, inv, 1, 1, a, "10.3.0.9", "10.3.0.1")
	observe(inv, 2, "", ep("10.3.0.9", 0, a), ep("10.3.0.1", 0, ""), "dhcp", "request",
		fact(event.AboutSrc, event.AttrHostname, "old-host", 0.95))
	// A flow still showing A is no reason to move; one showing B is not
	// enough against a fresh ARP binding.
	tcpFlow(inv, "x", 3, ep("10.3.0.9", 40000, b), ep("10.3.0.2", 80, ""), "", "S", "", 0)
	if got := mustFind(t, inv, mid(a)); !slices.Equal(ips(got), []string{"10.3.0.9"}) {
		t.Fatalf("weak evidence moved the address: %v", ips(got))
	}
	if inv.Stats().Conflicts == 0 {
		t.Errorf("conflicts %d", inv.Stats().Conflicts)
	}
	// The address is reassigned: B claims it in ARP.
	arp(t, inv, 100, 2, b, "10.3.0.9", "10.3.0.1")
	observe(inv, 101, "", ep("10.3.0.9", 0, b), ep("10.3.0.1", 0, ""), "dhcp", "request",
		fact(event.AboutSrc, event.AttrHostname, "new-host", 0.95))
	old, nw := mustFind(t, inv, mid(a)), mustFind(t, inv, mid(b))
	if len(old.IPs) != 0 || old.Hostname != "old-host" {
		t.Errorf("old device: ips %v hostname %q", ips(old), old.Hostname)
	}
	if !slices.Equal(ips(nw), []string{"10.3.0.9"}) || nw.Hostname != "new-host" {
		t.Errorf("new device: ips %v hostname %q", ips(nw), nw.Hostname)
	}
	if inv.Stats().Moves != 1 {
		t.Errorf("moves %d", inv.Stats().Moves)
	}
	// Flows after the binding's TTL may move it (no ARP or DHCP seen).
	tcpFlow(inv, "y", 100+int(5*time.Hour/time.Second), ep("10.3.0.9", 40000, a), ep("10.3.0.2", 80, ""), "", "S", "", 0)
	if got := mustFind(t, inv, mid(a)); !slices.Equal(ips(got), []string{"10.3.0.9"}) {
		t.Errorf("stale binding kept: %v", ips(got))
	}
}

func TestDHCPClientWithoutAddress(t *testing.T) {
	inv := newInv(t, Config{})
	const mac = "00:1c:23:11:22:33"
	observe(inv, 1, "dh", ep("0.0.0.0", 68, mac), ep("255.255.255.255", 67, "ff:ff:ff:ff:ff:ff"), "dhcp", "discover",
		fact(event.AboutSrc, event.AttrClient, "dhcp", 0.9),
		fact(event.AboutSrc, event.AttrHostname, "ward3-pump", 0.95),
		fact(event.AboutSrc, event.AttrVendorClass, "MSFT 5.0", 0.9))
	a := mustFind(t, inv, mid(mac))
	if a.Hostname != "ward3-pump" || len(a.IPs) != 0 || a.Vendor != "Dell Inc." {
		t.Errorf("dhcp client %+v", a)
	}
	if !hasEvidence(a, event.AttrHostname, "ward3-pump", "dhcp/discover") {
		t.Errorf("evidence %+v", a.Evidence)
	}
	// The DHCP server's ACK states chaddr and yiaddr: the address binds.
	observe(inv, 2, "dh2", ep("10.9.0.1", 67, "02:00:00:00:00:01"), ep("255.255.255.255", 68, "ff:ff:ff:ff:ff:ff"), "dhcp", "ack",
		fact(event.AboutSrc, event.AttrServer, "dhcp", 0.9),
		fact(event.AboutDst, attrMAC, mac, 0.95),
		fact(event.AboutDst, attrIP, "10.9.0.77", 0.95))
	a = mustFind(t, inv, mid(mac))
	if !slices.Equal(ips(a), []string{"10.9.0.77"}) || a.Hostname != "ward3-pump" {
		t.Errorf("after ACK: ips %v hostname %q", ips(a), a.Hostname)
	}
	if !hasEvidence(a, "ip", "10.9.0.77", "dhcp/ack") {
		t.Errorf("binding evidence %+v", a.Evidence)
	}
	srv := mustFind(t, inv, mid("02:00:00:00:00:01"))
	if srv.Role != "dhcp-server" {
		t.Errorf("server role %q", srv.Role)
	}
	if len(inv.Assets()) != 2 {
		t.Errorf("assets %d, want 2 (broadcast is no device)", len(inv.Assets()))
	}
}

func TestWeaknessesAggregate(t *testing.T) {
	inv := newInv(t, Config{})
	c, s := ep("10.0.0.2", 40000, "02:00:00:00:00:02"), ep("10.0.0.3", 21, "02:00:00:00:00:03")
	for i, flow := range []string{"a", "b", "c"} {
		inv.Observe(&event.Observation{Time: at(i), Flow: flow, Src: c, Dst: s, Transport: "tcp", Proto: "ftp", Kind: "login",
			Weaknesses: []event.Weakness{
				{Kind: event.WeakCleartextCredentials, About: event.AboutDst, Detail: "user name and password in cleartext"},
				{Kind: event.WeakCleartextLogin, About: event.AboutDst, Detail: "FTP login without TLS"},
			}})
	}
	a := mustFind(t, inv, mid("02:00:00:00:00:03"))
	if len(a.Weaknesses) != 2 {
		t.Fatalf("weaknesses %+v", a.Weaknesses)
	}
	w := a.Weaknesses[0]
	if w.Kind != event.WeakCleartextCredentials || w.Count != 3 || w.Proto != "ftp" || !w.FirstSeen.Equal(at(0)) || !w.LastSeen.Equal(at(2)) || w.Flow != "c" {
		t.Errorf("weakness %+v", w)
	}
	if cl := mustFind(t, inv, mid("02:00:00:00:00:02")); len(cl.Weaknesses) != 0 {
		t.Errorf("client weaknesses %+v", cl.Weaknesses)
	}
}

func TestRoles(t *testing.T) {
	type step struct {
		about event.About
		attr  event.Attr
		value string
	}
	cases := []struct {
		name  string
		facts []step
		want  string
	}{
		{"pacs by store", []step{{event.AboutDst, event.AttrServer, "dicom"}, {event.AboutDst, event.AttrServer, "dicom:c-store"}}, "pacs"},
		{"pacs by query", []step{{event.AboutDst, event.AttrServer, "dicom"}, {event.AboutDst, event.AttrServer, "dicom:c-move"}}, "pacs"},
		{"modality", []step{{event.AboutSrc, event.AttrClient, "dicom"}, {event.AboutSrc, event.AttrClient, "dicom:c-store"}}, "modality"},
		{"viewer", []step{{event.AboutSrc, event.AttrClient, "dicom:c-find"}, {event.AboutSrc, event.AttrClient, "dicom:c-get"}}, "dicom-viewer"},
		{"hl7 engine", []step{{event.AboutDst, event.AttrServer, "hl7"}, {event.AboutDst, event.AttrServer, "hl7:ADT"}}, "hl7-engine"},
		{"hl7 sender", []step{{event.AboutSrc, event.AttrClient, "hl7"}}, "hl7-sender"},
		{"broker", []step{{event.AboutDst, event.AttrServer, "mqtt"}}, "mqtt-broker"},
		{"pump topics", []step{{event.AboutSrc, event.AttrClient, "mqtt:publish"}, {event.AboutSrc, event.AttrMQTTTopic, "ward/4B/InfusionPump/12/status"}}, "infusion-pump"},
		{"monitor topics", []step{{event.AboutSrc, event.AttrClient, "mqtt:publish"}, {event.AboutSrc, event.AttrMQTTTopic, "bed12/SpO2"}}, "patient-monitor"},
		{"ventilator topics", []step{{event.AboutSrc, event.AttrClient, "mqtt:publish"}, {event.AboutSrc, event.AttrMQTTTopic, "icu/vent-3/FiO2"}}, "ventilator"},
		{"generic telemetry", []step{{event.AboutSrc, event.AttrClient, "mqtt:publish"}, {event.AboutSrc, event.AttrMQTTTopic, "building/7/temperature"}}, "medical-telemetry"},
		{"station", []step{{event.AboutSrc, event.AttrClient, "mqtt"}, {event.AboutSrc, event.AttrClient, "mqtt:subscribe"}}, "monitoring-station"},
		{"monitor banner", []step{{event.AboutDst, event.AttrServer, "telnet"}, {event.AboutDst, event.AttrBanner, "Acme PM-9 Patient Monitor service console"}}, "patient-monitor"},
		{"monitor camel model", []step{{event.AboutSrc, event.AttrModel, "AcmePatientMonitor 9"}}, "patient-monitor"},
		{"pump banner", []step{{event.AboutDst, event.AttrBanner, "Syringe Pump SP-2 maintenance"}}, "infusion-pump"},
		{"browser", []step{{event.AboutSrc, event.AttrUserAgent, "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}}, "workstation"},
		{"tls client", []step{{event.AboutSrc, event.AttrClient, "tls"}}, "workstation"},
		{"dns server", []step{{event.AboutDst, event.AttrServer, "dns"}}, ""}, // not on port 53: NetBIOS names, say
		{"mdns responder is no dns server", []step{{event.AboutDst, event.AttrServer, "mdns"}}, ""},
		{"file server", []step{{event.AboutDst, event.AttrServer, "smb"}}, "file-server"},
		{"ssh server", []step{{event.AboutDst, event.AttrServer, "ssh"}}, "it-server"},
		{"fhir", []step{{event.AboutDst, event.AttrServer, "fhir"}, {event.AboutDst, event.AttrServer, "http"}}, "fhir-server"},
		{"pump hostname", []step{{event.AboutSrc, event.AttrHostname, "pump-icu-07"}}, "infusion-pump"},
		{"no word inside words", []step{{event.AboutSrc, event.AttrHostname, "sumpump"}}, ""},
		{"stated role", []step{{event.AboutSrc, event.AttrRole, "lab-analyzer"}}, "lab-analyzer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv := newInv(t, Config{})
			c, s := ep("10.0.0.2", 40000, "02:00:00:00:00:02"), ep("10.0.0.3", 9000, "02:00:00:00:00:03")
			for _, st := range tc.facts {
				observe(inv, 1, "f", c, s, "x", "m", fact(st.about, st.attr, st.value, 0.9))
			}
			id := mid("02:00:00:00:00:02")
			if tc.facts[0].about == event.AboutDst {
				id = mid("02:00:00:00:00:03")
			}
			a := mustFind(t, inv, id)
			if a.Role != tc.want {
				t.Errorf("role %q, want %q; evidence %+v", a.Role, tc.want, a.Evidence)
			}
		})
	}
}

func TestScannerRole(t *testing.T) {
	inv := newInv(t, Config{})
	scanner := ep("10.0.0.66", 40000, "02:00:00:00:00:66")
	for i := 0; i < 30; i++ {
		tcpFlow(inv, fmt.Sprintf("s%d", i), i, scanner, ep("10.0.0.3", uint16(1000+i), "02:00:00:00:00:03"), "", "S", "RA", 0)
	}
	a := mustFind(t, inv, mid("02:00:00:00:00:66"))
	if a.Role != "scanner" || !hasEvidence(a, event.AttrRole, "scanner", "never answered") {
		t.Errorf("role %q evidence %+v", a.Role, a.Evidence)
	}
	if v := mustFind(t, inv, mid("02:00:00:00:00:03")); len(v.Services) != 0 {
		t.Errorf("RST answers made services: %+v", v.Services)
	}
	// Within the next window the scan is remembered; two windows later it
	// is forgotten.
	arp(t, inv, 3600+600, 1, "02:00:00:00:00:09", "10.0.0.9", "10.0.0.1")
	if a := mustFind(t, inv, mid("02:00:00:00:00:66")); a.Role != "scanner" {
		t.Errorf("an hour on: role %q", a.Role)
	}
	arp(t, inv, 3*3600, 1, "02:00:00:00:00:09", "10.0.0.9", "10.0.0.1")
	if a := mustFind(t, inv, mid("02:00:00:00:00:66")); a.Role == "scanner" {
		t.Errorf("three hours on: still a scanner")
	}
	inv2 := newInv(t, Config{})
	for i := 1; i <= 100; i++ {
		arp(t, inv2, i, 1, "02:00:00:00:00:66", "10.0.0.66", fmt.Sprintf("10.0.1.%d", i))
	}
	arp(t, inv2, 200, 2, "02:00:00:00:00:07", "10.0.1.7", "10.0.0.66") // one answers
	if a := mustFind(t, inv2, mid("02:00:00:00:00:66")); a.Role != "scanner" {
		t.Errorf("ARP sweep: role %q", a.Role)
	}
}

func TestChanges(t *testing.T) {
	inv := newInv(t, Config{})
	arp(t, inv, 1, 1, localMAC, "10.0.0.10", "10.0.0.1")
	udpFlow(inv, "u", 2, ep("10.0.0.20", 5000, ""), ep("10.0.0.10", 53, localMAC), "dns", true)
	ch, rm := inv.Changes()
	if len(ch) != 2 || len(rm) != 0 {
		t.Fatalf("first changes %d assets %v removed", len(ch), rm)
	}
	if ch, rm := inv.Changes(); len(ch) != 0 || len(rm) != 0 {
		t.Fatalf("nothing happened, yet %d changed %v removed", len(ch), rm)
	}
	// A repeated fact is no change; a new one is.
	udpFlow(inv, "u2", 3, ep("10.0.0.20", 5001, ""), ep("10.0.0.10", 53, localMAC), "dns", true)
	if ch, _ := inv.Changes(); len(ch) != 0 {
		t.Errorf("repeat changed %d", len(ch))
	}
	observe(inv, 4, "u2", ep("10.0.0.10", 53, localMAC), ep("10.0.0.20", 5001, ""), "dns", "response",
		fact(event.AboutSrc, event.AttrHostname, "ns1", 0.8))
	ch, _ = inv.Changes()
	if len(ch) != 1 || ch[0].ID != mid(localMAC) || ch[0].Hostname != "ns1" {
		t.Errorf("after a new fact: %+v", ch)
	}
	// The address-only device 10.0.0.20 learns its MAC: its old id goes.
	arp(t, inv, 5, 1, "02:00:00:00:00:20", "10.0.0.20", "10.0.0.10")
	ch, rm = inv.Changes()
	if len(ch) != 1 || ch[0].ID != mid("02:00:00:00:00:20") || !slices.Equal(rm, []string{"ip-10.0.0.20"}) {
		t.Errorf("merge: changed %+v removed %v", ch, rm)
	}
	// Seen again after Refresh: reported again.
	arp(t, inv, 5+int(16*time.Minute/time.Second), 1, localMAC, "10.0.0.10", "10.0.0.1")
	if ch := inv.Changed(); len(ch) != 1 || ch[0].ID != mid(localMAC) {
		t.Errorf("refresh: %+v", ch)
	}
	if rm := inv.Removed(); len(rm) != 0 {
		t.Errorf("removed %v", rm)
	}
}

func TestBounds(t *testing.T) {
	inv := newInv(t, Config{MaxDevices: 4, MaxValues: 2, MaxServices: 2, MaxPeers: 3})
	for i := 1; i <= 6; i++ {
		arp(t, inv, i, 1, fmt.Sprintf("02:00:00:00:00:%02x", i), fmt.Sprintf("10.0.0.%d", i), "10.0.0.254")
		if i == 2 {
			inv.Changed()
		}
	}
	st := inv.Stats()
	if st.Hosts != 4 || st.MACs != 4 || st.Evicted != 4 {
		t.Errorf("stats %+v", st)
	}
	inv.Changed()
	if rm := inv.Removed(); !slices.Equal(rm, []string{mid("02:00:00:00:00:01"), mid("02:00:00:00:00:02")}) {
		t.Errorf("removed %v", rm)
	}
	// The least recently seen went first.
	if _, ok := find(inv.Assets(), mid("02:00:00:00:00:06")); !ok {
		t.Error("newest evicted")
	}
	s := ep("10.0.0.6", 0, "02:00:00:00:00:06")
	for i := 0; i < 5; i++ {
		sv := s
		sv.Port = uint16(100 + i)
		tcpFlow(inv, fmt.Sprintf("p%d", i), 10+i, ep(fmt.Sprintf("10.0.0.%d", 100+i), 4000, ""), sv, "", "S", "SA", 0)
		observe(inv, 10+i, "", sv, ep("10.0.0.1", 0, ""), "x", "y", fact(event.AboutSrc, event.AttrHostname, fmt.Sprintf("h%d", i), 0.9))
	}
	a := mustFind(t, inv, mid("02:00:00:00:00:06"))
	if len(a.Services) != 2 || a.Peers != 3 || a.Hostname != "h4" {
		t.Errorf("bounded asset: %d services, %d peers, hostname %q", len(a.Services), a.Peers, a.Hostname)
	}
	if n := countEvidence(a, event.AttrHostname); n != 2 {
		t.Errorf("%d hostname evidence, want 2", n)
	}
	if st := inv.Stats(); st.ServicesDropped != 3 || st.ValuesDropped == 0 {
		t.Errorf("stats %+v", st)
	}
}

func countEvidence(a event.Asset, attr event.Attr) int {
	n := 0
	for _, e := range a.Evidence {
		if e.Attr == attr {
			n++
		}
	}
	return n
}

func TestDeterministic(t *testing.T) {
	run := func() string {
		inv := newInv(t, Config{})
		for i := 0; i < 20; i++ {
			c := ep(fmt.Sprintf("10.0.%d.%d", i%3, i), 40000, fmt.Sprintf("02:00:00:00:01:%02x", i))
			s := ep("10.0.0.200", uint16(80+i%4), "00:1c:23:00:00:c8")
			tcpFlow(inv, fmt.Sprintf("f%d", i), i, c, s, "http", "SAPF", "SAPF", 100)
			observe(inv, i, fmt.Sprintf("f%d", i), s, c, "http", "response", fact(event.AboutSrc, event.AttrSoftware, fmt.Sprintf("nginx/1.%d", i%3), 0.9))
		}
		b, _ := json.Marshal(inv.Assets())
		return string(b)
	}
	if a, b := run(), run(); a != b {
		t.Errorf("two runs differ:\n%s\n%s", a, b)
	}
}

func TestCleanValues(t *testing.T) {
	inv := newInv(t, Config{})
	long := strings.Repeat("x", 1000)
	observe(inv, 1, "", ep("10.0.0.5", 0, ""), ep("10.0.0.1", 0, ""), "telnet", "banner",
		fact(event.AboutSrc, event.AttrBanner, "Welcome\r\n\x1b[2Jto\x00 PM", 2),
		fact(event.AboutSrc, event.AttrModel, long, -1),
		fact(event.AboutSrc, event.AttrOS, "  ", 0.9),
		fact("nobody", event.AttrOS, "x", 0.9))
	a := mustFind(t, inv, "ip-10.0.0.5")
	if !hasEvidence(a, event.AttrBanner, "Welcome [2Jto PM", "telnet/banner") {
		t.Errorf("banner evidence %+v", a.Evidence)
	}
	for _, e := range a.Evidence {
		if e.Confidence < 0 || e.Confidence > 1 || len(e.Value) > maxValueLen {
			t.Errorf("evidence out of bounds: %+v", e)
		}
	}
	if a.OS != "" {
		t.Errorf("blank OS kept: %q", a.OS)
	}
}

func TestKeywords(t *testing.T) {
	for _, tc := range []struct {
		text, kw string
		want     bool
	}{
		{"icu3/Infusion_Pump-07", "pump", true},
		{"icu3/Infusion_Pump-07", "infusion pump", true},
		{"bed12/SpO2", "spo2", true},
		{"PatientMonitor", "patient monitor", true},
		{"PM-8000 Patient Monitor - ICU3", "patient monitor", true},
		{"sumpump", "pump", false},
		{"monitoring", "monitor", true},
		{"ECG", "ecg", true},
		{"", "x", false},
	} {
		n, c := normalize(tc.text, false), normalize(tc.text, true)
		k := normalize(tc.kw, false)
		if got := hasWord(n, k) || hasWord(c, k); got != tc.want {
			t.Errorf("%q in %q = %v (forms %q %q)", tc.kw, tc.text, got, n, c)
		}
	}
}

func TestDefaultRules(t *testing.T) {
	rs := DefaultRules()
	roles := DefaultRoles()
	if len(rs) < 20 {
		t.Fatalf("%d default rules", len(rs))
	}
	used := map[string]bool{}
	for _, r := range rs {
		used[r.Role] = true
	}
	for role := range roles {
		if !used[role] {
			t.Errorf("role %q has no rule", role)
		}
	}
}

func TestParseRules(t *testing.T) {
	user := `{"version":1,"roles":{"lab-analyzer":"clinical chemistry analyser"},"rules":[
	 {"id":"astm","role":"lab-analyzer","confidence":0.8,"reason":"speaks ASTM","all":[{"attr":"client","equals":["astm"]}]},
	 {"id":"web-server","role":"web-server","confidence":0.3,"reason":"retuned","any":[{"attr":"server","equals":["http"]}]}]}`
	f, err := ParseRules(strings.NewReader(user), DefaultRoles())
	if err != nil {
		t.Fatal(err)
	}
	inv := newInv(t, Config{Rules: append(DefaultRules(), f.Rules...)})
	observe(inv, 1, "", ep("10.0.0.2", 0, ""), ep("10.0.0.3", 0, ""), "astm", "x", fact(event.AboutSrc, event.AttrClient, "astm", 1))
	if a := mustFind(t, inv, "ip-10.0.0.2"); a.Role != "lab-analyzer" {
		t.Errorf("user rule: role %q", a.Role)
	}
	observe(inv, 1, "", ep("10.0.0.2", 0, ""), ep("10.0.0.4", 0, ""), "http", "x", fact(event.AboutDst, event.AttrServer, "http", 1))
	a := mustFind(t, inv, "ip-10.0.0.4")
	if !slices.ContainsFunc(a.Evidence, func(e event.Evidence) bool { return e.Attr == event.AttrRole && e.Confidence == 0.3 }) {
		t.Errorf("retuned rule not used: %+v", a.Evidence)
	}
	for name, bad := range map[string]string{
		"version":       `{"version":2,"rules":[]}`,
		"unknown field": `{"version":1,"rules":[{"id":"a","role":"pacs","confidence":1,"reason":"r","all":[{"attr":"server","equal":["x"]}]}]}`,
		"unknown role":  `{"version":1,"rules":[{"id":"a","role":"toaster","confidence":1,"reason":"r","all":[{"attr":"server"}]}]}`,
		"unknown attr":  `{"version":1,"rules":[{"id":"a","role":"pacs","confidence":1,"reason":"r","all":[{"attr":"colour"}]}]}`,
		"confidence":    `{"version":1,"rules":[{"id":"a","role":"pacs","confidence":1.5,"reason":"r","all":[{"attr":"server"}]}]}`,
		"no reason":     `{"version":1,"rules":[{"id":"a","role":"pacs","confidence":1,"all":[{"attr":"server"}]}]}`,
		"no condition":  `{"version":1,"rules":[{"id":"a","role":"pacs","confidence":1,"reason":"r","none":[{"attr":"server"}]}]}`,
		"min on text":   `{"version":1,"rules":[{"id":"a","role":"pacs","confidence":1,"reason":"r","all":[{"attr":"server","min":2}]}]}`,
		"count no min":  `{"version":1,"rules":[{"id":"a","role":"pacs","confidence":1,"reason":"r","all":[{"attr":"peers"}]}]}`,
		"duplicate":     `{"version":1,"rules":[{"id":"a","role":"pacs","confidence":1,"reason":"r","all":[{"attr":"server"}]},{"id":"a","role":"pacs","confidence":1,"reason":"r","all":[{"attr":"server"}]}]}`,
		"empty keyword": `{"version":1,"rules":[{"id":"a","role":"pacs","confidence":1,"reason":"r","all":[{"attr":"banner","keywords":["--"]}]}]}`,
		"bad id":        `{"version":1,"rules":[{"id":"A B","role":"pacs","confidence":1,"reason":"r","all":[{"attr":"server"}]}]}`,
		"not json":      `rules: []`,
	} {
		if _, err := ParseRules(strings.NewReader(bad), DefaultRoles()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{HomeNets: []netip.Prefix{{}}}); err == nil {
		t.Error("invalid home network accepted")
	}
	if _, err := New(Config{Rules: []Rule{{ID: "x", Role: "pacs", Confidence: 2, Reason: "r", All: []Condition{{Attr: "server"}}}}}); err == nil {
		t.Error("invalid rule accepted")
	}
	if _, err := ParseHomeNets([]string{"10.0.0.0/8", "nonsense"}); err == nil {
		t.Error("bad prefix accepted")
	}
	if p, err := ParseHomeNets([]string{"10.1.2.3/16"}); err != nil || p[0].String() != "10.1.0.0/16" {
		t.Errorf("ParseHomeNets = %v, %v", p, err)
	}
}

// mid is the asset id of a MAC written with colons.
func mid(mac string) string { return "mac-" + strings.ReplaceAll(mac, ":", "") }

func TestIPv6AddressesOfOneHost(t *testing.T) {
	inv := newInv(t, Config{})
	const mac = "02:00:00:00:00:61"
	for i, ip := range []string{"10.0.0.61", "fe80::61", "fd00::61", "fd00::6161"} {
		udpFlow(inv, fmt.Sprintf("u%d", i), i, ep(ip, 40000, mac), ep(map[bool]string{true: "10.0.0.1", false: "fd00::1"}[i == 0], 53, ""), "dns", true)
	}
	a := mustFind(t, inv, mid(mac))
	if len(a.IPs) != 4 || a.Role == "network-gateway" {
		t.Errorf("dual-stack host: ips %v role %q", ips(a), a.Role)
	}
	// Global IPv6 addresses outside the home networks do not become
	// device addresses, nor do they make the host a router alone.
	udpFlow(inv, "g", 10, ep("2001:db8::61", 40000, mac), ep("2001:db8::1", 53, ""), "dns", true)
	if a := mustFind(t, inv, mid(mac)); len(a.IPs) != 4 || a.Role == "network-gateway" {
		t.Errorf("with a global address: ips %v role %q", ips(a), a.Role)
	}
	// A MAC carrying many IPv6 addresses is a router.
	for i := 0; i < 20; i++ {
		udpFlow(inv, fmt.Sprintf("r%d", i), 20+i, ep(fmt.Sprintf("fd00:1::%x", i+1), 40000, gwMAC), ep("fd00::61", 53, mac), "dns", true)
	}
	if a := mustFind(t, inv, mid(gwMAC)); a.Role != "network-gateway" || len(a.IPs) != 0 {
		t.Errorf("IPv6 router: ips %v role %q", ips(a), a.Role)
	}
	if _, ok := find(inv.Assets(), "ip-fd00:1::14"); !ok {
		t.Error("address behind the IPv6 router is no device")
	}
}
