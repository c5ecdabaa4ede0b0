package smb

import (
	"encoding/binary"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/heir-emd/heir/internal/capture"
	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/packet"
	"github.com/heir-emd/heir/internal/proto"
	"github.com/heir-emd/heir/internal/sensor"
	"github.com/heir-emd/heir/internal/sensor/sensortest"
	"github.com/heir-emd/heir/internal/testenv"
)

// The builders below follow [MS-SMB2] 2.2 and [MS-CIFS] 2.2 field by field.

func nb(msg []byte) []byte {
	n := len(msg)
	return append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, msg...)
}

func u16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func u32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

func uni(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = u16(b, r)
	}
	return b
}

func smb2Header(cmd uint16, reply bool, status uint32) []byte {
	h := []byte{0xfe, 'S', 'M', 'B'}
	h = u16(h, 64)
	h = u16(h, 0)
	h = u32(h, status)
	h = u16(h, cmd)
	h = u16(h, 1)
	var flags uint32
	if reply {
		flags = 1
	}
	h = u32(h, flags)
	return append(h, make([]byte, 64-len(h))...)
}

// negContext is one SMB 3.1.1 negotiate context, padded to 8 bytes.
func negContext(typ uint16, data []byte) []byte {
	b := u16(nil, typ)
	b = u16(b, uint16(len(data)))
	b = append(b, 0, 0, 0, 0)
	b = append(b, data...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func smb2NegotiateReq(secMode uint16, dialects []uint16, ctx ...[]byte) []byte {
	m := smb2Header(0, false, 0)
	body := u16(nil, 36)
	body = u16(body, uint16(len(dialects)))
	body = u16(body, secMode)
	body = u16(body, 0)
	body = u32(body, 0x7f)
	body = append(body, make([]byte, 16)...) // client GUID
	ctxOff := 64 + 36 + 2*len(dialects)
	for ctxOff%8 != 0 {
		ctxOff++
	}
	body = u32(body, uint32(ctxOff))
	body = u16(body, uint16(len(ctx)))
	body = u16(body, 0)
	for _, d := range dialects {
		body = u16(body, d)
	}
	m = append(m, body...)
	for len(m) < ctxOff {
		m = append(m, 0)
	}
	for _, c := range ctx {
		m = append(m, c...)
	}
	return m
}

func smb2NegotiateResp(secMode, dialect uint16, ctx ...[]byte) []byte {
	m := smb2Header(0, true, 0)
	body := u16(nil, 65)
	body = u16(body, secMode)
	body = u16(body, dialect)
	body = u16(body, uint16(len(ctx)))
	body = append(body, 0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff)
	body = append(body, make([]byte, 32)...) // capabilities … server start time
	body = u16(body, 128)                    // security buffer offset
	body = u16(body, 0)
	ctxOff := 128
	body = u32(body, uint32(ctxOff))
	m = append(m, body...)
	for len(m) < ctxOff {
		m = append(m, 0)
	}
	for _, c := range ctx {
		m = append(m, c...)
	}
	return m
}

func ntlmField(b []byte, l, off int) []byte {
	b = u16(b, uint16(l))
	b = u16(b, uint16(l))
	return u32(b, uint32(off))
}

// ntlmChallenge builds a CHALLENGE with target info naming the server.
func ntlmChallenge() []byte {
	var info []byte
	for _, av := range []struct {
		id uint16
		v  string
	}{{2, "HOSP"}, {1, "PACS01"}, {4, "hosp.lan"}, {3, "pacs01.hosp.lan"}} {
		info = u16(info, av.id)
		info = u16(info, uint16(len(uni(av.v))))
		info = append(info, uni(av.v)...)
	}
	info = append(info, 0, 0, 0, 0)
	m := []byte("NTLMSSP\x00")
	m = u32(m, 2)
	m = ntlmField(m, 0, 56)
	m = u32(m, 0x02000001|0x00800000)
	m = append(m, make([]byte, 16)...) // challenge, reserved
	m = ntlmField(m, len(info), 56)
	m = append(m, 10, 0, 0x61, 0x4a, 0, 0, 0, 15) // 10.0.19041
	return append(m, info...)
}

// ntlmAuthenticate builds an AUTHENTICATE with the given NT response
// length (24 for NTLMv1).
func ntlmAuthenticate(domain, user, ws string, ntLen int) []byte {
	d, u, w := uni(domain), uni(user), uni(ws)
	off := 72
	m := []byte("NTLMSSP\x00")
	m = u32(m, 3)
	m = ntlmField(m, 0, off)
	m = ntlmField(m, ntLen, off)
	m = ntlmField(m, len(d), off+ntLen)
	m = ntlmField(m, len(u), off+ntLen+len(d))
	m = ntlmField(m, len(w), off+ntLen+len(d)+len(u))
	m = ntlmField(m, 0, off)
	m = u32(m, 0x02000001)
	m = append(m, 6, 1, 0xb1, 0x1d, 0, 0, 0, 15) // 6.1.7601
	m = append(m, make([]byte, ntLen)...)
	m = append(m, d...)
	m = append(m, u...)
	return append(m, w...)
}

// spnego wraps a token in bytes that look like an SPNEGO prefix; the
// dissector finds NTLMSSP by its signature, not by ASN.1.
func spnego(tok []byte) []byte {
	return append([]byte{0xa1, 0x81, 0x80, 0x30, 0x7e, 0xa2, 0x7c, 0x04, 0x7a}, tok...)
}

func smb2Setup(reply bool, status uint32, flags uint16, blob []byte) []byte {
	m := smb2Header(1, reply, status)
	var body []byte
	if reply {
		body = u16(nil, 9)
		body = u16(body, flags)
		body = u16(body, 72)
		body = u16(body, uint16(len(blob)))
	} else {
		body = u16(nil, 25)
		body = append(body, 0, 1)
		body = u32(body, 1)
		body = u32(body, 0)
		body = u16(body, 88)
		body = u16(body, uint16(len(blob)))
		body = append(body, make([]byte, 8)...)
	}
	m = append(m, body...)
	return append(m, blob...)
}

func smb1Header(cmd byte, reply bool, status uint32) []byte {
	h := []byte{0xff, 'S', 'M', 'B', cmd}
	h = u32(h, status)
	f := byte(0x18)
	if reply {
		f |= 0x80
	}
	h = append(h, f)
	h = u16(h, 0xc853) // unicode, NT status, extended security
	return append(h, make([]byte, 32-len(h))...)
}

func smb1NegotiateReq(dialects ...string) []byte {
	var b []byte
	for _, d := range dialects {
		b = append(b, 2)
		b = append(append(b, d...), 0)
	}
	m := append(smb1Header(0x72, false, 0), 0)
	m = u16(m, uint16(len(b)))
	return append(m, b...)
}

type sink struct{ obs []*event.Observation }

func (s *sink) Observe(o *event.Observation) { s.obs = append(s.obs, o) }

func (s *sink) kind(k string) *event.Observation {
	for _, o := range s.obs {
		if o.Kind == k {
			return o
		}
	}
	return nil
}

func hasFact(o *event.Observation, about event.About, a event.Attr, v string) bool {
	for _, f := range o.Facts {
		if f.About == about && f.Attr == a && f.Value == v {
			return true
		}
	}
	return false
}

func weakness(o *event.Observation, k event.WeaknessKind) []event.Weakness {
	var out []event.Weakness
	for _, w := range o.Weaknesses {
		if w.Kind == k {
			out = append(out, w)
		}
	}
	return out
}

func newConn() *proto.Conn {
	return &proto.Conn{ID: "f", Transport: proto.TCP, Proto: Name,
		Client: event.Endpoint{IP: netip.MustParseAddr("10.1.0.20"), Port: 50000},
		Server: event.Endpoint{IP: netip.MustParseAddr("10.1.0.30"), Port: 445}}
}

type step struct {
	dir  proto.Dir
	data []byte
}

func run(t *testing.T, steps ...step) (*sink, bool) {
	t.Helper()
	var s sink
	ss := New().New(newConn(), &s)
	done := false
	for i, st := range steps {
		n, d := ss.Feed(st.dir, st.data, proto.Meta{Time: time.Unix(int64(i+1), 0), Frame: uint64(i + 1)})
		if !d && n != len(st.data) {
			t.Fatalf("step %d: consumed %d of %d", i, n, len(st.data))
		}
		if d {
			done = true
			break
		}
	}
	if !done {
		ss.End(proto.Meta{Time: time.Unix(99, 0)})
	}
	return &s, done
}

func TestProbe(t *testing.T) {
	req := nb(smb2NegotiateReq(1, []uint16{0x0202, 0x0311}))
	resp := nb(smb2NegotiateResp(1, 0x0311))
	smb1 := nb(smb1NegotiateReq("NT LM 0.12"))
	sessReq := append([]byte{0x81, 0, 0, 68}, encName("PACS01", 0x20)...)
	sessReq = append(sessReq, encName("ICU-WS-07", 0)...)
	tests := []struct {
		name string
		dir  proto.Dir
		data []byte
		want proto.Verdict
	}{
		{"smb2 negotiate", proto.ToServer, req, proto.Yes},
		{"smb2 response first", proto.ToServer, resp, proto.YesReversed},
		{"smb2 response", proto.ToClient, resp, proto.Yes},
		{"smb1 negotiate", proto.ToServer, smb1, proto.Yes},
		{"transform", proto.ToServer, nb([]byte{0xfd, 'S', 'M', 'B', 0, 0}), proto.Yes},
		{"session request", proto.ToServer, sessReq, proto.Yes},
		{"session request from server", proto.ToClient, sessReq, proto.No},
		{"short", proto.ToServer, req[:6], proto.Unsure},
		{"header arriving", proto.ToServer, req[:30], proto.Unsure},
		{"other protocol id", proto.ToServer, nb([]byte{0xfe, 'X', 'Y', 'Z', 0, 0, 0, 0}), proto.No},
		{"http", proto.ToServer, []byte("GET / HTTP/1.1\r\n"), proto.No},
		{"bad structure size", proto.ToServer, func() []byte { b := append([]byte(nil), req...); b[8] = 63; return b }(), proto.No},
	}
	d := New()
	for _, tc := range tests {
		if got := d.Probe(newConn(), tc.dir, tc.data); got != tc.want {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
}

func encName(name string, suffix byte) []byte {
	raw := []byte(name + strings.Repeat(" ", 15-len(name)))
	raw = append(raw, suffix)
	out := []byte{32}
	for _, c := range raw {
		out = append(out, 'A'+c>>4, 'A'+c&15)
	}
	return append(out, 0)
}

func TestSMB2NegotiateAndNTLM(t *testing.T) {
	ciphers := negContext(2, []byte{2, 0, 4, 0, 2, 0})
	sign := negContext(8, []byte{2, 0, 2, 0, 1, 0})
	netname := negContext(5, uni("pacs01.hosp.lan"))
	s, done := run(t,
		step{proto.ToServer, nb(smb2NegotiateReq(1, []uint16{0x0202, 0x0210, 0x0300, 0x0302, 0x0311}, negContext(1, make([]byte, 38)), ciphers, sign, netname))},
		step{proto.ToClient, nb(smb2NegotiateResp(1, 0x0311, negContext(2, []byte{1, 0, 4, 0}), negContext(8, []byte{1, 0, 2, 0})))},
		step{proto.ToServer, nb(smb2Setup(false, 0, 0, spnego([]byte("NTLMSSP\x00\x01\x00\x00\x00\x07\x82\x08\xa2"))))},
		step{proto.ToClient, nb(smb2Setup(true, statusMoreProcess, 0, spnego(ntlmChallenge())))},
		step{proto.ToServer, nb(smb2Setup(false, 0, 0, spnego(ntlmAuthenticate("HOSP", "radiographer", "MODALITY-CT1", 24))))},
		step{proto.ToClient, nb(smb2Setup(true, 0, 0, nil))},
		step{proto.ToServer, nb(smb2Header(3, false, 0))},
	)
	if !done {
		t.Fatal("not done after the session setup")
	}
	neg := s.kind("negotiate")
	if neg == nil {
		t.Fatal("no negotiate")
	}
	n := neg.Detail.(*Negotiate)
	if n.Version != "smb3" || n.Dialect != "3.1.1" || strings.Join(n.Dialects, ",") != "2.0.2,2.1,3.0,3.0.2,3.1.1" ||
		n.Signing != "enabled" || n.ClientSigning != "enabled" || n.Note == "" ||
		n.ServerGUID != "00112233-4455-6677-8899-aabbccddeeff" || n.ServerName != "pacs01.hosp.lan" ||
		strings.Join(n.Ciphers, ",") != "AES-256-GCM" || strings.Join(n.SigningAlgorithms, ",") != "AES-GMAC" || n.Upgraded {
		t.Errorf("negotiate %+v", n)
	}
	if len(weakness(neg, event.WeakSMBv1)) != 0 {
		t.Errorf("weaknesses %+v", neg.Weaknesses)
	}
	if !hasFact(neg, event.AboutSrc, event.AttrClient, "smb") || !hasFact(neg, event.AboutDst, event.AttrServer, "smb") {
		t.Errorf("facts %+v", neg.Facts)
	}
	ss := s.kind("session-setup")
	if ss == nil {
		t.Fatal("no session setup")
	}
	d := ss.Detail.(*SessionSetup)
	if d.Version != "smb2" || d.Mechanism != "ntlmssp" || d.User != "radiographer" || d.Domain != "HOSP" ||
		d.Workstation != "MODALITY-CT1" || d.NTLMVersion != "v1" || d.Status != "success" || d.Anonymous ||
		d.ServerNetBIOSName != "PACS01" || d.ServerDNSDomain != "hosp.lan" || d.ServerVersion != "10.0.19041" ||
		d.ClientVersion != "6.1.7601" || ss.Frame != 6 {
		t.Errorf("session setup %+v frame %d", d, ss.Frame)
	}
	for _, f := range []struct {
		about event.About
		attr  event.Attr
		v     string
	}{
		{event.AboutSrc, event.AttrHostname, "MODALITY-CT1"},
		{event.AboutSrc, event.AttrDomain, "HOSP"},
		{event.AboutSrc, event.AttrOS, "Windows 6.1.7601"},
		{event.AboutDst, event.AttrHostname, "PACS01"},
		{event.AboutDst, event.AttrDomain, "hosp.lan"},
		{event.AboutDst, event.AttrOS, "Windows 10.0.19041"},
	} {
		if !hasFact(ss, f.about, f.attr, f.v) {
			t.Errorf("missing fact %s %s=%s in %+v", f.about, f.attr, f.v, ss.Facts)
		}
	}
	if len(ss.Weaknesses) != 0 {
		t.Errorf("weaknesses %+v", ss.Weaknesses)
	}
}

// An SMB1 multi-protocol NEGOTIATE that the server answers in SMB2 is no
// use of SMBv1.
func TestMultiProtocolUpgrade(t *testing.T) {
	s, _ := run(t,
		step{proto.ToServer, nb(smb1NegotiateReq("NT LM 0.12", "SMB 2.002", "SMB 2.???"))},
		step{proto.ToClient, nb(smb2NegotiateResp(1, 0x02ff))},
		step{proto.ToServer, nb(smb2NegotiateReq(1, []uint16{0x0202, 0x0210, 0x0300}))},
		step{proto.ToClient, nb(smb2NegotiateResp(3, 0x0300))},
	)
	neg := s.kind("negotiate")
	n := neg.Detail.(*Negotiate)
	if !n.Upgraded || n.Version != "smb3" || n.Dialect != "3.0" || n.Signing != "required" || n.Note != "" ||
		len(n.SMB1Dialects) != 3 || n.OnlySMB1 {
		t.Errorf("negotiate %+v", n)
	}
	if len(neg.Weaknesses) != 0 {
		t.Errorf("weaknesses %+v", neg.Weaknesses)
	}
}

func TestSMB1OnlyClientAndServer(t *testing.T) {
	s, _ := run(t, step{proto.ToServer, nb(smb1NegotiateReq("PC NETWORK PROGRAM 1.0", "NT LM 0.12"))})
	neg := s.kind("negotiate")
	if neg == nil {
		t.Fatal("no negotiate at end")
	}
	w := weakness(neg, event.WeakSMBv1)
	if len(w) != 1 || w[0].About != event.AboutSrc || w[0].Detail != "client offers only SMBv1 dialects" {
		t.Errorf("weaknesses %+v", neg.Weaknesses)
	}
}

// SMB1 without extended security and a server that does not ask for
// encrypted passwords: the password travels in clear; it must be flagged,
// never kept.
func TestSMB1CleartextPassword(t *testing.T) {
	resp := append(smb1Header(0x72, true, 0), 17)
	words := u16(nil, 1)                       // dialect index
	words = append(words, 0x01)                // user level, no encryption
	words = append(words, make([]byte, 16)...) // … session key
	words = u32(words, 0)                      // capabilities: no extended security
	words = append(words, make([]byte, 10)...) // time, zone
	words = append(words, 0)                   // challenge length
	resp = append(resp, words...)
	resp = u16(resp, 0)
	setup := smb1Header(0x73, false, 0)
	setup[10] &^= 0x00 // keep unicode
	setup = append(setup, 13)
	w := []byte{0xff, 0, 0, 0}
	w = append(w, make([]byte, 10)...)
	w = u16(w, 8) // OEM password length
	w = u16(w, 0) // Unicode password length
	w = append(w, make([]byte, 8)...)
	setup = append(setup, w...)
	var b []byte
	b = append(b, "s3cr3t!!"...)
	for _, str := range []string{"admin", "WORKGROUP", "Windows XP 2600", "Windows 2000 LAN Manager"} {
		if (32+1+26+2+len(b))%2 == 1 {
			b = append(b, 0)
		}
		b = append(append(b, uni(str)...), 0, 0)
	}
	setup = u16(setup, uint16(len(b)))
	setup = append(setup, b...)
	s, _ := run(t,
		step{proto.ToServer, nb(smb1NegotiateReq("LANMAN1.0", "NT LM 0.12"))},
		step{proto.ToClient, nb(resp)},
		step{proto.ToServer, nb(setup)},
	)
	ss := s.kind("session-setup")
	if ss == nil {
		t.Fatal("no session setup")
	}
	d := ss.Detail.(*SessionSetup)
	if d.User != "admin" || d.Domain != "WORKGROUP" || d.ClientOS != "Windows XP 2600" || d.Mechanism != "password" {
		t.Errorf("%+v", d)
	}
	if w := weakness(ss, event.WeakCleartextCredentials); len(w) != 1 || w[0].About != event.AboutDst {
		t.Errorf("weaknesses %+v", ss.Weaknesses)
	}
	if !hasFact(ss, event.AboutSrc, event.AttrOS, "Windows XP 2600") {
		t.Errorf("facts %+v", ss.Facts)
	}
	for _, o := range s.obs {
		if strings.Contains(strings.ToLower(string(mustJSON(t, o))), "s3cr3t") {
			t.Errorf("password leaked in %s", o.Kind)
		}
	}
	if n := s.kind("negotiate").Detail.(*Negotiate); n.Dialect != "NT LM 0.12" || n.Version != "smb1" || n.Signing != "disabled" {
		t.Errorf("negotiate %+v", n)
	}
}

func TestMidstream(t *testing.T) {
	s, done := run(t, step{proto.ToClient, nb(smb2Header(8, true, 0))})
	if !done || len(s.obs) != 1 || s.obs[0].Kind != "message" {
		t.Fatalf("done %v obs %d", done, len(s.obs))
	}
	if m := s.obs[0].Detail.(*Message); m.Version != "smb2" || m.Command != "read" {
		t.Errorf("%+v", m)
	}
	if !hasFact(s.obs[0], event.AboutSrc, event.AttrServer, "smb") {
		t.Errorf("facts %+v", s.obs[0].Facts)
	}
	s, _ = run(t, step{proto.ToServer, nb(append(smb1Header(0x2e, false, 0), 0, 0, 0))})
	if w := weakness(s.obs[0], event.WeakSMBv1); len(w) != 1 || w[0].About != event.AboutDst {
		t.Errorf("smb1 midstream %+v", s.obs[0].Weaknesses)
	}
}

// A large message the session need not read is skipped, not held.
func TestSkipBulk(t *testing.T) {
	var s sink
	ss := New().New(newConn(), &s)
	ss.Feed(proto.ToServer, nb(smb2NegotiateReq(1, []uint16{0x0202})), proto.Meta{})
	ss.Feed(proto.ToClient, nb(smb2NegotiateResp(1, 0x0202)), proto.Meta{})
	write := smb2Header(9, false, 0)
	big := append([]byte{0, 0x10, 0, 0}, write...)
	n, done := ss.Feed(proto.ToServer, big, proto.Meta{})
	if n != 4+0x100000 && !done {
		t.Errorf("consumed %d done %v", n, done)
	}
}

func mustJSON(t *testing.T, o *event.Observation) []byte {
	t.Helper()
	b, err := jsonMarshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// smbv1.pcap (an EternalBlue probe), checked with tshark -V: the client
// offers six SMB1 dialects, the server selects index 5 "NT LM 0.12",
// security mode 0x03, domain WORKGROUP, server JOHN-PC; the anonymous
// session setup gives native OS "Windows 2000 2195" / LAN manager
// "Windows 2000 5.0" from the client and "Windows 7 Ultimate 7601 Service
// Pack 1" / "Windows 7 Ultimate 6.1" from the server. nDPI: SMBv1, "SMB
// Insecure Vers".
func TestCaptureSMBv1(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/smbv1.pcap")
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{New()}, path)
	var s sink
	s.obs = res.Observations
	neg, ss := s.kind("negotiate"), s.kind("session-setup")
	if neg == nil || ss == nil || len(res.Observations) != 2 {
		t.Fatalf("kinds %v", res.Kinds())
	}
	n := neg.Detail.(*Negotiate)
	if n.Dialect != "NT LM 0.12" || n.Version != "smb1" || len(n.SMB1Dialects) != 6 || n.Domain != "WORKGROUP" ||
		n.ServerHost != "JOHN-PC" || n.Signing != "disabled" {
		t.Errorf("negotiate %+v", n)
	}
	w := weakness(neg, event.WeakSMBv1)
	if len(w) != 2 || w[0].About != event.AboutDst || neg.Dst.IP.String() != "10.128.0.243" {
		t.Errorf("smbv1 weaknesses %+v about %v", w, neg.Dst)
	}
	d := ss.Detail.(*SessionSetup)
	if d.ClientOS != "Windows 2000 2195" || d.ClientLanMan != "Windows 2000 5.0" ||
		d.ServerOS != "Windows 7 Ultimate 7601 Service Pack 1" || d.ServerLanMan != "Windows 7 Ultimate 6.1" ||
		d.ServerDomain != "WORKGROUP" || !d.Anonymous || d.Status != "success" {
		t.Errorf("session setup %+v", d)
	}
	if !hasFact(ss, event.AboutDst, event.AttrOS, "Windows 7 Ultimate 7601 Service Pack 1") ||
		!hasFact(ss, event.AboutSrc, event.AttrOS, "Windows 2000 2195") {
		t.Errorf("facts %+v", ss.Facts)
	}
	if w := weakness(ss, event.WeakUnauthenticated); len(w) != 1 || w[0].About != event.AboutDst {
		t.Errorf("weaknesses %+v", ss.Weaknesses)
	}
}

// smb_deletefile.pcap starts inside an SMB2 session (tshark: frame 1 is
// a Create request from 192.168.1.118); nDPI: SMBv23.
func TestCaptureSMB2Midstream(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/smb_deletefile.pcap")
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{New()}, path)
	if len(res.Observations) != 1 {
		t.Fatalf("kinds %v", res.Kinds())
	}
	o := res.Observations[0]
	m := o.Detail.(*Message)
	if o.Kind != "message" || m.Version != "smb2" || m.Command != "create" || o.Src.IP.String() != "192.168.1.118" {
		t.Errorf("%s %+v from %v", o.Kind, m, o.Src)
	}
	if len(o.Weaknesses) != 0 {
		t.Errorf("weaknesses %+v", o.Weaknesses)
	}
	if res.Flows[0].Proto != Name {
		t.Errorf("flow %+v", res.Flows[0])
	}
}

// netbios.pcap frame 261: a NetBIOS session request (tshark: "Session
// request, to IBIFHQ11WS023<20> from ROSFHQ07WS004<00>").
func TestCaptureSessionRequest(t *testing.T) {
	path := testenv.DataFile(t, "pcap/ndpi/netbios.pcap")
	res := sensortest.Run(t, sensor.Config{}, []proto.Dissector{New()}, path)
	var s sink
	s.obs = res.Observations
	o := s.kind("session-request")
	if o == nil || o.Frame != 261 {
		t.Fatalf("kinds %v", res.Kinds())
	}
	r := o.Detail.(*SessionRequest)
	if *r != (SessionRequest{Called: "IBIFHQ11WS023", CalledSuffix: "20", Calling: "ROSFHQ07WS004", CallingSuffix: "00"}) {
		t.Errorf("%+v", r)
	}
	if !hasFact(o, event.AboutSrc, event.AttrHostname, "ROSFHQ07WS004") || !hasFact(o, event.AboutDst, event.AttrHostname, "IBIFHQ11WS023") {
		t.Errorf("facts %+v", o.Facts)
	}
}

func payloads(tb testing.TB, path string) [][]byte {
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
		if packet.Decode(cp.LinkType, cp.Data, &p) == nil && p.Proto == packet.ProtoTCP && len(p.Payload) > 0 && len(out) < 64 {
			out = append(out, append([]byte(nil), p.Payload...))
		}
	}
}

// FuzzSMB probes and feeds one message to each direction.
func FuzzSMB(f *testing.F) {
	f.Add(nb(smb2NegotiateReq(1, []uint16{0x0202, 0x0311}, negContext(2, []byte{1, 0, 2, 0}))))
	f.Add(nb(smb2Setup(true, statusMoreProcess, 0, spnego(ntlmChallenge()))))
	f.Add(nb(smb2Setup(false, 0, 0, spnego(ntlmAuthenticate("D", "u", "W", 24)))))
	f.Add(nb(smb1NegotiateReq("NT LM 0.12", "SMB 2.???")))
	f.Add(append([]byte{0x81, 0, 0, 68}, append(encName("A", 0x20), encName("B", 0)...)...))
	if dir := os.Getenv("HEIR_DATA"); dir != "" {
		// nDPI payloads are LGPL: seeded at run time, never committed.
		for _, name := range []string{"smbv1.pcap", "smb_deletefile.pcap"} {
			for _, p := range payloads(f, dir+"/pcap/ndpi/"+name) {
				f.Add(p)
			}
		}
	}
	d := New()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, dir := range []proto.Dir{proto.ToServer, proto.ToClient} {
			d.Probe(newConn(), dir, data)
			ss := d.New(newConn(), &sink{})
			n, _ := ss.Feed(dir, data, proto.Meta{})
			if n < 0 {
				t.Fatalf("consumed %d", n)
			}
			ss.End(proto.Meta{})
		}
	})
}

// FuzzSession gives a session a client and a server stream in chunks,
// keeping what it did not consume, as the engine does.
func FuzzSession(f *testing.F) {
	cli := append(nb(smb2NegotiateReq(1, []uint16{0x0311})), nb(smb2Setup(false, 0, 0, spnego(ntlmAuthenticate("D", "u", "W", 30))))...)
	srv := append(nb(smb2NegotiateResp(1, 0x0311)), nb(smb2Setup(true, statusMoreProcess, 0, spnego(ntlmChallenge())))...)
	f.Add(cli, srv, uint8(13))
	f.Fuzz(func(t *testing.T, a, b []byte, chunk uint8) {
		ss := New().New(newConn(), &sink{})
		step := int(chunk) + 1
		data := [2][]byte{a, b}
		var held [2][]byte
		var skip [2]int
		for i := 0; i < max(len(a), len(b)); i += step {
			for dir := proto.ToServer; dir <= proto.ToClient; dir++ {
				if i >= len(data[dir]) {
					continue
				}
				piece := data[dir][i:min(i+step, len(data[dir]))]
				if skip[dir] >= len(piece) {
					skip[dir] -= len(piece)
					continue
				}
				piece = piece[skip[dir]:]
				skip[dir] = 0
				held[dir] = append(held[dir], piece...)
				n, done := ss.Feed(dir, held[dir], proto.Meta{})
				if done {
					return
				}
				if n < 0 {
					t.Fatalf("consumed %d", n)
				}
				if n >= len(held[dir]) {
					skip[dir] = n - len(held[dir])
					held[dir] = held[dir][:0]
				} else {
					held[dir] = held[dir][n:]
				}
				if len(held[dir]) > maxMessage+nbHeaderLen+4 {
					t.Fatalf("holding %d bytes", len(held[dir]))
				}
			}
		}
		ss.End(proto.Meta{})
	})
}

// A negotiate nobody answers (a scanner's probe of a port that serves
// something else) says the sender speaks SMB, not that the target serves it.
func TestUnansweredNegotiateNamesNoServer(t *testing.T) {
	s, _ := run(t, step{proto.ToServer, nb(smb1NegotiateReq("NT LM 0.12"))})
	neg := s.kind("negotiate")
	if neg == nil || !hasFact(neg, event.AboutSrc, event.AttrClient, "smb") {
		t.Fatalf("negotiate %+v", neg)
	}
	for _, f := range neg.Facts {
		if f.Attr == event.AttrServer {
			t.Fatalf("server fact without an answer: %+v", f)
		}
	}
}
