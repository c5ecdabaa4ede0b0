package tls

import (
	"slices"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// dtlsHello turns a TLS ClientHello body into DTLS's, which has a cookie
// after the session id (RFC 6347 §4.2.1).
func dtlsHello(p helloParts, cookie []byte) []byte {
	b := p.body()
	at := 2 + 32 + 1 + len(p.session)
	return append(append(append([]byte(nil), b[:at]...), vec8(cookie)...), b[at:]...)
}

// dtlsFragment builds a handshake fragment header and data.
func dtlsFragment(typ byte, seq int, msg []byte, off, n int) []byte {
	total := len(msg)
	h := []byte{typ, byte(total >> 16), byte(total >> 8), byte(total), byte(seq >> 8), byte(seq),
		byte(off >> 16), byte(off >> 8), byte(off), byte(n >> 16), byte(n >> 8), byte(n)}
	return append(h, msg[off:off+n]...)
}

// dtlsRecord builds a DTLS record.
func dtlsRecord(typ byte, ver uint16, epoch uint16, seq uint64, body []byte) []byte {
	n := len(body)
	h := []byte{typ, byte(ver >> 8), byte(ver), byte(epoch >> 8), byte(epoch),
		byte(seq >> 40), byte(seq >> 32), byte(seq >> 24), byte(seq >> 16), byte(seq >> 8), byte(seq), byte(n >> 8), byte(n)}
	return append(h, body...)
}

func TestDTLSHandshake(t *testing.T) {
	const v12 = verDTLS12
	hello := helloParts{version: v12, ciphers: []uint16{0xc02b, 0x0035},
		exts: [][2]any{{uint16(extSupportedGroups), vec16(u16list(0x0017))}, {uint16(extECPointFormats), vec8([]byte{0})}}}
	ch1 := dtlsHello(hello, nil)
	ch2 := dtlsHello(hello, []byte("cookie-cookie-cookie"))
	cert := makeCert(t, certSpec{cn: "coap.test", rsaBits: 1024}, nil)
	shMsg := serverHelloBody(v12, 0xc02b, nil, nil)
	certMsg := vec24(vec24(cert.der))

	d := NewDTLS()
	out := &sink{}
	s := d.New(testConn("dtls"), out)
	m := proto.Meta{Time: testTime}
	feed := func(dir proto.Dir, datagram []byte) bool {
		_, done := s.Feed(dir, datagram, m)
		return done
	}
	// The first ClientHello in three fragments over two datagrams, the
	// first datagram repeated (a retransmission).
	a, b := len(ch1)/3, 2*len(ch1)/3
	dg1 := append(dtlsRecord(recHandshake, verDTLS10, 0, 0, dtlsFragment(hsClientHello, 0, ch1, 0, a)),
		dtlsRecord(recHandshake, verDTLS10, 0, 1, dtlsFragment(hsClientHello, 0, ch1, a, b-a))...)
	dg2 := dtlsRecord(recHandshake, verDTLS10, 0, 2, dtlsFragment(hsClientHello, 0, ch1, b, len(ch1)-b))
	if d.Probe(testConn("dtls"), proto.ToServer, dg1) != proto.Yes {
		t.Fatal("probe refused a fragmented ClientHello")
	}
	feed(proto.ToServer, dg1)
	feed(proto.ToServer, dg1)
	feed(proto.ToServer, dg2)
	hvr := append([]byte{0xfe, 0xfd}, vec8([]byte("cookie-cookie-cookie"))...)
	feed(proto.ToClient, dtlsRecord(recHandshake, verDTLS10, 0, 0, dtlsFragment(hsHelloVerifyRequest, 0, hvr, 0, len(hvr))))
	feed(proto.ToServer, dtlsRecord(recHandshake, v12, 0, 3, dtlsFragment(hsClientHello, 1, ch2, 0, len(ch2))))
	// ServerHello, then the certificate in two fragments, then ServerHelloDone.
	half := len(certMsg) / 2
	flight := append(dtlsRecord(recHandshake, v12, 0, 1, dtlsFragment(hsServerHello, 1, shMsg, 0, len(shMsg))),
		dtlsRecord(recHandshake, v12, 0, 2, dtlsFragment(hsCertificate, 2, certMsg, 0, half))...)
	feed(proto.ToClient, flight)
	feed(proto.ToClient, append(dtlsRecord(recHandshake, v12, 0, 3, dtlsFragment(hsCertificate, 2, certMsg, half, len(certMsg)-half)),
		dtlsRecord(recHandshake, v12, 0, 4, dtlsFragment(hsServerHelloDone, 3, nil, 0, 0))...))
	done := feed(proto.ToServer, append(dtlsRecord(recHandshake, v12, 0, 4, dtlsFragment(hsClientKeyExchange, 2, []byte{1, 2}, 0, 2)),
		dtlsRecord(recCCS, v12, 0, 5, []byte{1})...))
	if !done {
		t.Error("not done after the client's ChangeCipherSpec")
	}
	if !slices.Equal(out.kinds(), []string{"client-hello", "server-hello", "certificate"}) {
		t.Fatalf("kinds %v", out.kinds())
	}
	ch := out.first(KindClientHello).Detail.(*ClientHello)
	if ch.JA3 != "65277,49195-53,10-11,23,0" || ch.Version != "DTLSv1.2" {
		t.Errorf("client hello %+v", ch)
	}
	sh := out.first(KindServerHello)
	if d := sh.Detail.(*ServerHello); d.Version != "DTLSv1.2" || d.CipherSuite != "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" {
		t.Errorf("server hello %+v", d)
	}
	if !hasFact(sh, event.AboutSrc, event.AttrServer, "dtls") || len(sh.Weaknesses) != 0 {
		t.Errorf("facts %+v weaknesses %+v", sh.Facts, sh.Weaknesses)
	}
	c := out.first(KindCertificate)
	if leaf := c.Detail.(*CertificateChain).Certificates[0]; leaf.SubjectCN != "coap.test" || leaf.PublicKeyBits != 1024 {
		t.Errorf("leaf %+v", leaf)
	}
}

func TestDTLSProbe(t *testing.T) {
	ch := dtlsHello(helloParts{version: verDTLS12, ciphers: []uint16{0xc02b}}, nil)
	good := dtlsRecord(recHandshake, verDTLS10, 0, 0, dtlsFragment(hsClientHello, 0, ch, 0, len(ch)))
	hvrMsg := append([]byte{0xfe, 0xff}, vec8([]byte("c"))...)
	hvr := dtlsRecord(recHandshake, verDTLS10, 0, 0, dtlsFragment(hsHelloVerifyRequest, 0, hvrMsg, 0, len(hvrMsg)))
	d := NewDTLS()
	cases := []struct {
		name string
		dir  proto.Dir
		data []byte
		want proto.Verdict
	}{
		{"client hello", proto.ToServer, good, proto.Yes},
		{"client hello reversed", proto.ToClient, good, proto.YesReversed},
		{"hello verify request", proto.ToClient, hvr, proto.Yes},
		{"truncated datagram", proto.ToServer, good[:len(good)-1], proto.No},
		{"epoch 1", proto.ToServer, dtlsRecord(recHandshake, verDTLS12, 1, 0, good[13:]), proto.No},
		{"tls version", proto.ToServer, dtlsRecord(recHandshake, 0x0303, 0, 0, good[13:]), proto.No},
		{"short", proto.ToServer, good[:20], proto.No},
		{"dns", proto.ToServer, []byte{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 0, 0, 1, 0, 1, 0, 0, 0, 0}, proto.No},
	}
	for _, tc := range cases {
		if got := d.Probe(testConn("dtls"), tc.dir, tc.data); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
