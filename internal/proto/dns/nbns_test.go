package dns

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// nbEnc encodes a NetBIOS name (RFC 1001 section 14.1) with its suffix.
func nbEnc(name string, suffix byte) []byte {
	raw := []byte(name + strings.Repeat(" ", 15-len(name)))
	raw = append(raw, suffix)
	out := []byte{32}
	for _, c := range raw {
		out = append(out, 'A'+c>>4, 'A'+c&15)
	}
	return append(out, 0)
}

// nbRegistration builds a broadcast name registration request: the
// question, and an additional NB record pointing back at it (0xc00c).
func nbRegistration(name string, suffix byte, group bool, ip string) []byte {
	b := []byte{0x81, 0x22, 0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1}
	b = append(b, nbEnc(name, suffix)...)
	b = append(b, 0, 0x20, 0, 1)
	b = append(b, 0xc0, 0x0c, 0, 0x20, 0, 1, 0, 0x04, 0x93, 0xe0, 0, 6)
	flags := byte(0x60)
	if group {
		flags |= 0x80
	}
	a := netip.MustParseAddr(ip).As4()
	b = append(b, flags, 0)
	return append(b, a[:]...)
}

func nbStatusResponse() []byte {
	b := []byte{0x12, 0x34, 0x84, 0x00, 0, 0, 0, 1, 0, 0, 0, 0}
	wild := append([]byte("*"), make([]byte, 15)...)
	enc := []byte{32}
	for _, c := range wild {
		enc = append(enc, 'A'+c>>4, 'A'+c&15)
	}
	b = append(b, append(enc, 0)...)
	b = append(b, 0, 0x21, 0, 1, 0, 0, 0, 0)
	var rd []byte
	rd = append(rd, 3)
	for _, n := range []struct {
		name   string
		suffix byte
		flags  byte
	}{{"INFUSION-GW", 0x00, 0x04}, {"ICU", 0x00, 0x84}, {"INFUSION-GW", 0x20, 0x04}} {
		rd = append(rd, []byte(n.name+strings.Repeat(" ", 15-len(n.name)))...)
		rd = append(rd, n.suffix, n.flags, 0)
	}
	rd = append(rd, 0x00, 0x1c, 0xc4, 0x10, 0x79, 0x0f)
	rd = append(rd, make([]byte, 40)...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rd)))
	return append(b, rd...)
}

func TestNBNS(t *testing.T) {
	gw := event.Endpoint{IP: netip.MustParseAddr("10.2.0.7"), Port: 137}
	bcast := event.Endpoint{IP: netip.MustParseAddr("10.2.0.255"), Port: 137}
	d := NewNBNS()
	reg := nbRegistration("INFUSION-GW", 0x00, false, "10.2.0.7")
	if v := d.Probe(conn(gw, bcast, proto.UDP), proto.ToServer, reg); v != proto.Yes {
		t.Errorf("probe registration: %v", v)
	}
	dnsQuery := build(1, flagQuery, []q{{"pacs.hospital.lan", tA, 1}}, nil, nil)
	if v := d.Probe(conn(gw, bcast, proto.UDP), proto.ToServer, dnsQuery); v != proto.No {
		t.Errorf("probe dns: %v", v)
	}
	var s sink
	ss := d.New(conn(gw, bcast, proto.UDP), &s)
	ss.Feed(proto.ToServer, reg, meta(1, 0))
	ss.Feed(proto.ToServer, reg, meta(2, 1000)) // repeated broadcast
	ss.Feed(proto.ToServer, nbRegistration("ICU", 0x00, true, "10.2.0.7"), meta(3, 2000))
	ss.Feed(proto.ToServer, nbRegistration("OTHER", 0x00, false, "10.2.0.99"), meta(4, 3000))
	if got := s.kinds(); got != "registration,registration,registration" {
		t.Fatalf("kinds %s", got)
	}
	d0 := s.obs[0].Detail.(*NBNSDetail)
	if d0.Name != "INFUSION-GW" || d0.Suffix != "00" || d0.Type != "NB" || len(d0.Addresses) != 1 || d0.Addresses[0] != "10.2.0.7" {
		t.Errorf("detail %+v", d0)
	}
	if f, ok := fact(s.obs[0], event.AttrHostname); !ok || f.Value != "INFUSION-GW" || f.About != event.AboutSrc {
		t.Errorf("facts %+v", s.obs[0].Facts)
	}
	if f, ok := fact(s.obs[1], event.AttrDomain); !ok || f.Value != "ICU" {
		t.Errorf("group facts %+v", s.obs[1].Facts)
	}
	if len(s.obs[2].Facts) != 0 {
		t.Errorf("a name for another address is no fact about the sender: %+v", s.obs[2].Facts)
	}

	s = sink{}
	ss = d.New(conn(event.Endpoint{IP: cli.IP, Port: 50000}, gw, proto.UDP), &s)
	ss.Feed(proto.ToClient, nbStatusResponse(), meta(1, 0))
	if len(s.obs) != 1 || s.obs[0].Kind != "node-status" {
		t.Fatalf("kinds %s", s.kinds())
	}
	st := s.obs[0].Detail.(*NBNSDetail)
	if st.UnitID != "00:1c:c4:10:79:0f" || len(st.Names) != 3 || st.Names[1] != (NBNSEntry{Name: "ICU", Suffix: "00", Group: true}) || st.Name != "*" {
		t.Errorf("node status %+v", st)
	}
	var vals []string
	for _, f := range s.obs[0].Facts {
		vals = append(vals, string(f.Attr)+"="+f.Value)
	}
	if strings.Join(vals, ",") != "hostname=INFUSION-GW,domain=ICU" {
		t.Errorf("facts %v", vals)
	}
}

// netbios.pcap, checked with tshark -Y nbns -V: 10.0.4.24 answers node
// status queries with GUNNAR<00>, VIGILANT_GROUP<00> (group), GUNNAR<20>,
// VIGILANT_GROUP<1e> and unit id 00:1c:c4:10:79:0f, and a name query for
// GUNNAR<00> with its own address; 10.0.5.1 answers GURU<00> with its own.
// nDPI calls the port-137 flows NetBIOS.
func TestCaptureNBNS(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/netbios.pcap")
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{NewNBNS(), NewUDP()}, path)
	hosts := map[string]map[string]bool{}
	for _, o := range res.Observations {
		if o.Proto != NBNSName {
			t.Errorf("%s observation on port %d", o.Proto, o.Dst.Port)
		}
		for _, f := range o.Facts {
			ip := o.Src.IP.String()
			if hosts[ip] == nil {
				hosts[ip] = map[string]bool{}
			}
			hosts[ip][string(f.Attr)+"="+f.Value] = true
		}
		if d := o.Detail.(*NBNSDetail); o.Kind == "node-status" && d.UnitID != "00:1c:c4:10:79:0f" {
			t.Errorf("unit id %q", d.UnitID)
		}
	}
	want := map[string][]string{
		"10.0.4.24": {"hostname=GUNNAR", "domain=VIGILANT_GROUP"},
		"10.0.5.1":  {"hostname=GURU"},
	}
	for ip, fs := range want {
		for _, f := range fs {
			if !hosts[ip][f] {
				t.Errorf("%s: missing %s (have %v)", ip, f, hosts[ip])
			}
		}
	}
	if len(hosts) != len(want) {
		t.Errorf("facts about %v", hosts)
	}
	// Four node status answers in three flows: the repeat within a flow
	// is not reported again.
	k := res.Kinds()
	if k["nbns/node-status"] != 3 || k["nbns/response"] != 2 {
		t.Errorf("kinds %v", k)
	}
}
