package dns

import (
	"encoding/binary"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// wireName encodes a name as RFC 1035 labels.
func wireName(n string) []byte {
	var b []byte
	for _, l := range strings.Split(strings.TrimSuffix(n, "."), ".") {
		if l == "" {
			continue
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

type q struct {
	name       string
	typ, class uint16
}

type rr struct {
	name       string
	typ, class uint16
	ttl        uint32
	data       []byte
}

// build assembles a message: header (flags as on the wire), questions,
// answers, then additional records.
func build(id, flags uint16, qs []q, ans, add []rr) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b, id)
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], uint16(len(qs)))
	binary.BigEndian.PutUint16(b[6:], uint16(len(ans)))
	binary.BigEndian.PutUint16(b[10:], uint16(len(add)))
	for _, x := range qs {
		b = append(b, wireName(x.name)...)
		b = binary.BigEndian.AppendUint16(b, x.typ)
		b = binary.BigEndian.AppendUint16(b, x.class)
	}
	for _, r := range append(ans, add...) {
		b = append(b, wireName(r.name)...)
		b = binary.BigEndian.AppendUint16(b, r.typ)
		b = binary.BigEndian.AppendUint16(b, r.class)
		b = binary.BigEndian.AppendUint32(b, r.ttl)
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.data)))
		b = append(b, r.data...)
	}
	return b
}

const (
	flagQuery    = 0x0100 // RD
	flagResponse = 0x8180 // QR RD RA
	flagMDNS     = 0x8400 // QR AA
	tA           = 1
	tPTR         = 12
	tAAAA        = 28
	tSRV         = 33
	tTXT         = 16
	tCNAME       = 5
)

func ip4(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }

type sink struct{ obs []*event.Observation }

func (s *sink) Observe(o *event.Observation) { s.obs = append(s.obs, o) }

func (s *sink) kinds() string {
	var k []string
	for _, o := range s.obs {
		k = append(k, o.Kind)
	}
	return strings.Join(k, ",")
}

func fact(o *event.Observation, a event.Attr) (event.Fact, bool) {
	for _, f := range o.Facts {
		if f.Attr == a {
			return f, true
		}
	}
	return event.Fact{}, false
}

var (
	cli   = event.Endpoint{IP: netip.MustParseAddr("10.1.0.20"), Port: 40000}
	srv   = event.Endpoint{IP: netip.MustParseAddr("10.1.0.2"), Port: 53}
	pump  = event.Endpoint{IP: netip.MustParseAddr("10.1.5.7"), Port: 5353}
	group = event.Endpoint{IP: netip.MustParseAddr("224.0.0.251"), Port: 5353}
	t0    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

func conn(c, s event.Endpoint, tr proto.Transport) *proto.Conn {
	return &proto.Conn{ID: "f", Transport: tr, Client: c, Server: s, Proto: Name}
}

func meta(frame uint64, ms int) proto.Meta {
	return proto.Meta{Time: t0.Add(time.Duration(ms) * time.Millisecond), Frame: frame}
}

func TestProbeUDP(t *testing.T) {
	query := build(1, flagQuery, []q{{"pacs.hospital.lan", tA, 1}}, nil, nil)
	resp := build(1, flagResponse, []q{{"pacs.hospital.lan", tA, 1}}, []rr{{"pacs.hospital.lan", tA, 1, 60, ip4("10.1.0.9")}}, nil)
	ann := build(0, flagMDNS, nil, []rr{{"pump-7.local", tA, 0x8001, 120, ip4("10.1.5.7")}}, nil)
	nbns := build(0x1234, 0x0110, []q{{"CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0x21, 1}}, nil, nil)
	badOp := append([]byte(nil), query...)
	badOp[2] |= 3 << 3
	noQuestion := build(1, flagQuery, nil, nil, nil)
	tooMany := append([]byte(nil), query...)
	binary.BigEndian.PutUint16(tooMany[4:], 200)
	loop := build(1, flagQuery, nil, nil, nil)
	loop[5] = 1
	loop = append(loop, 0xc0, 12, 0, 1, 0, 1)
	tests := []struct {
		name string
		c    *proto.Conn
		dir  proto.Dir
		data []byte
		want proto.Verdict
	}{
		{"query", conn(cli, srv, proto.UDP), proto.ToServer, query, proto.Yes},
		{"response first", conn(cli, srv, proto.UDP), proto.ToServer, resp, proto.YesReversed},
		{"response to client", conn(cli, srv, proto.UDP), proto.ToClient, resp, proto.Yes},
		{"mdns announcement to group", conn(pump, group, proto.UDP), proto.ToServer, ann, proto.Yes},
		{"netbios name query", conn(cli, srv, proto.UDP), proto.ToServer, nbns, proto.No},
		{"unknown opcode", conn(cli, srv, proto.UDP), proto.ToServer, badOp, proto.No},
		{"query without question", conn(cli, srv, proto.UDP), proto.ToServer, noQuestion, proto.No},
		{"more questions than bytes", conn(cli, srv, proto.UDP), proto.ToServer, tooMany, proto.No},
		{"compression loop", conn(cli, srv, proto.UDP), proto.ToServer, loop, proto.No},
		{"short", conn(cli, srv, proto.UDP), proto.ToServer, query[:11], proto.No},
		{"text", conn(cli, srv, proto.UDP), proto.ToServer, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), proto.No},
	}
	d := NewUDP()
	for _, tc := range tests {
		if got := d.Probe(tc.c, tc.dir, tc.data); got != tc.want {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
}

func tcpFrame(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

func TestProbeTCP(t *testing.T) {
	query := tcpFrame(build(7, flagQuery, []q{{"hospital.lan", 252, 1}}, nil, nil))
	resp := tcpFrame(build(7, flagResponse, []q{{"hospital.lan", 252, 1}}, nil, nil))
	d := NewTCP()
	c := conn(cli, event.Endpoint{IP: srv.IP, Port: 53}, proto.TCP)
	for _, tc := range []struct {
		name string
		dir  proto.Dir
		data []byte
		want proto.Verdict
	}{
		{"axfr query", proto.ToServer, query, proto.Yes},
		{"response first", proto.ToServer, resp, proto.YesReversed},
		{"one byte", proto.ToServer, query[:1], proto.Unsure},
		{"header arriving", proto.ToServer, query[:16], proto.Unsure},
		{"length too small", proto.ToServer, []byte{0, 5, 1, 2, 3, 4, 5}, proto.No},
		{"tls", proto.ToServer, []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0, 0, 0, 0, 0}, proto.No},
	} {
		if got := d.Probe(c, tc.dir, tc.data); got != tc.want {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
}

func TestPairing(t *testing.T) {
	var s sink
	c := conn(cli, srv, proto.UDP)
	ss := NewUDP().New(c, &s)
	qry := build(0x4242, flagQuery, []q{{"PACS.hospital.lan", tA, 1}}, nil, nil)
	ss.Feed(proto.ToServer, qry, meta(1, 0))
	ss.Feed(proto.ToServer, qry, meta(2, 1000)) // retransmitted
	// Another client's id on the same flow with another question must
	// not take this answer.
	ss.Feed(proto.ToServer, build(0x4242, flagQuery, []q{{"ris.hospital.lan", tA, 1}}, nil, nil), meta(3, 1001))
	// 0x20-randomised case in the answer still matches.
	resp := build(0x4242, flagResponse, []q{{"pacs.HOSPITAL.lan", tA, 1}},
		[]rr{{"pacs.hospital.lan", tCNAME, 1, 300, wireName("pacs01.hospital.lan")}, {"pacs01.hospital.lan", tA, 1, 300, ip4("10.1.0.9")}}, nil)
	ss.Feed(proto.ToClient, resp, meta(4, 1250))
	ss.Feed(proto.ToClient, resp, meta(5, 1260)) // duplicate answer
	ss.End(meta(0, 5000))
	if got := s.kinds(); got != "response,query,summary" {
		t.Fatalf("kinds %s", got)
	}
	r := s.obs[0]
	d := r.Detail.(*Detail)
	if d.Name != "pacs.HOSPITAL.lan" || d.Type != "A" || d.Rcode != "NOERROR" || d.QueryFrame != 1 || d.Retransmits != 1 ||
		d.LatencyMS != 1250 || d.AnswerCount != 2 || len(d.Answers) != 2 || d.Answers[0].Data != "pacs01.hospital.lan" ||
		d.Answers[1].Data != "10.1.0.9" {
		t.Errorf("response detail %+v", d)
	}
	if len(d.Hints) != 1 || d.Hints[0] != (Hint{IP: "10.1.0.9", Name: "pacs01.hospital.lan"}) {
		t.Errorf("hints %+v", d.Hints)
	}
	if r.Src != srv {
		t.Errorf("response from %v", r.Src)
	}
	if f, ok := fact(r, event.AttrServer); !ok || f.About != event.AboutSrc || f.Value != "dns" {
		t.Errorf("server fact %+v", f)
	}
	if f, ok := fact(r, event.AttrClient); !ok || f.About != event.AboutDst {
		t.Errorf("client fact %+v", f)
	}
	u := s.obs[1]
	if ud := u.Detail.(*Detail); ud.Name != "ris.hospital.lan" || u.Frame != 3 || u.Src != cli || len(u.Facts) != 0 {
		t.Errorf("unanswered %+v %+v facts %v", u, ud, u.Facts)
	}
	sum := s.obs[2].Detail.(*Summary)
	want := Summary{Queries: 3, Responses: 2, Unanswered: 1, Retransmits: 1, Duplicates: 1}
	if sum.Queries != want.Queries || sum.Responses != want.Responses || sum.Unanswered != want.Unanswered ||
		sum.Retransmits != want.Retransmits || sum.Duplicates != want.Duplicates || sum.Malformed != 0 {
		t.Errorf("summary %+v", sum)
	}
}

func TestResponseKinds(t *testing.T) {
	srvRec := append([]byte{0, 0, 0, 100, 0x01, 0x85}, wireName("dc1.hospital.lan")...)
	tests := []struct {
		name  string
		msg   []byte
		check func(t *testing.T, o *event.Observation, d *Detail)
	}{
		{
			name: "nxdomain",
			msg:  build(9, flagResponse|3, []q{{"wpad.hospital.lan", tA, 1}}, nil, nil),
			check: func(t *testing.T, o *event.Observation, d *Detail) {
				if d.Rcode != "NXDOMAIN" || !d.QueryUnseen {
					t.Errorf("%+v", d)
				}
			},
		},
		{
			name: "ptr of a private address",
			msg: build(9, flagResponse, []q{{"9.0.1.10.in-addr.arpa", tPTR, 1}},
				[]rr{{"9.0.1.10.in-addr.arpa", tPTR, 1, 60, wireName("pacs01.hospital.lan")}}, nil),
			check: func(t *testing.T, o *event.Observation, d *Detail) {
				if len(d.Hints) != 1 || d.Hints[0] != (Hint{IP: "10.1.0.9", Name: "pacs01.hospital.lan"}) {
					t.Errorf("%+v", d.Hints)
				}
			},
		},
		{
			name: "srv and txt, domain controller lookup",
			msg: build(9, flagResponse, []q{{"_ldap._tcp.dc._msdcs.Hospital.LAN", tSRV, 1}},
				[]rr{{"_ldap._tcp.dc._msdcs.hospital.lan", tSRV, 1, 600, srvRec}, {"x", tTXT, 1, 1, []byte{2, 'a', 'b', 1, 'c'}}}, nil),
			check: func(t *testing.T, o *event.Observation, d *Detail) {
				if d.Answers[0].Data != "0 100 389 dc1.hospital.lan" || d.Answers[1].Strings != 2 || d.Answers[1].Data != "" {
					t.Errorf("%+v", d.Answers)
				}
				if f, ok := fact(o, event.AttrDomain); !ok || f.Value != "hospital.lan" || f.About != event.AboutDst {
					t.Errorf("domain fact %+v", f)
				}
			},
		},
		{
			name: "compression loop in an answer",
			msg: func() []byte {
				b := build(9, flagResponse, []q{{"a.lan", tA, 1}}, nil, nil)
				b[7] = 1
				return append(b, 0xc0, byte(len(b)), 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4)
			}(),
			check: func(t *testing.T, o *event.Observation, d *Detail) {
				if d.Malformed == "" || d.Name != "a.lan" || len(d.Answers) != 0 {
					t.Errorf("%+v", d)
				}
			},
		},
		{
			name: "pointer beyond the message",
			msg: func() []byte {
				b := build(9, flagResponse, []q{{"a.lan", tA, 1}}, nil, nil)
				b[7] = 1
				return append(b, 0xc3, 0xff, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4)
			}(),
			check: func(t *testing.T, o *event.Observation, d *Detail) {
				if d.Malformed == "" {
					t.Errorf("%+v", d)
				}
			},
		},
		{
			name: "answer count lies",
			msg: func() []byte {
				b := build(9, flagResponse, []q{{"a.lan", tA, 1}}, []rr{{"a.lan", tA, 1, 5, ip4("192.0.2.1")}}, nil)
				binary.BigEndian.PutUint16(b[6:], 65535)
				return b
			}(),
			check: func(t *testing.T, o *event.Observation, d *Detail) {
				if d.Malformed == "" || d.AnswerCount != 65535 || len(d.Answers) != 1 || d.Answers[0].Data != "192.0.2.1" {
					t.Errorf("%+v", d)
				}
			},
		},
		{
			name: "hostile name",
			msg:  build(9, flagResponse, []q{{"a\x1b]0;x\x07.lan", tA, 1}}, nil, nil),
			check: func(t *testing.T, o *event.Observation, d *Detail) {
				if d.Name != "a?]0;x?.lan" {
					t.Errorf("%q", d.Name)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s sink
			ss := NewUDP().New(conn(cli, srv, proto.UDP), &s)
			done := make(chan struct{})
			go func() {
				defer close(done)
				ss.Feed(proto.ToClient, tc.msg, meta(1, 0))
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("decoding hangs")
			}
			if len(s.obs) != 1 || s.obs[0].Kind != "response" {
				t.Fatalf("observations %s", s.kinds())
			}
			tc.check(t, s.obs[0], s.obs[0].Detail.(*Detail))
		})
	}
}

func TestMDNSAnnouncement(t *testing.T) {
	var s sink
	ss := NewUDP().New(conn(pump, group, proto.UDP), &s)
	ann := build(0, flagMDNS, nil, []rr{
		{"_ipp._tcp.local", tPTR, 1, 4500, wireName("Infusion Pump 7._ipp._tcp.local")},
		{"pump-7.local", tA, 0x8001, 120, ip4("10.1.5.7")},
		{"7.5.1.10.in-addr.arpa", tPTR, 0x8001, 120, wireName("pump-7.local")},
	}, []rr{{"printer.local", tA, 0x8001, 120, ip4("10.1.5.8")}})
	ss.Feed(proto.ToServer, ann, meta(1, 0))
	again := append([]byte(nil), ann...)
	again[len(again)-7]-- // another TTL only
	ss.Feed(proto.ToServer, again, meta(2, 1000))
	ss.Feed(proto.ToServer, build(0, 0, []q{{"_ipp._tcp.local", tPTR, 1}}, nil, nil), meta(3, 2000))
	ss.Feed(proto.ToServer, build(0, 0, []q{{"_ipp._tcp.local", tPTR, 1}}, nil, nil), meta(4, 3000))
	ss.End(meta(0, 4000))
	if got := s.kinds(); got != "response,query,summary" {
		t.Fatalf("kinds %s", got)
	}
	o := s.obs[0]
	var names []string
	for _, f := range o.Facts {
		if f.Attr == event.AttrHostname {
			if f.About != event.AboutSrc || f.Confidence != 0.8 {
				t.Errorf("fact %+v", f)
			}
			names = append(names, f.Value)
		}
	}
	if strings.Join(names, ",") != "pump-7" {
		t.Errorf("host names %v", names)
	}
	if f, ok := fact(o, event.AttrServer); !ok || f.Value != "mdns" {
		t.Errorf("server fact %+v", f)
	}
	d := o.Detail.(*Detail)
	if d.Variant != "mdns" || len(d.Answers) != 4 || d.Answers[0].Data != "Infusion Pump 7._ipp._tcp.local" ||
		len(d.Hints) != 1 || d.Hints[0] != (Hint{IP: "10.1.5.8", Name: "printer.local"}) {
		t.Errorf("detail %+v", d)
	}
	if f, ok := fact(s.obs[1], event.AttrClient); !ok || f.Value != "mdns" {
		t.Errorf("query facts %+v", s.obs[1].Facts)
	}
}

func TestLLMNRResponse(t *testing.T) {
	var s sink
	responder := event.Endpoint{IP: netip.MustParseAddr("10.1.6.3"), Port: 5355}
	ss := NewUDP().New(conn(cli, responder, proto.UDP), &s)
	ss.Feed(proto.ToClient, build(0x77, 0x8000, []q{{"ECG-CART-3", tA, 1}}, []rr{{"ECG-CART-3", tA, 1, 30, ip4("10.1.6.3")}}, nil), meta(1, 0))
	if len(s.obs) != 1 {
		t.Fatalf("%s", s.kinds())
	}
	if f, ok := fact(s.obs[0], event.AttrHostname); !ok || f.Value != "ECG-CART-3" || s.obs[0].Src != responder {
		t.Errorf("fact %+v from %v", f, s.obs[0].Src)
	}
}

func TestTCPStream(t *testing.T) {
	var s sink
	c := conn(cli, srv, proto.TCP)
	ss := NewTCP().New(c, &s)
	q1 := build(1, flagQuery, []q{{"a.lan", tA, 1}}, nil, nil)
	q2 := build(2, flagQuery, []q{{"b.lan", tAAAA, 1}}, nil, nil)
	stream := tcpFrame(q1, q2)
	// The first Feed ends inside the second message: it must be kept.
	n, done := ss.Feed(proto.ToServer, stream[:len(stream)-3], meta(1, 0))
	if n != 2+len(q1) || done {
		t.Fatalf("consumed %d done %v", n, done)
	}
	n, _ = ss.Feed(proto.ToServer, stream[n:], meta(2, 1))
	if n != 2+len(q2) {
		t.Fatalf("consumed %d", n)
	}
	r := tcpFrame(build(2, flagResponse, []q{{"b.lan", tAAAA, 1}}, nil, nil), build(1, flagResponse, []q{{"a.lan", tA, 1}}, nil, nil))
	ss.Feed(proto.ToClient, r, meta(3, 2))
	ss.End(meta(0, 3))
	if got := s.kinds(); got != "response,response,summary" {
		t.Fatalf("kinds %s", got)
	}
	if d := s.obs[0].Detail.(*Detail); d.Name != "b.lan" || d.QueryFrame != 2 {
		t.Errorf("%+v", d)
	}
	// A length below the header size desynchronises the stream.
	ss = NewTCP().New(c, &s)
	if n, _ := ss.Feed(proto.ToServer, []byte{0, 3, 1, 2, 3, 0, 20}, meta(1, 0)); n != 7 {
		t.Errorf("consumed %d", n)
	}
}

// The pending table is bounded: beyond 32 outstanding queries the oldest
// is reported unanswered.
func TestPendingBound(t *testing.T) {
	var s sink
	ss := NewUDP().New(conn(cli, srv, proto.UDP), &s)
	for i := 0; i < 40; i++ {
		ss.Feed(proto.ToServer, build(uint16(i), flagQuery, []q{{"h" + strconv.Itoa(i) + ".lan", tA, 1}}, nil, nil), meta(uint64(i+1), i))
	}
	if len(s.obs) != 8 || s.obs[0].Detail.(*Detail).Name != "h0.lan" {
		t.Fatalf("%d observations", len(s.obs))
	}
	ss.End(meta(0, 100))
	if len(s.obs) != 41 {
		t.Errorf("%d observations after end", len(s.obs))
	}
}

// dns.pcap, checked with
// tshark -r dns.pcap -T fields -e dns.id -e dns.flags.response -e dns.qry.name -e dns.a:
// flow 192.168.170.8:32795 ↔ .20:53 answers 0xdca2 (query not captured) and
// 0xbc1f (query in frame 2), both AAAA; flow 82.178.113.245:47255 asks
// e7.whatsapp.net A (0x7843) and gets 8 addresses, the first 169.45.219.235.
// nDPI calls both flows DNS.
func TestCaptureDNS(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/dns.pcap")
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{NewUDP(), NewTCP()}, path)
	k := res.Kinds()
	if k["dns/response"] != 3 || k["dns/summary"] != 1 || len(k) != 2 {
		t.Fatalf("kinds %v", k)
	}
	byFrame := map[uint64]*event.Observation{}
	for _, o := range res.Observations {
		if o.Kind != "summary" { // the summary carries the flow's last frame
			byFrame[o.Frame] = o
		}
	}
	if o := byFrame[1]; o == nil || o.Detail.(*Detail).Name != "www.l.google.com" || !o.Detail.(*Detail).QueryUnseen ||
		o.Src.IP.String() != "192.168.170.20" {
		t.Errorf("frame 1: %+v", o)
	}
	if o := byFrame[3]; o == nil || o.Detail.(*Detail).ID != 0xbc1f || o.Detail.(*Detail).QueryFrame != 2 || o.Detail.(*Detail).Type != "AAAA" {
		t.Errorf("frame 3: %+v", o)
	}
	o := byFrame[5]
	if o == nil {
		t.Fatal("no response in frame 5")
	}
	d := o.Detail.(*Detail)
	if d.Name != "e7.whatsapp.net" || d.ID != 0x7843 || d.AnswerCount != 8 || d.Answers[0].Data != "169.45.219.235" ||
		d.Answers[7].Data != "169.45.219.232" || d.QueryFrame != 4 {
		t.Errorf("frame 5: %+v", d)
	}
	if f, ok := fact(o, event.AttrServer); !ok || o.Src.IP.String() != "82.178.158.181" || f.About != event.AboutSrc {
		t.Errorf("server fact %+v from %v", f, o.Src)
	}
	for _, f := range res.Flows {
		if f.Proto != Name {
			t.Errorf("flow %s proto %q", f.ID, f.Proto)
		}
	}
}

// malformed_dns.pcap: one query for www.xt.com answered twice, each
// answer retransmitted; tshark flags the second question "<Name too
// long>". The decoder stops there, so the answers are lost but the
// exchange is reported, retransmissions are counted, nothing hangs.
func TestCaptureMalformedDNS(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/malformed_dns.pcap")
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{NewUDP()}, path)
	k := res.Kinds()
	if k["dns/response"] != 2 || k["dns/summary"] != 1 {
		t.Fatalf("kinds %v", k)
	}
	for _, o := range res.Observations {
		switch d := o.Detail.(type) {
		case *Detail:
			if d.Name != "www.xt.com" || d.Malformed == "" || d.Questions != 2 || d.ID != 0x84b4 {
				t.Errorf("response %+v", d)
			}
		case *Summary:
			if d.Queries != 2 || d.Responses != 4 || d.Duplicates != 2 || d.Malformed != 4 {
				t.Errorf("summary %+v", d)
			}
		}
	}
}

// badpackets.pcap holds only first fragments of DNS answers whose other
// fragments were not captured: the sensor rightly never passes them to a
// dissector (nDPI reports nothing either). Their truncated payloads are
// fed to a session directly and must decode as far as tshark does: the
// same id and question name for each of the 83 frames tshark names.
func TestCaptureTruncatedAnswers(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/badpackets.pcap")
	tshark := testenv.Tool(t, "tshark")
	out, err := exec.Command(tshark, "-r", path, "-T", "fields", "-e", "frame.number", "-e", "dns.id", "-e", "dns.qry.name").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	want := map[uint64]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 3 && f[2] != "" {
			n, _ := strconv.ParseUint(f[0], 10, 64)
			want[n] = f[1] + " " + f[2]
		}
	}
	if len(want) != 83 {
		t.Fatalf("tshark named %d frames", len(want))
	}
	var s sink
	ss := NewUDP().New(conn(event.Endpoint{IP: netip.MustParseAddr("204.186.80.229"), Port: 1}, srv, proto.UDP), &s)
	for frame, payload := range payloads(t, path) {
		ss.Feed(proto.ToClient, payload, proto.Meta{Frame: frame})
	}
	got := 0
	for _, o := range s.obs {
		d, ok := o.Detail.(*Detail)
		if !ok {
			continue
		}
		if w, ok := want[o.Frame]; ok {
			got++
			if g := "0x" + strconv.FormatUint(uint64(d.ID)|0x10000, 16)[1:] + " " + d.Name; g != w {
				t.Errorf("frame %d: %q want %q", o.Frame, g, w)
			}
		}
	}
	if got != len(want) {
		t.Errorf("%d of %d named frames reported", got, len(want))
	}
}

// payloads returns the UDP payloads of a capture by frame number,
// including those of first fragments (the datagram's start).
func payloads(tb testing.TB, path string) map[uint64][]byte {
	src, err := capture.OpenFiles([]string{path})
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	defer src.Close()
	out := map[uint64][]byte{}
	var p packet.Packet
	for {
		cp, err := src.Next(tb.Context())
		if err != nil {
			return out
		}
		if packet.Decode(cp.LinkType, cp.Data, &p) != nil {
			continue
		}
		switch {
		case p.Fragment && p.FragOffset == 0 && p.Proto == packet.ProtoUDP && len(p.IPPayload) > 8:
			out[cp.Frame] = append([]byte(nil), p.IPPayload[8:]...)
		case !p.Fragment && len(p.Payload) > 0:
			out[cp.Frame] = append([]byte(nil), p.Payload...)
		}
	}
}

func seeds(f *testing.F, files ...string) {
	f.Add(build(1, flagQuery, []q{{"pacs.hospital.lan", tA, 1}}, nil, nil))
	f.Add(build(1, flagResponse, []q{{"9.0.1.10.in-addr.arpa", tPTR, 1}}, []rr{{"9.0.1.10.in-addr.arpa", tPTR, 1, 60, wireName("pacs01.lan")}}, nil))
	f.Add(build(0, flagMDNS, nil, []rr{{"pump-7.local", tA, 0x8001, 120, ip4("10.1.5.7")}}, nil))
	if dir := os.Getenv("HEIR_DATA"); dir != "" {
		// nDPI payloads are LGPL: seeded at run time, never committed.
		for _, name := range files {
			for _, p := range payloads(f, dir+"/pcap/ndpi/"+name) {
				f.Add(p)
			}
		}
	}
}

// FuzzDNS feeds one datagram to the probe and to unicast, mDNS and NBNS
// sessions.
func FuzzDNS(f *testing.F) {
	seeds(f, "dns.pcap", "malformed_dns.pcap", "badpackets.pcap", "fuzz-2006-06-26-2594.pcap", "netbios.pcap")
	f.Add(nbRegistration("INFUSION-GW", 0, false, "10.2.0.7"))
	f.Add(nbStatusResponse())
	d := NewUDP()
	nbns := NewNBNS()
	var raw layers.DNS
	f.Fuzz(func(t *testing.T, data []byte) {
		// gopacket itself, without the session's recover, so that a
		// panic in it is found and reported rather than hidden.
		_ = raw.DecodeFromBytes(data, gopacket.NilDecodeFeedback)
		for _, c := range []*proto.Conn{conn(cli, srv, proto.UDP), conn(pump, group, proto.UDP)} {
			d.Probe(c, proto.ToServer, data)
			var s sink
			ss := d.New(c, &s)
			ss.Feed(proto.ToServer, data, meta(1, 0))
			ss.Feed(proto.ToClient, data, meta(2, 1))
			ss.End(meta(0, 2))
		}
		nbns.Probe(conn(cli, srv, proto.UDP), proto.ToServer, data)
		ss := nbns.New(conn(cli, srv, proto.UDP), &sink{})
		ss.Feed(proto.ToServer, data, meta(1, 0))
	})
}

// FuzzTCPSession cuts the input into a stream given in chunks to both
// directions of a TCP session.
func FuzzTCPSession(f *testing.F) {
	f.Add(tcpFrame(build(1, flagQuery, []q{{"a.lan", 252, 1}}, nil, nil)), uint8(5))
	f.Add(tcpFrame(build(1, flagResponse, []q{{"a.lan", tA, 1}}, []rr{{"a.lan", tA, 1, 5, ip4("10.0.0.1")}}, nil)), uint8(40))
	d := NewTCP()
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		c := conn(cli, srv, proto.TCP)
		d.Probe(c, proto.ToServer, data)
		var s sink
		ss := d.New(c, &s)
		step := int(chunk) + 1
		var held [2][]byte
		for i := 0; i < len(data); i += step {
			dir := proto.Dir(i / step % 2)
			held[dir] = append(held[dir], data[i:min(i+step, len(data))]...)
			n, done := ss.Feed(dir, held[dir], meta(uint64(i), i))
			if done {
				break
			}
			if n > len(held[dir]) || n < 0 {
				t.Fatalf("consumed %d of %d", n, len(held[dir]))
			}
			held[dir] = held[dir][n:]
		}
		ss.End(meta(0, 0))
	})
}

// BenchmarkPair measures one query/response exchange on a flow.
func BenchmarkPair(b *testing.B) {
	qry := build(0x4242, flagQuery, []q{{"pacs.hospital.lan", tA, 1}}, nil, nil)
	resp := build(0x4242, flagResponse, []q{{"pacs.hospital.lan", tA, 1}},
		[]rr{{"pacs.hospital.lan", tCNAME, 1, 300, wireName("pacs01.hospital.lan")}, {"pacs01.hospital.lan", tA, 1, 300, ip4("10.1.0.9")}}, nil)
	c := conn(cli, srv, proto.UDP)
	ss := NewUDP().New(c, discard{})
	m := meta(1, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(qry) + len(resp)))
	for b.Loop() {
		ss.Feed(proto.ToServer, qry, m)
		ss.Feed(proto.ToClient, resp, m)
	}
}

// BenchmarkMDNSRepeat measures the common case on a multicast flow: an
// announcement already reported.
func BenchmarkMDNSRepeat(b *testing.B) {
	ann := build(0, flagMDNS, nil, []rr{{"pump-7.local", tA, 0x8001, 120, ip4("10.1.5.7")}}, nil)
	ss := NewUDP().New(conn(pump, group, proto.UDP), discard{})
	m := meta(1, 0)
	ss.Feed(proto.ToServer, ann, m)
	b.ReportAllocs()
	for b.Loop() {
		ss.Feed(proto.ToServer, ann, m)
	}
}

func BenchmarkProbe(b *testing.B) {
	qry := build(0x4242, flagQuery, []q{{"pacs.hospital.lan", tA, 1}}, nil, nil)
	d := NewUDP()
	c := conn(cli, srv, proto.UDP)
	b.ReportAllocs()
	for b.Loop() {
		d.Probe(c, proto.ToServer, qry)
	}
}

type discard struct{}

func (discard) Observe(*event.Observation) {}
