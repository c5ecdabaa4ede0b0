package tls

import (
	"crypto/x509"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCertificateFacts(t *testing.T) {
	c := makeCert(t, certSpec{cn: "legacy-gw.test", org: "Lab, Inc.", rsaBits: 1024, sigAlg: x509.SHA1WithRSA,
		dns: []string{"legacy-gw.test"}}, nil)
	f := certificateFacts(c.der, testTime)
	want := Certificate{
		Subject: `CN=legacy-gw.test,O=Lab\, Inc.`, SubjectCN: "legacy-gw.test", SubjectO: "Lab, Inc.",
		Issuer: `CN=legacy-gw.test,O=Lab\, Inc.`, IssuerCN: "legacy-gw.test", IssuerO: "Lab, Inc.",
		Serial: "01234567", SignatureAlgorithm: "sha1WithRSAEncryption", PublicKeyAlgorithm: "RSA", PublicKeyBits: 1024,
		NotBefore: testTime.Add(-24 * time.Hour), NotAfter: testTime.Add(365 * 24 * time.Hour),
		SelfSigned: true, SelfSignatureChecked: true, SANs: []string{"legacy-gw.test"},
	}
	if got := weakReasons(&f, 0); !slices.Equal(got, []string{"self-signed", "sha1WithRSAEncryption signature", "RSA 1024-bit key"}) {
		t.Errorf("reasons %q", got)
	}
	if len(f.SHA1) != 40 || len(f.SHA256) != 64 {
		t.Errorf("fingerprints %q %q", f.SHA1, f.SHA256)
	}
	if !equalCert(f, want) {
		t.Errorf("facts\n got %+v\nwant %+v", f, want)
	}
	// Seen two years later, it has expired; seen before it was issued, it
	// is not yet valid.
	if f := certificateFacts(c.der, testTime.AddDate(2, 0, 0)); !f.Expired || f.NotYetValid {
		t.Errorf("later: expired %v", f.Expired)
	}
	if f := certificateFacts(c.der, testTime.AddDate(-1, 0, 0)); f.Expired || !f.NotYetValid {
		t.Errorf("earlier: not yet valid %v", f.NotYetValid)
	}
}

func equalCert(a, b Certificate) bool {
	return a.Subject == b.Subject && a.SubjectCN == b.SubjectCN && a.SubjectO == b.SubjectO &&
		a.Issuer == b.Issuer && a.IssuerCN == b.IssuerCN && a.IssuerO == b.IssuerO &&
		a.Serial == b.Serial && a.SignatureAlgorithm == b.SignatureAlgorithm &&
		a.PublicKeyAlgorithm == b.PublicKeyAlgorithm && a.PublicKeyBits == b.PublicKeyBits && a.Curve == b.Curve &&
		a.NotBefore.Equal(b.NotBefore) && a.NotAfter.Equal(b.NotAfter) && a.Expired == b.Expired &&
		a.NotYetValid == b.NotYetValid && a.SelfSigned == b.SelfSigned &&
		a.SelfSignatureChecked == b.SelfSignatureChecked && slices.Equal(a.SANs, b.SANs) &&
		a.SANCount == b.SANCount && a.Unparsable == b.Unparsable
}

func TestIssuedCertificateIsNotSelfSigned(t *testing.T) {
	root := makeCert(t, certSpec{cn: "Root", ca: true}, nil)
	leaf := makeCert(t, certSpec{cn: "leaf.test", rsaBits: 2048}, root)
	f := certificateFacts(leaf.der, testTime)
	if f.SelfSigned || f.IssuerCN != "Root" || f.SignatureAlgorithm != "ecdsa-with-SHA256" || f.PublicKeyBits != 2048 {
		t.Errorf("%+v", f)
	}
	if r := weakReasons(&f, 0); r != nil {
		t.Errorf("reasons %q", r)
	}
	// Same names as its issuer, but signed by another key: not self-signed.
	impostor := makeCert(t, certSpec{cn: "Root", ca: true}, root)
	if f := certificateFacts(impostor.der, testTime); f.SelfSigned {
		t.Errorf("a certificate whose signature fails with its own key is not self-signed")
	}
}

// TestFallbackWhenX509Refuses makes a certificate crypto/x509 rejects (a
// negative serial number, as some old devices produce) and checks that the
// DER walker still reports it.
func TestFallbackWhenX509Refuses(t *testing.T) {
	c := makeCert(t, certSpec{cn: "old-pump.test", org: "Pump Co", rsaBits: 1024, sigAlg: x509.SHA1WithRSA}, nil)
	der := negateSerial(t, c.der)
	if _, err := x509.ParseCertificate(der); err == nil {
		t.Skip("crypto/x509 accepts negative serials here (GODEBUG x509negativeserial=1?)")
	}
	f := certificateFacts(der, testTime.AddDate(3, 0, 0))
	if f.ParseError == "" || f.Unparsable {
		t.Fatalf("parse error %q, unparsable %v", f.ParseError, f.Unparsable)
	}
	if f.SubjectCN != "old-pump.test" || f.SubjectO != "Pump Co" || f.IssuerCN != "old-pump.test" ||
		f.Subject != "CN=old-pump.test,O=Pump Co" || f.SignatureAlgorithm != "sha1WithRSAEncryption" ||
		f.PublicKeyAlgorithm != "RSA" || f.PublicKeyBits != 1024 || !f.SelfSigned || !f.Expired ||
		!f.NotAfter.Equal(c.cert.NotAfter) || f.Serial == "" {
		t.Errorf("fallback facts %+v", f)
	}
	if r := weakReasons(&f, 0); !slices.Equal(r, []string{"self-signed", "sha1WithRSAEncryption signature", "RSA 1024-bit key", "expired"}) {
		t.Errorf("reasons %q", r)
	}
}

// negateSerial sets the high bit of the serial number's first byte.
func negateSerial(t *testing.T, der []byte) []byte {
	t.Helper()
	der = slices.Clone(der)
	c, _, ok := expect(der, tagSequence)
	tbs, _, ok2 := expect(c, tagSequence)
	if !ok || !ok2 {
		t.Fatal("cannot walk test certificate")
	}
	if tag, _, rest, ok := readTLV(tbs); ok && tag == tagVersion {
		tbs = rest
	}
	serial, _, ok := expect(tbs, tagInteger)
	if !ok {
		t.Fatal("no serial")
	}
	serial[0] |= 0x80 // aliases der
	return der
}

func TestUnparsableCertificate(t *testing.T) {
	for _, der := range [][]byte{nil, {0x30}, {0x30, 0x03, 0x02, 0x01, 0x01}, []byte("not a certificate")} {
		f := certificateFacts(der, testTime)
		if !f.Unparsable || f.SHA256 == "" || weakReasons(&f, 0) != nil {
			t.Errorf("%x: %+v", der, f)
		}
	}
}

// TestRawWalkerAgreesWithX509 checks the fallback against crypto/x509 on
// certificates both can read.
func TestRawWalkerAgreesWithX509(t *testing.T) {
	root := makeCert(t, certSpec{cn: "Walker Root", org: "Walk", ca: true}, nil)
	certs := [][]byte{
		makeCert(t, certSpec{cn: "a.test", org: "Ütf-8 Org", rsaBits: 2048}, root).der,
		makeCert(t, certSpec{cn: "b.test", rsaBits: 1024, sigAlg: x509.SHA256WithRSA}, nil).der,
		root.der,
	}
	for _, der := range certs {
		want := certificateFacts(der, testTime)
		var got Certificate
		rc, ok := parseRawCert(der)
		if !ok {
			t.Fatalf("walker failed on %s", want.Subject)
		}
		got.Serial = serialHex(rc.serial)
		got.SignatureAlgorithm, _ = sigAlg(rc.sigOID)
		fromRaw(&got, &rc, testTime)
		if got.Subject != want.Subject || got.Issuer != want.Issuer || got.SubjectCN != want.SubjectCN ||
			got.SubjectO != want.SubjectO || got.IssuerCN != want.IssuerCN || got.Serial != want.Serial ||
			got.SignatureAlgorithm != want.SignatureAlgorithm || got.PublicKeyAlgorithm != want.PublicKeyAlgorithm ||
			got.PublicKeyBits != want.PublicKeyBits || got.Curve != want.Curve || !got.NotBefore.Equal(want.NotBefore) ||
			!got.NotAfter.Equal(want.NotAfter) || got.SelfSigned != want.SelfSigned {
			t.Errorf("walker\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestOIDString(t *testing.T) {
	cases := map[string]string{
		"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x05": "1.2.840.113549.1.1.5",
		"\x55\x04\x03":                         "2.5.4.3",
		"\x2b\x65\x70":                         "1.3.101.112",
		"\x88\x37\x01":                         "2.999.1",
		"\x2a\x86":                             "", // ends inside a component
		"":                                     "",
	}
	for in, want := range cases {
		if got := oidString([]byte(in)); got != want {
			t.Errorf("%x: %q, want %q", in, got, want)
		}
	}
}

func TestDecodeString(t *testing.T) {
	if s := decodeString(tagBMPString, []byte{0, 'P', 0, 'u', 0x00, 0xfc}); s != "Puü" {
		t.Errorf("BMP %q", s)
	}
	if s := decodeString(tagT61String, []byte{'M', 0xfc, 'n'}); s != "Mün" {
		t.Errorf("T61 %q", s)
	}
	if s := decodeString(tagUniversalString, []byte{0, 0, 0, 'A', 0, 0, 0, 'b'}); s != "Ab" {
		t.Errorf("Universal %q", s)
	}
	if s := decodeString(tagUTF8String, []byte{'a', 0xff}); !strings.HasPrefix(s, "a") || !strings.Contains(s, "\uFFFD") {
		t.Errorf("invalid UTF-8 %q", s)
	}
}

func TestShortErrorDropsQuotedValues(t *testing.T) {
	if s := shortError(errString(`x509: cannot parse dnsName "secret.example"`)); s != "x509: cannot parse dnsName" {
		t.Errorf("%q", s)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// The cache gives the same facts as parsing, with the validity judged at
// each connection's own time, and stays within its bound.
func TestCertCache(t *testing.T) {
	der := makeCert(t, certSpec{cn: "pump.example", dns: []string{"pump.example"}}, nil).der
	cc := newCertCache()
	xc, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	inside, after := xc.NotBefore.Add(time.Hour), xc.NotAfter.Add(time.Hour)
	first := cc.facts(der, inside)
	again := cc.facts(der, after)
	if !reflect.DeepEqual(first, certificateFacts(der, inside)) || first.Expired {
		t.Fatalf("cached facts differ: %+v", first)
	}
	if !again.Expired || !reflect.DeepEqual(again, certificateFacts(der, after)) {
		t.Fatalf("validity not judged at the second time: %+v", again)
	}
	for i := 0; i < certCacheSize+10; i++ {
		cc.facts(append(append([]byte(nil), der...), byte(i), byte(i>>8)), inside)
	}
	if len(cc.m) != certCacheSize || len(cc.ring) != certCacheSize {
		t.Fatalf("cache holds %d entries, ring %d", len(cc.m), len(cc.ring))
	}
}
