package dhcp

import (
	"encoding/binary"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// msg builds a DHCP message per RFC 2131: the fixed BOOTP header, the
// magic cookie, then options (code, length, value …) and End.
func msg(op byte, mac [6]byte, yiaddr, giaddr [4]byte, opts ...[]byte) []byte {
	b := make([]byte, 240)
	b[0], b[1], b[2] = op, 1, 6
	binary.BigEndian.PutUint32(b[4:], 0x3903f326)
	copy(b[16:20], yiaddr[:])
	copy(b[24:28], giaddr[:])
	copy(b[28:], mac[:])
	binary.BigEndian.PutUint32(b[236:], magicCookie)
	for _, o := range opts {
		b = append(b, o...)
	}
	return append(b, 255)
}

func opt(code byte, v ...byte) []byte { return append([]byte{code, byte(len(v))}, v...) }
func optS(code byte, s string) []byte { return opt(code, []byte(s)...) }

var (
	mac1   = [6]byte{0x00, 0x1f, 0x29, 0xda, 0x2d, 0x79}
	zero4  = [4]byte{}
	client = event.Endpoint{IP: netip.MustParseAddr("0.0.0.0"), Port: 68, MAC: "00:1f:29:da:2d:79"}
	bcast  = event.Endpoint{IP: netip.MustParseAddr("255.255.255.255"), Port: 67}
)

type sink struct{ obs []*event.Observation }

func (s *sink) Observe(o *event.Observation) { s.obs = append(s.obs, o) }

func fact(o *event.Observation, a event.Attr) (event.Fact, bool) {
	for _, f := range o.Facts {
		if f.Attr == a {
			return f, true
		}
	}
	return event.Fact{}, false
}

func TestProbe(t *testing.T) {
	req := msg(1, mac1, zero4, zero4, opt(53, 1))
	rep := msg(2, mac1, [4]byte{10, 0, 0, 5}, zero4, opt(53, 2))
	badCookie := append([]byte(nil), req...)
	badCookie[239] = 0
	badHlen := append([]byte(nil), req...)
	badHlen[2] = 16
	tests := []struct {
		name string
		dir  proto.Dir
		data []byte
		want proto.Verdict
	}{
		{"request to server", proto.ToServer, req, proto.Yes},
		{"reply to client", proto.ToClient, rep, proto.Yes},
		{"reply first", proto.ToServer, rep, proto.YesReversed},
		{"request seen as reply", proto.ToClient, req, proto.YesReversed},
		{"no cookie", proto.ToServer, badCookie, proto.No},
		{"not ethernet", proto.ToServer, badHlen, proto.No},
		{"short", proto.ToServer, req[:200], proto.No},
		{"dns", proto.ToServer, []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, proto.No},
	}
	d := New()
	for _, tc := range tests {
		if got := d.Probe(&proto.Conn{}, tc.dir, tc.data); got != tc.want {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
}

func TestDecodeMessages(t *testing.T) {
	prl := []byte{1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252}
	tests := []struct {
		name      string
		data      []byte
		kind      string
		check     func(t *testing.T, d *Detail)
		facts     map[event.Attr]string
		noFacts   bool
		confident map[event.Attr]float64
	}{
		{
			name: "windows discover",
			data: msg(1, mac1, zero4, zero4, opt(53, 1), opt(61, append([]byte{1}, mac1[:]...)...),
				optS(12, "ICU-WS-07"), optS(60, "MSFT 5.0"), opt(55, prl...), opt(50, 10, 1, 2, 3)),
			kind: "discover",
			check: func(t *testing.T, d *Detail) {
				if d.ClientMAC != "00:1f:29:da:2d:79" || d.RequestedIP != "10.1.2.3" || d.ClientID != "01:00:1f:29:da:2d:79" {
					t.Errorf("detail %+v", d)
				}
				if d.ParamRequestList != "1,3,6,15,31,33,43,44,46,47,119,121,249,252" {
					t.Errorf("prl %q", d.ParamRequestList)
				}
			},
			facts: map[event.Attr]string{
				event.AttrHostname: "ICU-WS-07", event.AttrVendorClass: "MSFT 5.0", event.AttrOS: "Windows",
				event.AttrDHCPFingerprint: "1,3,6,15,31,33,43,44,46,47,119,121,249,252", event.AttrClient: "dhcp",
			},
			confident: map[event.Attr]float64{event.AttrHostname: 0.95, event.AttrOS: 0.7},
		},
		{
			name:  "android request",
			data:  msg(1, mac1, zero4, zero4, opt(53, 3), optS(60, "android-dhcp-13"), optS(12, "Pixel-7\x00")),
			kind:  "request",
			facts: map[event.Attr]string{event.AttrOS: "Android", event.AttrHostname: "Pixel-7"},
		},
		{
			name:  "dhcpcd names its system",
			data:  msg(1, mac1, zero4, zero4, opt(53, 1), optS(60, "dhcpcd-9.4.1:NetBSD-10.0:amd64:x86")),
			kind:  "discover",
			facts: map[event.Attr]string{event.AttrOS: "NetBSD"},
		},
		{
			name:  "client fqdn in wire format",
			data:  msg(1, mac1, zero4, zero4, opt(53, 3), opt(81, 0x05, 0, 0, 4, 'p', 'u', 'm', 'p', 3, 'l', 'a', 'b', 0)),
			kind:  "request",
			facts: map[event.Attr]string{event.AttrHostname: "pump.lab"},
		},
		{
			name: "server ack",
			data: msg(2, mac1, [4]byte{10, 1, 2, 3}, zero4, opt(53, 5), opt(54, 10, 1, 0, 1), opt(51, 0, 0, 0x0e, 0x10),
				opt(1, 255, 255, 255, 0), opt(3, 10, 1, 0, 1), opt(6, 10, 1, 0, 2, 10, 1, 0, 3)),
			kind: "ack",
			check: func(t *testing.T, d *Detail) {
				if d.YourIP != "10.1.2.3" || d.ServerID != "10.1.0.1" || d.LeaseSeconds != 3600 ||
					len(d.DNSServers) != 2 || d.DNSServers[1] != "10.1.0.3" || d.Routers[0] != "10.1.0.1" || d.Op != "reply" {
					t.Errorf("detail %+v", d)
				}
			},
			facts: map[event.Attr]string{event.AttrServer: "dhcp"},
		},
		{
			name:    "relayed request keeps facts in detail",
			data:    msg(1, mac1, zero4, [4]byte{10, 9, 0, 1}, opt(53, 3), optS(12, "pump-3")),
			kind:    "request",
			noFacts: true,
			check: func(t *testing.T, d *Detail) {
				if d.Relay != "10.9.0.1" || d.Hostname != "pump-3" {
					t.Errorf("detail %+v", d)
				}
			},
		},
		{
			name: "option running past the end keeps earlier options",
			data: func() []byte {
				b := msg(1, mac1, zero4, zero4, opt(53, 8), optS(12, "lab-pc"))
				return append(b[:len(b)-1], 60, 40, 'M', 'S')
			}(),
			kind: "inform",
			check: func(t *testing.T, d *Detail) {
				if !d.Malformed || d.Hostname != "lab-pc" || d.VendorClass != "" {
					t.Errorf("detail %+v", d)
				}
			},
		},
		{
			name: "unknown type and hostile host name",
			data: msg(1, mac1, zero4, zero4, opt(53, 106), optS(12, "a\x1b[2Jb")),
			kind: "message",
			check: func(t *testing.T, d *Detail) {
				if d.MessageType != "type-106" || d.Hostname != "a?[2Jb" {
					t.Errorf("detail %+v", d)
				}
			},
		},
		{
			name: "plain bootp",
			data: msg(1, mac1, zero4, zero4),
			kind: "bootp",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s sink
			c := &proto.Conn{ID: "f", Transport: proto.UDP, Client: client, Server: bcast, Proto: Name}
			dir := proto.ToServer
			if tc.data[0] == 2 {
				c.Client, c.Server = bcast, event.Endpoint{IP: netip.MustParseAddr("10.1.0.1"), Port: 67}
				dir = proto.ToClient
			}
			if tc.name == "relayed request keeps facts in detail" {
				c.Client = event.Endpoint{IP: netip.MustParseAddr("10.9.0.1"), Port: 67}
			}
			ss := New().New(c, &s)
			ss.Feed(dir, tc.data, proto.Meta{Time: time.Unix(1, 0), Frame: 1})
			if len(s.obs) != 1 {
				t.Fatalf("%d observations", len(s.obs))
			}
			o := s.obs[0]
			if o.Kind != tc.kind {
				t.Errorf("kind %q want %q", o.Kind, tc.kind)
			}
			det := o.Detail.(*Detail)
			if tc.check != nil {
				tc.check(t, det)
			}
			if tc.noFacts && len(o.Facts) > 0 {
				t.Errorf("facts %+v", o.Facts)
			}
			for a, v := range tc.facts {
				f, ok := fact(o, a)
				if !ok || f.Value != v || f.About != event.AboutSrc {
					t.Errorf("fact %s = %+v, want %q about src", a, f, v)
				}
			}
			for a, c := range tc.confident {
				if f, _ := fact(o, a); f.Confidence != c {
					t.Errorf("confidence of %s = %v want %v", a, f.Confidence, c)
				}
			}
		})
	}
}

// Facts are told once per client per flow, even though every client's
// DISCOVER shares the flow 0.0.0.0:68 → 255.255.255.255:67.
func TestFactsOncePerClient(t *testing.T) {
	var s sink
	c := &proto.Conn{ID: "f", Transport: proto.UDP, Client: client, Server: bcast, Proto: Name}
	ss := New().New(c, &s)
	mac2 := [6]byte{2, 0, 0, 0, 0, 2}
	m := proto.Meta{Time: time.Unix(1, 0)}
	ss.Feed(proto.ToServer, msg(1, mac1, zero4, zero4, opt(53, 1), optS(12, "a")), m)
	ss.Feed(proto.ToServer, msg(1, mac1, zero4, zero4, opt(53, 1), optS(12, "a")), m)
	ss.Feed(proto.ToServer, msg(1, mac2, zero4, zero4, opt(53, 1), optS(12, "b")), m)
	ss.Feed(proto.ToServer, msg(1, mac1, zero4, zero4, opt(53, 3), optS(12, "renamed")), m)
	var got []string
	for _, o := range s.obs {
		f, _ := fact(o, event.AttrHostname)
		got = append(got, f.Value)
	}
	want := []string{"a", "", "b", "renamed"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("host name facts %q want %q", got, want)
		}
	}
}

// The nDPI fuzzed capture: one request whose vendor class option claims
// 49 bytes where fewer remain; tshark shows host name MK03862 and client
// identifier 01:00:1f:29:da:2d:79 before it, message type 106.
func TestCaptureDHCPFuzz(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/dhcp-fuzz.pcapng")
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{New()}, path)
	if len(res.Observations) != 1 {
		t.Fatalf("observations %d: %v", len(res.Observations), res.Kinds())
	}
	o := res.Observations[0]
	d := o.Detail.(*Detail)
	if o.Kind != "message" || d.MessageType != "type-106" || d.Hostname != "MK03862" || !d.Malformed ||
		d.ClientMAC != "00:1f:29:da:2d:79" || d.ClientIP != "192.168.1.104" || d.ClientID != "01:00:1f:29:da:2d:79" {
		t.Errorf("observation %s detail %+v", o.Kind, d)
	}
	if f, ok := fact(o, event.AttrHostname); !ok || f.Value != "MK03862" || o.Src.IP.String() != "192.168.155.104" {
		t.Errorf("host name fact %+v from %v", f, o.Src)
	}
	if len(res.Flows) != 1 || res.Flows[0].Proto != Name {
		t.Errorf("flows %+v", res.Flows)
	}
}

// A 2006 capture (fuzzed elsewhere, intact here): frame 484 is a Windows
// REQUEST and 485 the server's ACK, values as tshark decodes them:
// tshark -r fuzz-2006-06-26-2594.pcap -Y dhcp -T fields -e dhcp.option.hostname
// -e dhcp.option.vendor_class_id -e dhcp.option.request_list_item -e dhcp.ip.your
func TestCaptureWindowsRequest(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/fuzz-2006-06-26-2594.pcap")
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{New()}, path)
	var req, ack *event.Observation
	for _, o := range res.Observations {
		switch o.Frame {
		case 484:
			req = o
		case 485:
			ack = o
		}
	}
	if req == nil || ack == nil {
		t.Fatalf("request or ack missing: %v", res.Kinds())
	}
	rd := req.Detail.(*Detail)
	if req.Kind != "request" || rd.Hostname != "d002465" || rd.VendorClass != "MSFT 5.0" ||
		rd.ParamRequestList != "1,15,3,6,44,46,47,31,33,43" || rd.ClientMAC != "df:e0:ed:01:6e:bd" {
		t.Errorf("request %s %+v", req.Kind, rd)
	}
	for a, v := range map[event.Attr]string{event.AttrHostname: "d002465", event.AttrOS: "Windows",
		event.AttrDHCPFingerprint: "1,15,3,6,44,46,47,31,33,43", event.AttrVendorClass: "MSFT 5.0"} {
		if f, ok := fact(req, a); !ok || f.Value != v {
			t.Errorf("fact %s = %+v want %q", a, f, v)
		}
	}
	if req.Src.IP.String() != "192.168.1.2" || req.Dst.IP.String() != "192.168.1.1" {
		t.Errorf("request %v → %v", req.Src, req.Dst)
	}
	ad := ack.Detail.(*Detail)
	if ack.Kind != "ack" || ad.YourIP != "192.168.1.2" || ad.ServerID != "192.168.1.1" || ad.LeaseSeconds != 3600 ||
		len(ad.Routers) != 1 || ad.Routers[0] != "192.168.1.1" {
		t.Errorf("ack %s %+v", ack.Kind, ad)
	}
	if f, ok := fact(ack, event.AttrServer); !ok || f.About != event.AboutSrc || ack.Src.IP.String() != "192.168.1.1" {
		t.Errorf("server fact %+v from %v", f, ack.Src)
	}
}

func FuzzDHCP(f *testing.F) {
	f.Add(msg(1, mac1, zero4, zero4, opt(53, 1), optS(12, "ICU-WS-07"), optS(60, "MSFT 5.0"), opt(55, 1, 3, 6)))
	f.Add(msg(2, mac1, [4]byte{10, 1, 2, 3}, zero4, opt(53, 5), opt(3, 10, 1, 0, 1), opt(52, 3)))
	if dir := os.Getenv("HEIR_DATA"); dir != "" {
		// nDPI payloads are LGPL: seeded at run time, never committed.
		for _, p := range seedPayloads(f, dir+"/pcap/ndpi/dhcp-fuzz.pcapng", dir+"/pcap/ndpi/fuzz-2006-06-26-2594.pcap") {
			f.Add(p)
		}
	}
	d := New()
	var raw layers.DHCPv4
	f.Fuzz(func(t *testing.T, data []byte) {
		// gopacket itself, without the session's recover, so that a
		// panic in it is found and reported rather than hidden.
		_ = raw.DecodeFromBytes(data, gopacket.NilDecodeFeedback)
		var s sink
		c := &proto.Conn{ID: "f", Transport: proto.UDP, Client: client, Server: bcast, Proto: Name}
		v := d.Probe(c, proto.ToServer, data)
		ss := d.New(c, &s)
		ss.Feed(proto.ToServer, data, proto.Meta{})
		ss.End(proto.Meta{})
		if (v == proto.No) != (len(s.obs) == 0) {
			t.Fatalf("probe %v but %d observations", v, len(s.obs))
		}
	})
}

func BenchmarkFeed(b *testing.B) {
	data := msg(1, mac1, zero4, zero4, opt(53, 3), opt(61, append([]byte{1}, mac1[:]...)...),
		optS(12, "ICU-WS-07"), optS(60, "MSFT 5.0"), opt(55, 1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252),
		opt(50, 10, 1, 2, 3), opt(54, 10, 1, 0, 1))
	c := &proto.Conn{ID: "f", Transport: proto.UDP, Client: client, Server: bcast, Proto: Name}
	ss := New().New(c, discard{})
	m := proto.Meta{Time: time.Unix(1, 0)}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		ss.Feed(proto.ToServer, data, m)
	}
}

type discard struct{}

func (discard) Observe(*event.Observation) {}

// An ACK binds the client's MAC to the address it was given, about the
// receiver; an ACK on its way to a relay agent (port 67) says nothing
// about the relay.
func TestAckBindsMACToAddress(t *testing.T) {
	var s sink
	server := event.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 67}
	toClient := event.Endpoint{IP: netip.MustParseAddr("255.255.255.255"), Port: 68}
	c := &proto.Conn{ID: "f", Transport: proto.UDP, Client: toClient, Server: server, Proto: Name}
	ss := New().New(c, &s)
	m := proto.Meta{Time: time.Unix(1, 0)}
	ss.Feed(proto.ToClient, msg(2, mac1, [4]byte{10, 0, 0, 42}, zero4, opt(53, 5)), m)
	o := s.obs[0]
	mac, ok1 := fact(o, event.AttrMAC)
	ip, ok2 := fact(o, event.AttrIP)
	if !ok1 || !ok2 || mac.About != event.AboutDst || mac.Value != "00:1f:29:da:2d:79" || ip.Value != "10.0.0.42" {
		t.Fatalf("facts %+v", o.Facts)
	}
	relay := event.Endpoint{IP: netip.MustParseAddr("10.9.0.1"), Port: 67}
	c2 := &proto.Conn{ID: "g", Transport: proto.UDP, Client: relay, Server: server, Proto: Name}
	s = sink{}
	New().New(c2, &s).Feed(proto.ToClient, msg(2, mac1, [4]byte{10, 9, 0, 42}, [4]byte{10, 9, 0, 1}, opt(53, 5)), m)
	if _, ok := fact(s.obs[0], event.AttrIP); ok {
		t.Fatalf("relay bound: %+v", s.obs[0].Facts)
	}
}
