package tls

import (
	"crypto/md5"
	ctls "crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// expectedJA3 computes JA3 from what crypto/tls's server saw of the
// ClientHello, independently of our parser. Go clients put 0x0303 in the
// legacy field when they offer TLS 1.2 or later, else their maximum.
func expectedJA3(info *ctls.ClientHelloInfo) string {
	legacy := info.SupportedVersions[0]
	for _, v := range info.SupportedVersions {
		legacy = max(legacy, v)
	}
	legacy = min(legacy, ctls.VersionTLS12)
	join16 := func(vs []uint16) string {
		var s []string
		for _, v := range vs {
			if !isGREASE(v) {
				s = append(s, strconv.Itoa(int(v)))
			}
		}
		return strings.Join(s, "-")
	}
	var curves []uint16
	for _, c := range info.SupportedCurves {
		curves = append(curves, uint16(c))
	}
	var points []string
	for _, p := range info.SupportedPoints {
		points = append(points, strconv.Itoa(int(p)))
	}
	return fmt.Sprintf("%d,%s,%s,%s,%s", legacy, join16(info.CipherSuites), join16(info.Extensions),
		join16(curves), strings.Join(points, "-"))
}

func weaknesses(obs []*event.Observation, kind event.WeaknessKind) []event.Weakness {
	var ws []event.Weakness
	for _, o := range obs {
		for _, w := range o.Weaknesses {
			if w.Kind == kind {
				ws = append(ws, w)
			}
		}
	}
	return ws
}

func hasFact(o *event.Observation, about event.About, attr event.Attr, value string) bool {
	for _, f := range o.Facts {
		if f.About == about && f.Attr == attr && f.Value == value {
			return true
		}
	}
	return false
}

func TestHandshakesWithCryptoTLS(t *testing.T) {
	legacy := makeCert(t, certSpec{cn: "legacy-gw.test", org: "Test Lab", rsaBits: 1024, sigAlg: x509.SHA1WithRSA}, nil)
	root := makeCert(t, certSpec{cn: "Test Root", ca: true}, nil)
	modern := makeCert(t, certSpec{cn: "pacs.test", rsaBits: 2048, dns: []string{"pacs.test", "pacs"}}, root)
	expired := makeCert(t, certSpec{cn: "old.test", notBefore: testTime.AddDate(-2, 0, 0), notAfter: testTime.AddDate(-1, 0, 0)}, nil)

	cases := []struct {
		name       string
		cert       ctls.Certificate
		version    uint16
		suites     []uint16
		alpn       []string
		wantVer    string
		wantSuite  string
		wantKinds  []string
		obsolete   bool
		weakCipher string
		certWeak   []string // reasons on the leaf
		chainLen   int
	}{
		{name: "tls10-legacy", cert: legacy.tls(), version: ctls.VersionTLS10, wantVer: "TLSv1.0",
			wantSuite: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", wantKinds: []string{"client-hello", "server-hello", "certificate"},
			obsolete: true, certWeak: []string{"self-signed", "sha1WithRSAEncryption signature", "RSA 1024-bit key"}, chainLen: 1},
		{name: "tls12-rc4", cert: legacy.tls(), version: ctls.VersionTLS12, suites: []uint16{ctls.TLS_RSA_WITH_RC4_128_SHA},
			wantVer: "TLSv1.2", wantSuite: "TLS_RSA_WITH_RC4_128_SHA", weakCipher: "RC4",
			wantKinds: []string{"client-hello", "server-hello", "certificate"},
			certWeak:  []string{"self-signed", "sha1WithRSAEncryption signature", "RSA 1024-bit key"}, chainLen: 1},
		{name: "tls12-3des", cert: modern.tls(root), version: ctls.VersionTLS12, suites: []uint16{ctls.TLS_RSA_WITH_3DES_EDE_CBC_SHA},
			wantVer: "TLSv1.2", wantSuite: "TLS_RSA_WITH_3DES_EDE_CBC_SHA", weakCipher: "3DES",
			wantKinds: []string{"client-hello", "server-hello", "certificate"}, chainLen: 2},
		{name: "tls12-chain-alpn", cert: modern.tls(root), version: ctls.VersionTLS12, alpn: []string{"h2", "http/1.1"},
			wantVer: "TLSv1.2", wantSuite: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
			wantKinds: []string{"client-hello", "server-hello", "certificate"}, chainLen: 2},
		{name: "tls12-expired", cert: expired.tls(), version: ctls.VersionTLS12,
			wantVer: "TLSv1.2", wantSuite: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
			wantKinds: []string{"client-hello", "server-hello", "certificate"},
			certWeak:  []string{"self-signed", "expired"}, chainLen: 1},
		{name: "tls13", cert: modern.tls(root), version: ctls.VersionTLS13, alpn: []string{"h2"},
			wantVer: "TLSv1.3", wantSuite: "TLS_AES_128_GCM_SHA256", wantKinds: []string{"client-hello", "server-hello"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc := &ctls.Config{InsecureSkipVerify: true, ServerName: "device.test", MinVersion: ctls.VersionTLS10,
				MaxVersion: tc.version, CipherSuites: tc.suites, NextProtos: tc.alpn}
			sc := &ctls.Config{Certificates: []ctls.Certificate{tc.cert}, MinVersion: ctls.VersionTLS10,
				MaxVersion: tc.version, CipherSuites: tc.suites, NextProtos: tc.alpn}
			if tc.version == ctls.VersionTLS13 {
				// Force the real curve so no HelloRetryRequest muddles the test.
				cc.CurvePreferences = []ctls.CurveID{ctls.X25519}
			}
			tr, info := converse(t, cc, sc)
			out, drv := tr.run(New())
			if !slices.Equal(out.kinds(), tc.wantKinds) {
				t.Fatalf("kinds %v, want %v", out.kinds(), tc.wantKinds)
			}
			if !drv.done {
				t.Errorf("session not done after the handshake and application data")
			}
			ch := out.first(KindClientHello)
			chd := ch.Detail.(*ClientHello)
			if chd.SNI != "device.test" || !hasFact(ch, event.AboutDst, event.AttrHostname, "device.test") {
				t.Errorf("SNI %q, facts %+v", chd.SNI, ch.Facts)
			}
			if !hasFact(ch, event.AboutSrc, event.AttrClient, "tls") {
				t.Errorf("client fact missing: %+v", ch.Facts)
			}
			if want := expectedJA3(info); chd.JA3 != want {
				t.Errorf("JA3 %q\nwant %q", chd.JA3, want)
			}
			sum := md5.Sum([]byte(chd.JA3))
			if chd.JA3Hash != hex.EncodeToString(sum[:]) {
				t.Errorf("JA3 hash %s does not match its string", chd.JA3Hash)
			}
			if !slices.Equal(chd.ALPN, tc.alpn) {
				t.Errorf("ALPN %v, want %v", chd.ALPN, tc.alpn)
			}
			sh := out.first(KindServerHello)
			shd := sh.Detail.(*ServerHello)
			if shd.Version != tc.wantVer || shd.CipherSuite != tc.wantSuite {
				t.Errorf("server hello %s %s, want %s %s", shd.Version, shd.CipherSuite, tc.wantVer, tc.wantSuite)
			}
			if tc.version == ctls.VersionTLS13 && shd.LegacyVersion != "TLSv1.2" {
				t.Errorf("TLS 1.3 legacy version %q, want TLSv1.2", shd.LegacyVersion)
			}
			// TLS 1.3 sends the chosen protocol encrypted.
			if len(tc.alpn) > 0 && tc.version != ctls.VersionTLS13 && shd.ALPN != tc.alpn[0] {
				t.Errorf("negotiated ALPN %q", shd.ALPN)
			}
			if !hasFact(sh, event.AboutSrc, event.AttrServer, "tls") {
				t.Errorf("server fact missing: %+v", sh.Facts)
			}
			if obs := weaknesses(out.obs, event.WeakObsoleteTLS); (len(obs) > 0) != tc.obsolete {
				t.Errorf("obsolete-tls %v, want %v", obs, tc.obsolete)
			} else if tc.obsolete {
				found := false
				for _, w := range sh.Weaknesses {
					found = found || (w.Kind == event.WeakObsoleteTLS && w.About == event.AboutSrc && w.Detail == "TLS 1.0 negotiated")
				}
				if !found {
					t.Errorf("server hello weaknesses %+v", sh.Weaknesses)
				}
			}
			wc := weaknesses(out.obs, event.WeakCipher)
			if tc.weakCipher == "" && len(wc) > 0 || tc.weakCipher != "" && (len(wc) != 1 || !strings.Contains(wc[0].Detail, tc.weakCipher)) {
				t.Errorf("weak-cipher %+v, want %q", wc, tc.weakCipher)
			}
			cert := out.first(KindCertificate)
			if tc.chainLen == 0 {
				return
			}
			chain := cert.Detail.(*CertificateChain)
			if len(chain.Certificates) != tc.chainLen {
				t.Fatalf("chain of %d, want %d", len(chain.Certificates), tc.chainLen)
			}
			leaf := chain.Certificates[0]
			if !slices.Equal(leaf.Weak, tc.certWeak) {
				t.Errorf("leaf weak %q, want %q", leaf.Weak, tc.certWeak)
			}
			wcert := weaknesses(out.obs, event.WeakCertificate)
			if len(tc.certWeak) > 0 != (len(wcert) == 1) {
				t.Errorf("weak-certificate %+v", wcert)
			}
			if !hasFact(cert, event.AboutSrc, event.AttrCertSubject, leaf.Subject) || leaf.Subject == "" {
				t.Errorf("cert subject fact missing: %+v", cert.Facts)
			}
			if tc.chainLen == 2 {
				if !chain.Certificates[1].SelfSigned || chain.Certificates[1].Weak != nil {
					t.Errorf("root %+v: self-signed root must not be judged", chain.Certificates[1])
				}
				if !slices.Equal(leaf.SANs, []string{"pacs.test", "pacs"}) || leaf.PublicKeyBits != 2048 || leaf.SelfSigned {
					t.Errorf("leaf %+v", leaf)
				}
			}
		})
	}
}

// TestSplitAtEveryOffset cuts the conversation at every byte offset: the
// observations must not depend on how TCP segmented the stream.
func TestSplitAtEveryOffset(t *testing.T) {
	for _, version := range []uint16{ctls.VersionTLS10, ctls.VersionTLS12, ctls.VersionTLS13} {
		t.Run(VersionName(version), func(t *testing.T) {
			cert := makeCert(t, certSpec{cn: "split.test"}, nil)
			cc := &ctls.Config{InsecureSkipVerify: true, ServerName: "split.test", MinVersion: ctls.VersionTLS10, MaxVersion: version}
			sc := &ctls.Config{Certificates: []ctls.Certificate{cert.tls()}, MinVersion: ctls.VersionTLS10, MaxVersion: version}
			tr, _ := converse(t, cc, sc)
			base, _ := tr.run(New())
			want := base.json(t)
			if len(base.obs) < 2 {
				t.Fatalf("baseline has %v", base.kinds())
			}
			total := 0
			for _, c := range tr {
				total += len(c.data)
			}
			for cut := 1; cut < total; cut++ {
				var split transcript
				pos := 0
				for _, c := range tr {
					if cut > pos && cut < pos+len(c.data) {
						k := cut - pos
						split = append(split, chunk{c.dir, c.data[:k]}, chunk{c.dir, c.data[k:]})
					} else {
						split = append(split, c)
					}
					pos += len(c.data)
				}
				got, _ := split.run(New())
				if g := got.json(t); g != want {
					t.Fatalf("cut at %d:\n got %s\nwant %s", cut, g, want)
				}
			}
			// And byte by byte.
			var bytewise transcript
			for _, c := range tr {
				for i := range c.data {
					bytewise = append(bytewise, chunk{c.dir, c.data[i : i+1]})
				}
			}
			got, drv := bytewise.run(New())
			if g := got.json(t); g != want {
				t.Fatalf("byte by byte:\n got %s\nwant %s", g, want)
			}
			if !drv.done {
				t.Errorf("byte by byte: not done")
			}
		})
	}
}

// TestMessagesSpanRecords re-cuts the handshake into records of k bytes
// (messages spanning many records) and packs whole flights into one
// record (many messages per record).
func TestMessagesSpanRecords(t *testing.T) {
	root := makeCert(t, certSpec{cn: "Span Root", ca: true}, nil)
	leaf := makeCert(t, certSpec{cn: "span.test", rsaBits: 1024}, root)
	cc := &ctls.Config{InsecureSkipVerify: true, ServerName: "span.test", MaxVersion: ctls.VersionTLS12}
	sc := &ctls.Config{Certificates: []ctls.Certificate{leaf.tls(root)}, MaxVersion: ctls.VersionTLS12}
	tr, _ := converse(t, cc, sc)
	base, _ := tr.run(New())
	want := base.json(t)
	if !slices.Equal(base.kinds(), []string{"client-hello", "server-hello", "certificate"}) {
		t.Fatalf("baseline %v", base.kinds())
	}
	for _, k := range []int{1, 2, 3, 4, 5, 7, 100, 1000, 1 << 14} {
		cs, ss := refragment(tr.stream(proto.ToServer), k), refragment(tr.stream(proto.ToClient), k)
		// Feed in 1 KiB segments alternating sides, client first.
		var re transcript
		for len(cs) > 0 || len(ss) > 0 {
			n := min(1024, len(cs))
			if n > 0 {
				re = append(re, chunk{proto.ToServer, cs[:n]})
				cs = cs[n:]
			}
			n = min(1024, len(ss))
			if n > 0 {
				re = append(re, chunk{proto.ToClient, ss[:n]})
				ss = ss[n:]
			}
		}
		got, _ := re.run(New())
		// Tiny records inflate the client's stream, so the server's hello
		// may complete first: compare in a fixed order.
		slices.SortStableFunc(got.obs, func(a, b *event.Observation) int {
			return slices.Index(base.kinds(), a.Kind) - slices.Index(base.kinds(), b.Kind)
		})
		if g := got.json(t); g != want {
			t.Errorf("records of %d bytes:\n got %s\nwant %s", k, g, want)
		}
	}
}

func TestProbe(t *testing.T) {
	ch := record(recHandshake, 0x0301, hsMessage(hsClientHello, helloParts{version: 0x0303, ciphers: []uint16{0x1301}}.body()))
	sh := record(recHandshake, 0x0303, hsMessage(hsServerHello, serverHelloBody(0x0303, 0xc02f, nil, nil)))
	v2 := sslv2ClientHello(0x0301, []uint32{0x010080, 0x00002f})
	d := New()
	cases := []struct {
		name string
		dir  proto.Dir
		data []byte
		want proto.Verdict
	}{
		{"empty", proto.ToServer, nil, proto.Unsure},
		{"one byte", proto.ToServer, ch[:1], proto.Unsure},
		{"header only", proto.ToServer, ch[:5], proto.Unsure},
		{"client hello", proto.ToServer, ch, proto.Yes},
		{"client hello 6 bytes", proto.ToServer, ch[:6], proto.Yes},
		{"client hello from server side", proto.ToClient, ch, proto.YesReversed},
		{"server hello", proto.ToClient, sh, proto.Yes},
		{"server hello from client side", proto.ToServer, sh, proto.YesReversed},
		{"sslv2 hello", proto.ToServer, v2, proto.Yes},
		{"sslv2 hello short", proto.ToServer, v2[:8], proto.Unsure},
		{"http", proto.ToServer, []byte("GET / HTTP/1.1\r\n"), proto.No},
		{"application data first", proto.ToServer, record(recAppData, 0x0303, []byte("xxxx")), proto.No},
		{"record version 4.1", proto.ToServer, append([]byte{0x16, 4, 1}, ch[3:]...), proto.No},
		{"record version 3.5", proto.ToServer, append([]byte{0x16, 3, 5}, ch[3:]...), proto.No},
		{"zero-length record", proto.ToServer, []byte{0x16, 3, 1, 0, 0, 1}, proto.No},
		{"record too long", proto.ToServer, []byte{0x16, 3, 1, 0x50, 0, 1}, proto.No},
		{"certificate first", proto.ToClient, record(recHandshake, 0x0303, hsMessage(hsCertificate, []byte{0, 0, 0})), proto.No},
		{"hello version 2.0", proto.ToServer, record(recHandshake, 0x0301, hsMessage(hsClientHello, helloParts{version: 0x0200}.body())), proto.No},
		{"dicom a-associate", proto.ToServer, []byte{0x01, 0x00, 0x00, 0x00, 0x00, 0xcd, 0x00, 0x01}, proto.No},
		{"high bit junk", proto.ToServer, []byte{0x80, 0x20, 0x01, 0x03, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10}, proto.No},
	}
	for _, tc := range cases {
		if got := d.Probe(testConn("tls"), tc.dir, tc.data); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestJA3GreaseAndVersions(t *testing.T) {
	// A TLS 1.3 hello with GREASE in every list: JA3 must leave them out,
	// the legacy field says TLS 1.2, the maximum comes from
	// supported_versions.
	p := helloParts{
		version: 0x0303,
		ciphers: []uint16{0x0a0a, 0x1301, 0x1302, 0xc02f},
		exts: [][2]any{
			{uint16(0x1a1a), []byte{}},
			{uint16(extServerName), sniExt("Pump-17.ICU.example")},
			{uint16(extSupportedGroups), vec16(u16list(0x2a2a, 0x001d, 0x0017))},
			{uint16(extECPointFormats), vec8([]byte{0})},
			{uint16(extALPN), vec16(append(vec8([]byte("h2")), vec8([]byte("http/1.1"))...))},
			{uint16(extSupportedVersions), vec8(u16list(0x3a3a, 0x0304, 0x0303))},
			{uint16(0xfafa), []byte{0}},
		},
	}
	drv, out := newDriver(New())
	drv.feed(proto.ToServer, record(recHandshake, 0x0301, hsMessage(hsClientHello, p.body())))
	o := out.first(KindClientHello)
	if o == nil {
		t.Fatal("no client-hello")
	}
	d := o.Detail.(*ClientHello)
	if want := "771,4865-4866-49199,0-10-11-16-43,29-23,0"; d.JA3 != want {
		t.Errorf("JA3 %q, want %q", d.JA3, want)
	}
	if d.Version != "TLSv1.2" || d.MaxVersion != "TLSv1.3" || !slices.Equal(d.SupportedVersions, []string{"TLSv1.3", "TLSv1.2"}) {
		t.Errorf("versions %s %s %v", d.Version, d.MaxVersion, d.SupportedVersions)
	}
	if d.CipherSuites != 3 || d.Extensions != 7 {
		t.Errorf("counts %d suites %d extensions", d.CipherSuites, d.Extensions)
	}
	if !hasFact(o, event.AboutDst, event.AttrHostname, "pump-17.icu.example") {
		t.Errorf("hostname fact %+v", o.Facts)
	}
	if len(o.Weaknesses) != 0 {
		t.Errorf("weaknesses %+v", o.Weaknesses)
	}

	// SSLv3-only client without extensions: JA3 has empty lists, and the
	// client is marked as offering an obsolete version.
	drv, out = newDriver(New())
	drv.feed(proto.ToServer, record(recHandshake, 0x0300, hsMessage(hsClientHello,
		helloParts{version: 0x0300, ciphers: []uint16{0x0005, 0x000a}, noExts: true}.body())))
	d = out.first(KindClientHello).Detail.(*ClientHello)
	if d.JA3 != "768,5-10,,," || d.WeakCipherSuites != 2 {
		t.Errorf("SSLv3 JA3 %q weak %d", d.JA3, d.WeakCipherSuites)
	}
	ws := out.first(KindClientHello).Weaknesses
	if len(ws) != 1 || ws[0].Kind != event.WeakObsoleteTLS || ws[0].Detail != "client offers at most SSL 3.0" || ws[0].About != event.AboutSrc {
		t.Errorf("weaknesses %+v", ws)
	}
}

func TestIPLiteralSNIIsNotAHostname(t *testing.T) {
	p := helloParts{version: 0x0303, ciphers: []uint16{0xc02f}, exts: [][2]any{{uint16(extServerName), sniExt("10.1.2.3")}}}
	drv, out := newDriver(New())
	drv.feed(proto.ToServer, record(recHandshake, 0x0301, hsMessage(hsClientHello, p.body())))
	o := out.first(KindClientHello)
	for _, f := range o.Facts {
		if f.Attr == event.AttrHostname {
			t.Errorf("hostname fact from an address literal: %+v", f)
		}
	}
}

func TestServerAlertEndsSession(t *testing.T) {
	drv, out := newDriver(New())
	drv.feed(proto.ToServer, record(recHandshake, 0x0301, hsMessage(hsClientHello,
		helloParts{version: 0x0303, ciphers: []uint16{0x0004}}.body())))
	drv.feed(proto.ToClient, record(recAlert, 0x0303, []byte{2, 40}))
	if !drv.done {
		t.Error("fatal alert did not end the session")
	}
	a := out.first(KindAlert)
	if a == nil {
		t.Fatalf("kinds %v", out.kinds())
	}
	if d := a.Detail.(*Alert); d.Level != "fatal" || d.Description != "handshake_failure" || d.Code != 40 {
		t.Errorf("alert %+v", d)
	}
	if !hasFact(a, event.AboutSrc, event.AttrServer, "tls") {
		t.Errorf("facts %+v", a.Facts)
	}
}

func TestClientRejectsCertificate(t *testing.T) {
	// crypto/tls refuses the self-signed certificate and says so in a
	// cleartext alert, which we report.
	cert := makeCert(t, certSpec{cn: "untrusted.test"}, nil)
	cc := &ctls.Config{ServerName: "untrusted.test", MaxVersion: ctls.VersionTLS12}
	sc := &ctls.Config{Certificates: []ctls.Certificate{cert.tls()}, MaxVersion: ctls.VersionTLS12}
	tr, _, cerr, _ := talk(cc, sc)
	if cerr == nil {
		t.Fatal("client accepted an untrusted certificate")
	}
	out, drv := tr.run(New())
	if !slices.Equal(out.kinds(), []string{"client-hello", "server-hello", "certificate", "alert"}) {
		t.Fatalf("kinds %v", out.kinds())
	}
	if d := out.first(KindAlert).Detail.(*Alert); d.Level != "fatal" || d.Description != "bad_certificate" {
		t.Errorf("alert %+v", d)
	}
	if !drv.done {
		t.Error("not done after a fatal alert")
	}
}

func TestEncryptedRecordsAreSkipped(t *testing.T) {
	// After a TLS 1.2 ChangeCipherSpec from both sides, a 16 KiB record of
	// application data must be skipped, not held.
	s := New().New(testConn("tls"), &sink{})
	hello := record(recHandshake, 0x0301, hsMessage(hsClientHello, helloParts{version: 0x0303, ciphers: []uint16{0xc02f}}.body()))
	if n, done := s.Feed(proto.ToServer, hello, proto.Meta{}); n != len(hello) || done {
		t.Fatalf("hello: %d %v", n, done)
	}
	big := record(recAppData, 0x0303, make([]byte, 16000))
	n, _ := s.Feed(proto.ToClient, append(record(recHandshake, 0x0303, hsMessage(hsServerHello, serverHelloBody(0x0303, 0xc02f, nil, nil))), big[:100]...), proto.Meta{})
	if want := len(record(recHandshake, 0x0303, hsMessage(hsServerHello, serverHelloBody(0x0303, 0xc02f, nil, nil)))) + len(big); n != want {
		t.Errorf("consumed %d, want %d (skip the whole record)", n, want)
	}
}

func TestGapLosesOnlyThatSide(t *testing.T) {
	drv, out := newDriver(New())
	drv.feed(proto.ToServer, record(recHandshake, 0x0301, hsMessage(hsClientHello, helloParts{version: 0x0303, ciphers: []uint16{0xc02f}}.body())))
	drv.s.Gap(proto.ToClient, 1000)
	drv.feed(proto.ToClient, record(recHandshake, 0x0303, hsMessage(hsServerHello, serverHelloBody(0x0303, 0xc02f, nil, nil))))
	if !slices.Equal(out.kinds(), []string{"client-hello"}) {
		t.Errorf("kinds %v: data after a gap must not be parsed", out.kinds())
	}
	if !drv.done {
		t.Errorf("client hello read and server lost: nothing more to learn")
	}
}

func TestBounds(t *testing.T) {
	t.Run("extensions", func(t *testing.T) {
		p := helloParts{version: 0x0303, ciphers: []uint16{0xc02f}}
		for i := 0; i < 200; i++ {
			p.exts = append(p.exts, [2]any{uint16(1000 + i), []byte{}})
		}
		drv, out := newDriver(New())
		drv.feed(proto.ToServer, record(recHandshake, 0x0301, hsMessage(hsClientHello, p.body())))
		d := out.first(KindClientHello).Detail.(*ClientHello)
		if !d.ExtensionsTruncated || d.Extensions != maxExtensions || strings.Count(d.JA3, "-") != 127 {
			t.Errorf("truncated %v, %d extensions, JA3 %q", d.ExtensionsTruncated, d.Extensions, d.JA3)
		}
	})
	t.Run("message too large", func(t *testing.T) {
		drv, out := newDriver(New())
		drv.feed(proto.ToServer, record(recHandshake, 0x0301, hsMessage(hsClientHello, helloParts{version: 0x0303, ciphers: []uint16{0xc02f}}.body())))
		// A Certificate message announcing 1 MiB: the server side is given up.
		drv.feed(proto.ToClient, record(recHandshake, 0x0303, []byte{hsCertificate, 0x10, 0, 0, 1, 2, 3}))
		if !drv.done || len(out.obs) != 1 {
			t.Errorf("done %v, kinds %v", drv.done, out.kinds())
		}
	})
	t.Run("chain", func(t *testing.T) {
		c := makeCert(t, certSpec{cn: "many.test"}, nil)
		var list []byte
		for i := 0; i < maxCertificates+2; i++ {
			list = append(list, vec24(c.der)...)
		}
		drv, out := newDriver(New())
		drv.feed(proto.ToServer, record(recHandshake, 0x0301, hsMessage(hsClientHello, helloParts{version: 0x0303, ciphers: []uint16{0xc02f}}.body())))
		msgs := append(hsMessage(hsServerHello, serverHelloBody(0x0303, 0xc02f, nil, nil)), hsMessage(hsCertificate, vec24(list))...)
		drv.feed(proto.ToClient, record(recHandshake, 0x0303, msgs))
		chain := out.first(KindCertificate).Detail.(*CertificateChain)
		if len(chain.Certificates) != maxCertificates || chain.Omitted != 2 {
			t.Errorf("%d certificates, %d omitted", len(chain.Certificates), chain.Omitted)
		}
	})
	t.Run("sans", func(t *testing.T) {
		var names []string
		for i := 0; i < 30; i++ {
			names = append(names, fmt.Sprintf("n%d.test", i))
		}
		c := makeCert(t, certSpec{cn: "sans.test", dns: names}, nil)
		f := certificateFacts(c.der, testTime)
		if len(f.SANs) != maxSANs || f.SANCount != 30 || f.SANs[0] != "n0.test" {
			t.Errorf("%d SANs kept of %d", len(f.SANs), f.SANCount)
		}
	})
}

func TestHelloRetryRequest(t *testing.T) {
	// The client sends a key share for P-256 only, the server accepts only
	// P-384: crypto/tls sends a HelloRetryRequest first.
	cert := makeCert(t, certSpec{cn: "hrr.test"}, nil)
	cc := &ctls.Config{InsecureSkipVerify: true, ServerName: "hrr.test", CurvePreferences: []ctls.CurveID{ctls.CurveP256, ctls.CurveP384}}
	sc := &ctls.Config{Certificates: []ctls.Certificate{cert.tls()}, CurvePreferences: []ctls.CurveID{ctls.CurveP384}}
	tr, _ := converse(t, cc, sc)
	out, drv := tr.run(New())
	if !slices.Equal(out.kinds(), []string{"client-hello", "server-hello"}) {
		t.Fatalf("kinds %v", out.kinds())
	}
	d := out.first(KindServerHello).Detail.(*ServerHello)
	if !drv.done || d.Version != "TLSv1.3" {
		t.Errorf("done %v, server hello %+v", drv.done, d)
	}
	if !bytesContain(tr.stream(proto.ToClient), helloRetryRandom[:]) {
		t.Fatal("crypto/tls sent no HelloRetryRequest: the test no longer tests it")
	}
	if !d.HelloRetry || d.JA3S == "" {
		t.Errorf("server hello %+v", d)
	}
}

func bytesContain(b, sub []byte) bool { return strings.Contains(string(b), string(sub)) }

func TestResumption(t *testing.T) {
	cert := makeCert(t, certSpec{cn: "resume.test"}, nil)
	for _, v := range []uint16{ctls.VersionTLS12, ctls.VersionTLS13} {
		cache := ctls.NewLRUClientSessionCache(4)
		cc := &ctls.Config{InsecureSkipVerify: true, ServerName: "resume.test", MaxVersion: v, ClientSessionCache: cache}
		sc := &ctls.Config{Certificates: []ctls.Certificate{cert.tls()}, MaxVersion: v}
		// One ticket key for both connections (each run clones sc).
		sc.SetSessionTicketKeys([][32]byte{{1, 2, 3}})
		converse(t, cc, sc)
		tr, _ := converse(t, cc, sc)
		out, drv := tr.run(New())
		d := out.first(KindServerHello).Detail.(*ServerHello)
		if !d.Resumed || out.first(KindCertificate) != nil || !drv.done {
			t.Errorf("%s: resumed %v, kinds %v, done %v", VersionName(v), d.Resumed, out.kinds(), drv.done)
		}
	}
}

func TestWeakSuiteReasons(t *testing.T) {
	cases := map[string][]string{
		"TLS_RSA_WITH_RC4_128_MD5":               {"RC4", "MD5"},
		"TLS_RSA_EXPORT_WITH_DES40_CBC_SHA":      {"EXPORT", "DES"},
		"TLS_DH_anon_WITH_AES_128_CBC_SHA":       {"anon"},
		"TLS_RSA_WITH_NULL_SHA256":               {"NULL"},
		"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA":    {"3DES"},
		"TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5":     {"EXPORT", "RC2", "MD5"},
		"TLS_KRB5_WITH_DES_CBC_MD5":              {"DES", "MD5"},
		"SSL2_DES_192_EDE3_CBC_WITH_MD5":         {"3DES", "MD5"},
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256":  nil,
		"TLS_AES_128_GCM_SHA256":                 nil,
		"TLS_RSA_WITH_AES_256_CBC_SHA":           nil,
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": nil,
		"0xFF85":                                 nil,
	}
	for name, want := range cases {
		if got := weakSuiteReasons(name); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
		if weakSuite(name) != (want != nil) {
			t.Errorf("%s: weakSuite disagrees", name)
		}
	}
	if SuiteName(0xc02f) != "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" || SuiteName(0x1302) != "TLS_AES_256_GCM_SHA384" || SuiteName(0xfff0) != "0xFFF0" {
		t.Errorf("names %s %s %s", SuiteName(0xc02f), SuiteName(0x1302), SuiteName(0xfff0))
	}
	for i := 1; i < len(suiteNames); i++ {
		if suiteNames[i-1].id >= suiteNames[i].id {
			t.Fatalf("suite table not sorted at %d", i)
		}
	}
}

func TestVersions(t *testing.T) {
	cases := []struct {
		v        uint16
		name     string
		obsolete bool
	}{
		{verSSL2, "SSLv2", true}, {verSSL3, "SSLv3", true}, {verTLS10, "TLSv1.0", true}, {verTLS11, "TLSv1.1", true},
		{verTLS12, "TLSv1.2", false}, {verTLS13, "TLSv1.3", false}, {0x7f1c, "TLSv1.3-draft28", false},
		{verDTLS10, "DTLSv1.0", true}, {verDTLS12, "DTLSv1.2", false}, {verDTLSBad, "DTLSv1.0-pre", true},
		{0x0305, "0x0305", false},
	}
	for _, c := range cases {
		if VersionName(c.v) != c.name || obsolete(c.v) != c.obsolete {
			t.Errorf("%#04x: %s %v", c.v, VersionName(c.v), obsolete(c.v))
		}
	}
	if humanVersion(verTLS10) != "TLS 1.0" || humanVersion(verDTLS10) != "DTLS 1.0" || humanVersion(verSSL3) != "SSL 3.0" {
		t.Errorf("human %s %s %s", humanVersion(verTLS10), humanVersion(verDTLS10), humanVersion(verSSL3))
	}
}

// sslv2ClientHello builds an SSL 2.0 format CLIENT-HELLO (SSL 2.0 spec,
// appendix E.2 of RFC 5246 for the TLS-compatible form).
func sslv2ClientHello(version uint16, specs []uint32) []byte {
	var cs []byte
	for _, s := range specs {
		cs = append(cs, byte(s>>16), byte(s>>8), byte(s))
	}
	chal := make([]byte, 16)
	body := []byte{v2ClientHello, byte(version >> 8), byte(version), byte(len(cs) >> 8), byte(len(cs)), 0, 0, 0, byte(len(chal))}
	body = append(append(body, cs...), chal...)
	return append([]byte{0x80 | byte(len(body)>>8), byte(len(body))}, body...)
}

// sslv2ServerHello builds an SSL 2.0 SERVER-HELLO with one certificate.
func sslv2ServerHello(cert []byte, specs []uint32) []byte {
	var cs []byte
	for _, s := range specs {
		cs = append(cs, byte(s>>16), byte(s>>8), byte(s))
	}
	conn := make([]byte, 16)
	body := []byte{v2ServerHello, 0, 1, 0, 2, byte(len(cert) >> 8), byte(len(cert)), byte(len(cs) >> 8), byte(len(cs)), 0, byte(len(conn))}
	body = append(append(append(body, cert...), cs...), conn...)
	return append([]byte{0x80 | byte(len(body)>>8), byte(len(body))}, body...)
}

func TestSSLv2(t *testing.T) {
	t.Run("compatible hello answered in TLS", func(t *testing.T) {
		drv, out := newDriver(New())
		drv.feed(proto.ToServer, sslv2ClientHello(0x0301, []uint32{0x0700c0, 0x010080, 0x00002f, 0x000035}))
		drv.feed(proto.ToClient, record(recHandshake, 0x0301, hsMessage(hsServerHello, serverHelloBody(0x0301, 0x002f, nil, nil))))
		if !slices.Equal(out.kinds(), []string{"client-hello", "server-hello"}) {
			t.Fatalf("kinds %v", out.kinds())
		}
		ch := out.first(KindClientHello).Detail.(*ClientHello)
		if !ch.SSLv2Format || ch.Version != "TLSv1.0" || ch.CipherSuites != 4 || ch.WeakCipherSuites != 2 || ch.JA3 != "" {
			t.Errorf("client hello %+v", ch)
		}
		sh := out.first(KindServerHello)
		if d := sh.Detail.(*ServerHello); d.Version != "TLSv1.0" || d.CipherSuite != "TLS_RSA_WITH_AES_128_CBC_SHA" {
			t.Errorf("server hello %+v", d)
		}
	})
	t.Run("sslv2 server", func(t *testing.T) {
		cert := makeCert(t, certSpec{cn: "v2.test", rsaBits: 1024, sigAlg: x509.SHA1WithRSA}, nil)
		drv, out := newDriver(New())
		drv.feed(proto.ToServer, sslv2ClientHello(verSSL2, []uint32{0x010080, 0x020080}))
		drv.feed(proto.ToClient, sslv2ServerHello(cert.der, []uint32{0x020080}))
		if !slices.Equal(out.kinds(), []string{"client-hello", "server-hello", "certificate"}) {
			t.Fatalf("kinds %v", out.kinds())
		}
		if !drv.done {
			t.Error("not done after an SSL 2.0 server hello")
		}
		sh := out.first(KindServerHello)
		d := sh.Detail.(*ServerHello)
		if d.Version != "SSLv2" || d.CipherSuite != "SSL2_RC4_128_EXPORT40_WITH_MD5" || !d.SSLv2 {
			t.Errorf("server hello %+v", d)
		}
		var kinds []string
		for _, w := range sh.Weaknesses {
			kinds = append(kinds, string(w.Kind)+": "+w.Detail)
		}
		want := []string{"obsolete-tls: SSL 2.0 negotiated", "weak-cipher: SSL2_RC4_128_EXPORT40_WITH_MD5 negotiated (EXPORT, RC4, MD5)"}
		if !slices.Equal(kinds, want) {
			t.Errorf("weaknesses %q, want %q", kinds, want)
		}
		if c := out.first(KindCertificate).Detail.(*CertificateChain); c.Certificates[0].SubjectCN != "v2.test" {
			t.Errorf("certificate %+v", c)
		}
	})
}

func TestClientCertificate(t *testing.T) {
	// Mutual TLS 1.2, as DICOM TLS deployments use: the client's chain is
	// in cleartext too, and is about the client.
	server := makeCert(t, certSpec{cn: "pacs.test"}, nil)
	client := makeCert(t, certSpec{cn: "modality-7", org: "Imaging", rsaBits: 1024}, nil)
	cc := &ctls.Config{InsecureSkipVerify: true, ServerName: "pacs.test", MaxVersion: ctls.VersionTLS12,
		Certificates: []ctls.Certificate{client.tls()}}
	sc := &ctls.Config{Certificates: []ctls.Certificate{server.tls()}, MaxVersion: ctls.VersionTLS12,
		ClientAuth: ctls.RequireAnyClientCert}
	tr, _ := converse(t, cc, sc)
	out, drv := tr.run(New())
	if !slices.Equal(out.kinds(), []string{"client-hello", "server-hello", "certificate", "certificate"}) || !drv.done {
		t.Fatalf("kinds %v, done %v", out.kinds(), drv.done)
	}
	c := out.obs[3]
	if c.Src != testConn("tls").Client {
		t.Errorf("client certificate from %v", c.Src)
	}
	leaf := c.Detail.(*CertificateChain).Certificates[0]
	if leaf.SubjectCN != "modality-7" || !hasFact(c, event.AboutSrc, event.AttrCertSubject, "CN=modality-7,O=Imaging") {
		t.Errorf("leaf %+v facts %+v", leaf, c.Facts)
	}
	if len(c.Weaknesses) != 1 || c.Weaknesses[0].Detail != "leaf certificate: self-signed, RSA 1024-bit key" {
		t.Errorf("weaknesses %+v", c.Weaknesses)
	}
}
