package ssh

import (
	"encoding/binary"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// kexPacket builds a binary packet (RFC 4253 section 6) holding a KEXINIT
// (section 7.1) with the given ten name-lists.
func kexPacket(lists ...string) []byte {
	payload := []byte{msgKexInit}
	payload = append(payload, make([]byte, 16)...)
	for i := 0; i < 10; i++ {
		l := ""
		if i < len(lists) {
			l = lists[i]
		}
		payload = binary.BigEndian.AppendUint32(payload, uint32(len(l)))
		payload = append(payload, l...)
	}
	payload = append(payload, 0, 0, 0, 0, 0)
	pad := 8 - (5+len(payload))%8
	if pad < 4 {
		pad += 8
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)+pad))
	b = append(b, byte(pad))
	b = append(b, payload...)
	return append(b, make([]byte, pad)...)
}

var (
	clientLists = []string{
		"curve25519-sha256,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com",
		"ssh-ed25519,rsa-sha2-512",
		"aes128-ctr,3des-cbc", "aes128-ctr,3des-cbc",
		"hmac-sha2-256,hmac-md5", "hmac-sha2-256,hmac-md5",
		"none,zlib@openssh.com", "none,zlib@openssh.com",
	}
	oldServerLists = []string{
		"diffie-hellman-group1-sha1,diffie-hellman-group14-sha256",
		"ssh-dss,ssh-rsa",
		"3des-cbc,aes128-ctr", "3des-cbc,aes128-ctr",
		"hmac-md5,hmac-sha1", "hmac-md5,hmac-sha1",
		"none", "none",
	}
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

func newConn() *proto.Conn {
	return &proto.Conn{ID: "f", Transport: proto.TCP, Proto: Name,
		Client: event.Endpoint{IP: netip.MustParseAddr("10.1.0.20"), Port: 50000},
		Server: event.Endpoint{IP: netip.MustParseAddr("10.1.0.30"), Port: 22}}
}

func TestProbe(t *testing.T) {
	srvBanner := []byte("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.1\r\n")
	cliStart := append([]byte("SSH-2.0-OpenSSH_9.6\r\n"), kexPacket(clientLists...)...)
	tests := []struct {
		name string
		dir  proto.Dir
		data []byte
		want proto.Verdict
	}{
		{"server banner", proto.ToClient, srvBanner, proto.Yes},
		{"partial prefix", proto.ToClient, []byte("SS"), proto.Unsure},
		{"line still arriving", proto.ToClient, srvBanner[:20], proto.Unsure},
		{"client kexinit where engine expects server", proto.ToClient, cliStart, proto.YesReversed},
		{"client kexinit", proto.ToServer, cliStart, proto.Yes},
		{"http", proto.ToServer, []byte("GET / HTTP/1.1\r\n"), proto.No},
		{"bad version", proto.ToClient, []byte("SSH-x.0-foo\r\n"), proto.No},
		{"no software", proto.ToClient, []byte("SSH-2.0-\r\n"), proto.No},
		{"endless line", proto.ToClient, []byte("SSH-2.0-" + strings.Repeat("a", 300)), proto.No},
	}
	d := New()
	for _, tc := range tests {
		if got := d.Probe(newConn(), tc.dir, tc.data); got != tc.want {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
}

func TestSession(t *testing.T) {
	var s sink
	ss := New().New(newConn(), &s)
	m := proto.Meta{Time: time.Unix(1, 0), Frame: 1}
	srv := []byte("Welcome\r\nSSH-2.0-OpenSSH_7.4 Debian-10+deb9u7\r\n")
	// The server's banner and KEXINIT arrive in pieces.
	all := append(srv, kexPacket(oldServerLists...)...)
	n, done := ss.Feed(proto.ToClient, all[:30], m)
	if n != 9 || done {
		t.Fatalf("consumed %d done %v", n, done)
	}
	n, done = ss.Feed(proto.ToClient, all[9:len(all)-10], m)
	if n != len(srv)-9 || done {
		t.Fatalf("consumed %d done %v", n, done)
	}
	if _, done = ss.Feed(proto.ToClient, all[len(srv):], m); done {
		t.Fatal("done before the client spoke")
	}
	cli := append([]byte("SSH-2.0-OpenSSH_for_Windows_8.1\r\n"), kexPacket(clientLists...)...)
	cli = append(cli, 0, 0, 0, 12, 5, 30) // next packet: not read
	n, done = ss.Feed(proto.ToServer, cli, m)
	if !done || n != len(cli) {
		t.Fatalf("consumed %d of %d, done %v", n, len(cli), done)
	}
	if len(s.obs) != 4 {
		t.Fatalf("%d observations", len(s.obs))
	}
	b := s.obs[0]
	if b.Kind != "banner" || *b.Detail.(*Banner) != (Banner{ProtoVersion: "2.0", Software: "OpenSSH_7.4", Comments: "Debian-10+deb9u7"}) {
		t.Errorf("server banner %+v", b.Detail)
	}
	for a, v := range map[event.Attr]string{event.AttrServer: "ssh", event.AttrSoftware: "OpenSSH_7.4", event.AttrOS: "Debian"} {
		if f, ok := fact(b, a); !ok || f.Value != v || f.About != event.AboutSrc {
			t.Errorf("server fact %s = %+v", a, f)
		}
	}
	sk := s.obs[1].Detail.(*KexInit)
	if sk.HASSHServer == "" || sk.HASSH != "" || sk.Negotiated != nil ||
		strings.Join(sk.WeakOffered, ",") != "diffie-hellman-group1-sha1,ssh-dss,3des-cbc,hmac-md5" {
		t.Errorf("server kexinit %+v", sk)
	}
	if len(s.obs[1].Weaknesses) != 1 || s.obs[1].Weaknesses[0].Kind != event.WeakCipher {
		t.Errorf("server weaknesses %+v", s.obs[1].Weaknesses)
	}
	if f, _ := fact(s.obs[2], event.AttrOS); f.Value != "Windows" {
		t.Errorf("client os %+v", f)
	}
	if f, _ := fact(s.obs[2], event.AttrClient); f.Value != "ssh" {
		t.Errorf("client role %+v", s.obs[2].Facts)
	}
	ck := s.obs[3].Detail.(*KexInit)
	want := Negotiated{Kex: "diffie-hellman-group14-sha256", HostKey: "", CipherC2S: "aes128-ctr", CipherS2C: "aes128-ctr",
		MACC2S: "hmac-md5", MACS2C: "hmac-md5", CompressionC2S: "none", CompressionS2C: "none"}
	if ck.HASSH == "" || ck.Negotiated == nil || strings.Join(ck.Negotiated.Weak, ",") != "hmac-md5" {
		t.Fatalf("client kexinit %+v", ck)
	}
	got := *ck.Negotiated
	got.Weak, want.Weak = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("negotiated %+v want %+v", got, want)
	}
	var about []event.About
	for _, w := range s.obs[3].Weaknesses {
		if strings.HasPrefix(w.Detail, "weak SSH algorithms negotiated") {
			about = append(about, w.About)
		}
	}
	if len(about) != 2 {
		t.Errorf("negotiated weaknesses %+v", s.obs[3].Weaknesses)
	}
}

func TestSSH1(t *testing.T) {
	for _, tc := range []struct{ banner, weak string }{
		{"SSH-1.5-Cisco-1.25\r\n", "obsolete SSH protocol 1.5"},
		{"SSH-1.99-OpenSSH_3.9p1\r\n", "obsolete SSH protocol 1 still offered (SSH-1.99)"},
	} {
		var s sink
		ss := New().New(newConn(), &s)
		ss.Feed(proto.ToClient, []byte(tc.banner), proto.Meta{})
		if len(s.obs) != 1 || len(s.obs[0].Weaknesses) != 1 || s.obs[0].Weaknesses[0].Detail != tc.weak {
			t.Errorf("%q: %+v", tc.banner, s.obs)
		}
	}
	// An SSH-1 server has no KEXINIT: that side is finished after its banner.
	var s sink
	ss := New().New(newConn(), &s)
	ss.Feed(proto.ToClient, []byte("SSH-1.5-Cisco-1.25\n"), proto.Meta{})
	if _, done := ss.Feed(proto.ToServer, []byte("SSH-1.5-PuTTY\n\x00\x00\x01\x04"), proto.Meta{}); !done {
		t.Error("not done")
	}
	if f, _ := fact(s.obs[0], event.AttrOS); f.Value != "Cisco IOS" {
		t.Errorf("os %+v", s.obs[0].Facts)
	}
}

func TestMalformedKexInit(t *testing.T) {
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{
		{"huge length", []byte{0x7f, 0xff, 0xff, 0xff, 4, 20}},
		{"padding longer than packet", []byte{0, 0, 0, 8, 200, 20, 0, 0, 0, 0, 0, 0}},
		{"name-list past the end", func() []byte {
			p := kexPacket(clientLists...)
			binary.BigEndian.PutUint32(p[6+16:], 1<<30)
			return p
		}()},
		{"not kexinit", []byte{0, 0, 0, 12, 4, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		var s sink
		ss := New().New(newConn(), &s)
		data := append([]byte("SSH-2.0-x\r\n"), tc.pkt...)
		n, _ := ss.Feed(proto.ToServer, data, proto.Meta{})
		if n != len(data) || len(s.obs) != 1 {
			t.Errorf("%s: consumed %d of %d, %d observations", tc.name, n, len(data), len(s.obs))
		}
	}
}

// ssh.pcap, compared with tshark (-d tcp.port==8000,ssh -e ssh.protocol
// -e ssh.kex.hassh -e ssh.kex.hasshserver) and nDPI's HASSH-C/HASSH-S.
// nDPI prints the first flow's banners the other way round; tshark and
// the packets agree that 172.16.238.168:22 sent OpenSSH_5.3.
func TestCapture(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/ssh.pcap")
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{New()}, path)
	if k := res.Kinds(); k["ssh/banner"] != 4 || k["ssh/kexinit"] != 4 {
		t.Fatalf("kinds %v", k)
	}
	type want struct {
		src, software, os, hassh, hasshServer string
	}
	wants := map[uint64]want{
		4:   {src: "172.16.238.168:22", software: "OpenSSH_5.3"},
		6:   {src: "172.16.238.1:58395", software: "OpenSSH_5.6"},
		8:   {src: "172.16.238.1:58395", hassh: "21b457a327ce7a2d4fce5ef2c42400bd"},
		10:  {src: "172.16.238.168:22", hasshServer: "b1c6c0d56317555b85c7005a3de29325"},
		262: {src: "127.0.0.1:58496", software: "OpenSSH_8.2p1", os: "Ubuntu"},
		264: {src: "127.0.0.1:8000", software: "APACHE-SSHD-2.5.0"},
		266: {src: "127.0.0.1:58496", hassh: "c11b200866cf918393e62ea25d851d90"},
		267: {src: "127.0.0.1:8000", hasshServer: "ca6dd86b2d9a44e4a3f1a55c53e6b0fa"},
	}
	for _, o := range res.Observations {
		w, ok := wants[o.Frame]
		if !ok {
			t.Errorf("unexpected %s in frame %d", o.Kind, o.Frame)
			continue
		}
		if src := netip.AddrPortFrom(o.Src.IP, o.Src.Port).String(); src != w.src {
			t.Errorf("frame %d from %s want %s", o.Frame, src, w.src)
		}
		switch d := o.Detail.(type) {
		case *Banner:
			if d.Software != w.software {
				t.Errorf("frame %d software %q", o.Frame, d.Software)
			}
			if f, _ := fact(o, event.AttrOS); f.Value != w.os {
				t.Errorf("frame %d os %q", o.Frame, f.Value)
			}
		case *KexInit:
			if d.HASSH != w.hassh || d.HASSHServer != w.hasshServer {
				t.Errorf("frame %d hassh %q/%q", o.Frame, d.HASSH, d.HASSHServer)
			}
			// nDPI finds arcfour128 offered by both ends of the first
			// flow and by the server of the second (its risks: "SSH
			// Obsolete Cli/Ser Vers/Cipher" and "Ser" only).
			if contains(d.WeakOffered, "arcfour128") == (o.Frame == 266) {
				t.Errorf("frame %d weak %v", o.Frame, d.WeakOffered)
			}
		}
	}
	// The second KEXINIT of the first flow selects hmac-md5: the client
	// lists it first and the server supports it.
	for _, o := range res.Observations {
		if o.Frame == 10 {
			n := o.Detail.(*KexInit).Negotiated
			if n == nil || n.Kex != "diffie-hellman-group-exchange-sha256" || n.CipherC2S != "aes128-ctr" || n.MACC2S != "hmac-md5" || n.HostKey != "ssh-rsa" {
				t.Errorf("negotiated %+v", n)
			}
		}
	}
	for _, f := range res.Flows {
		if f.Proto != Name {
			t.Errorf("flow %s: %q", f.ID, f.Proto)
		}
	}
}

// streams returns the TCP payloads of a capture, for fuzz seeds.
func streams(tb testing.TB, path string) [][]byte {
	src, err := capture.OpenFiles([]string{path})
	if err != nil {
		tb.Logf("no seeds: %v", err)
		return nil
	}
	defer src.Close()
	var out [][]byte
	var p packet.Packet
	for {
		cp, err := src.Next(tb.Context())
		if err != nil {
			return out
		}
		if packet.Decode(cp.LinkType, cp.Data, &p) == nil && len(p.Payload) > 0 && len(out) < 64 {
			out = append(out, append([]byte(nil), p.Payload...))
		}
	}
}

// FuzzSSH probes and feeds one direction's start.
func FuzzSSH(f *testing.F) {
	f.Add(append([]byte("SSH-2.0-OpenSSH_9.6\r\n"), kexPacket(clientLists...)...))
	f.Add(append([]byte("x\r\nSSH-1.99-OpenSSH_3.9p1\r\n"), kexPacket(oldServerLists...)...))
	if dir := os.Getenv("HEIR_DATA"); dir != "" {
		// nDPI payloads are LGPL: seeded at run time, never committed.
		for _, p := range streams(f, dir+"/pcap/ndpi/ssh.pcap") {
			f.Add(p)
		}
	}
	d := New()
	f.Fuzz(func(t *testing.T, data []byte) {
		d.Probe(newConn(), proto.ToClient, data)
		ss := d.New(newConn(), &sink{})
		n, _ := ss.Feed(proto.ToClient, data, proto.Meta{})
		if n < 0 || n > len(data) {
			t.Fatalf("consumed %d of %d", n, len(data))
		}
	})
}

// FuzzSession gives a session both directions in chunks, as the engine
// does, keeping what it did not consume.
func FuzzSession(f *testing.F) {
	srv := append([]byte("SSH-2.0-OpenSSH_7.4\r\n"), kexPacket(oldServerLists...)...)
	cli := append([]byte("SSH-2.0-PuTTY\r\n"), kexPacket(clientLists...)...)
	f.Add(srv, cli, uint8(7))
	f.Fuzz(func(t *testing.T, a, b []byte, chunk uint8) {
		ss := New().New(newConn(), &sink{})
		step := int(chunk) + 1
		var held [2][]byte
		data := [2][]byte{b, a}
		for i := 0; i < max(len(a), len(b)); i += step {
			for dir := proto.ToServer; dir <= proto.ToClient; dir++ {
				if i >= len(data[dir]) {
					continue
				}
				held[dir] = append(held[dir], data[dir][i:min(i+step, len(data[dir]))]...)
				n, done := ss.Feed(dir, held[dir], proto.Meta{})
				if done {
					return
				}
				if n < 0 || n > len(held[dir]) {
					t.Fatalf("consumed %d of %d", n, len(held[dir]))
				}
				held[dir] = held[dir][n:]
				if len(held[dir]) > 1<<16 {
					t.Fatalf("holding %d bytes", len(held[dir]))
				}
			}
		}
		ss.End(proto.Meta{})
	})
}
