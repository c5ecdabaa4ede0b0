package tls

import (
	"bytes"
	"crypto/dsa" // deprecated, but old devices still present DSA keys: we only measure them
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Bounds on what one certificate contributes to an observation.
const (
	maxCertificates = 10
	maxSANs         = 20
	maxFieldLen     = 256
	maxDNLen        = 512
	maxSerialLen    = 64 // bytes; RFC 5280 allows 20, broken ones use more
)

// sigAlgs names signature algorithms as OpenSSL prints them, and marks
// those whose hash is broken for signatures (MD2, MD4, MD5, SHA-1).
var sigAlgs = [...]struct {
	oid, name string
	weak      bool
}{
	{"1.2.840.113549.1.1.2", "md2WithRSAEncryption", true},
	{"1.2.840.113549.1.1.3", "md4WithRSAEncryption", true},
	{"1.2.840.113549.1.1.4", "md5WithRSAEncryption", true},
	{"1.2.840.113549.1.1.5", "sha1WithRSAEncryption", true},
	{"1.3.14.3.2.29", "sha1WithRSA", true},
	{"1.2.840.113549.1.1.10", "rsassaPss", false},
	{"1.2.840.113549.1.1.11", "sha256WithRSAEncryption", false},
	{"1.2.840.113549.1.1.12", "sha384WithRSAEncryption", false},
	{"1.2.840.113549.1.1.13", "sha512WithRSAEncryption", false},
	{"1.2.840.113549.1.1.14", "sha224WithRSAEncryption", false},
	{"1.2.840.10040.4.3", "dsa_with_SHA1", true},
	{"2.16.840.1.101.3.4.3.1", "dsa_with_SHA224", false},
	{"2.16.840.1.101.3.4.3.2", "dsa_with_SHA256", false},
	{"1.2.840.10045.4.1", "ecdsa-with-SHA1", true},
	{"1.2.840.10045.4.3.1", "ecdsa-with-SHA224", false},
	{"1.2.840.10045.4.3.2", "ecdsa-with-SHA256", false},
	{"1.2.840.10045.4.3.3", "ecdsa-with-SHA384", false},
	{"1.2.840.10045.4.3.4", "ecdsa-with-SHA512", false},
	{"1.3.101.112", "ED25519", false},
	{"1.3.101.113", "ED448", false},
}

// keyAlgs names public-key algorithms by SubjectPublicKeyInfo OID.
var keyAlgs = [...]struct{ oid, name string }{
	{"1.2.840.113549.1.1.1", "RSA"},
	{"1.2.840.113549.1.1.10", "RSA-PSS"},
	{"1.2.840.10045.2.1", "EC"},
	{"1.2.840.10040.4.1", "DSA"},
	{"1.3.101.112", "Ed25519"},
	{"1.3.101.113", "Ed448"},
	{"1.3.101.110", "X25519"},
	{"1.3.101.111", "X448"},
}

// curves gives the size of named elliptic curves, including those
// crypto/x509 does not support.
var curves = [...]struct {
	oid, name string
	bits      int
}{
	{"1.2.840.10045.3.1.1", "P-192", 192},
	{"1.3.132.0.33", "P-224", 224},
	{"1.2.840.10045.3.1.7", "P-256", 256},
	{"1.3.132.0.34", "P-384", 384},
	{"1.3.132.0.35", "P-521", 521},
	{"1.3.132.0.10", "secp256k1", 256},
	{"1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1", 256},
	{"1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1", 384},
	{"1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1", 512},
}

func sigAlg(oid string) (name string, weak bool) {
	for _, a := range sigAlgs {
		if a.oid == oid {
			return a.name, a.weak
		}
	}
	return oid, false
}

func keyAlg(oid string) string {
	for _, a := range keyAlgs {
		if a.oid == oid {
			return a.name
		}
	}
	return oid
}

// certificateFacts describes one DER certificate as seen at capture time
// at. It never fails: what cannot be read is left empty, and a
// certificate that neither crypto/x509 nor the DER walker can read is
// marked unparsable.
func certificateFacts(der []byte, at time.Time) Certificate {
	s1 := sha1.Sum(der)
	s256 := sha256.Sum256(der)
	c := Certificate{SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s256[:])}
	rc, rawOK := parseRawCert(der)
	c.Serial = serialHex(rc.serial)
	if rc.sigOID != "" {
		c.SignatureAlgorithm, c.weakSig = sigAlg(rc.sigOID)
	}
	xc, err := x509.ParseCertificate(der)
	if err != nil {
		c.ParseError = shortError(err)
		if !rawOK && rc.subject == nil {
			c.Unparsable = true
			return c
		}
		fromRaw(&c, &rc, at)
		return c
	}
	c.Subject = boundString(xc.Subject.String(), maxDNLen)
	c.Issuer = boundString(xc.Issuer.String(), maxDNLen)
	c.SubjectCN = boundString(xc.Subject.CommonName, maxFieldLen)
	c.IssuerCN = boundString(xc.Issuer.CommonName, maxFieldLen)
	if len(xc.Subject.Organization) > 0 {
		c.SubjectO = boundString(xc.Subject.Organization[0], maxFieldLen)
	}
	if len(xc.Issuer.Organization) > 0 {
		c.IssuerO = boundString(xc.Issuer.Organization[0], maxFieldLen)
	}
	if c.SignatureAlgorithm == "" {
		c.SignatureAlgorithm = xc.SignatureAlgorithm.String()
		switch xc.SignatureAlgorithm {
		case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1:
			c.weakSig = true
		}
	}
	c.NotBefore, c.NotAfter = xc.NotBefore.UTC(), xc.NotAfter.UTC()
	setValidity(&c, at)
	switch k := xc.PublicKey.(type) {
	case *rsa.PublicKey:
		c.PublicKeyAlgorithm, c.PublicKeyBits = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		c.PublicKeyAlgorithm, c.PublicKeyBits = "EC", k.Curve.Params().BitSize
		c.Curve = k.Curve.Params().Name
	case ed25519.PublicKey:
		c.PublicKeyAlgorithm, c.PublicKeyBits = "Ed25519", 256
	case *ecdh.PublicKey:
		c.PublicKeyAlgorithm, c.PublicKeyBits = "X25519", 256
	case *dsa.PublicKey:
		c.PublicKeyAlgorithm, c.PublicKeyBits = "DSA", k.P.BitLen()
	default:
		c.PublicKeyAlgorithm = keyAlg(rc.keyOID)
	}
	addSANs(&c, xc)
	if bytes.Equal(xc.RawIssuer, xc.RawSubject) {
		err := xc.CheckSignature(xc.SignatureAlgorithm, xc.RawTBSCertificate, xc.Signature)
		switch {
		case err == nil:
			c.SelfSigned, c.SelfSignatureChecked = true, true
		case !verificationFailed(err):
			// An algorithm or key size Go refuses to verify with (MD5,
			// RSA-512): issuer and subject agree, which is what
			// self-signed means when the signature cannot be checked.
			c.SelfSigned = true
		}
	}
	return c
}

// verificationFailed says the signature was checked and is wrong, as
// opposed to not checkable.
func verificationFailed(err error) bool {
	if err == rsa.ErrVerification {
		return true
	}
	return strings.Contains(err.Error(), "verification failure")
}

// fromRaw fills what crypto/x509 refused from the DER walker's findings.
func fromRaw(c *Certificate, rc *rawCert, at time.Time) {
	sub, iss := walkName(rc.subject), walkName(rc.issuer)
	c.Subject, c.Issuer = dnString(sub), dnString(iss)
	c.SubjectCN, c.SubjectO = firstAttr(sub, "CN"), firstAttr(sub, "O")
	c.IssuerCN, c.IssuerO = firstAttr(iss, "CN"), firstAttr(iss, "O")
	c.NotBefore, c.NotAfter = rc.notBefore, rc.notAfter
	setValidity(c, at)
	c.PublicKeyAlgorithm = keyAlg(rc.keyOID)
	switch c.PublicKeyAlgorithm {
	case "RSA", "RSA-PSS":
		if seq, _, ok := expect(rc.key, tagSequence); ok {
			if n, _, ok := expect(seq, tagInteger); ok {
				c.PublicKeyBits = intBits(n)
			}
		}
	case "EC":
		if oid, _, ok := expect(rc.keyParams, tagOID); ok {
			o := oidString(oid)
			c.Curve = o
			for _, cv := range curves {
				if cv.oid == o {
					c.Curve, c.PublicKeyBits = cv.name, cv.bits
				}
			}
		}
	case "DSA":
		if seq, _, ok := expect(rc.keyParams, tagSequence); ok {
			if p, _, ok := expect(seq, tagInteger); ok {
				c.PublicKeyBits = intBits(p)
			}
		}
	case "Ed25519", "X25519":
		c.PublicKeyBits = 256
	case "Ed448", "X448":
		c.PublicKeyBits = 448
	}
	// The signature cannot be checked without a parsed key: equal names
	// are the best evidence left.
	c.SelfSigned = rc.subject != nil && bytes.Equal(rc.issuer, rc.subject)
}

func setValidity(c *Certificate, at time.Time) {
	c.Expired, c.NotYetValid = false, false
	if at.IsZero() {
		return
	}
	if !c.NotAfter.IsZero() && at.After(c.NotAfter) {
		c.Expired = true
	}
	if !c.NotBefore.IsZero() && at.Before(c.NotBefore) {
		c.NotYetValid = true
	}
}

func addSANs(c *Certificate, xc *x509.Certificate) {
	add := func(s string) {
		c.SANCount++
		if len(c.SANs) < maxSANs {
			c.SANs = append(c.SANs, boundString(s, maxFieldLen))
		}
	}
	for _, n := range xc.DNSNames {
		add(n)
	}
	for _, ip := range xc.IPAddresses {
		add(ip.String())
	}
	for _, e := range xc.EmailAddresses {
		add(e)
	}
	for _, u := range xc.URIs {
		add(u.String())
	}
	if c.SANCount == len(c.SANs) {
		c.SANCount = 0 // only reported when some were left out
	}
}

// serialHex renders an INTEGER's content as lower-case hex without the
// sign byte DER adds to positive numbers with a high first bit.
func serialHex(b []byte) string {
	if len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) > maxSerialLen {
		b = b[:maxSerialLen]
	}
	return hex.EncodeToString(b)
}

// shortError keeps the reason of a crypto/x509 error without any value
// it may quote from the certificate.
func shortError(err error) string {
	s := err.Error()
	if i := strings.IndexAny(s, "\"'"); i >= 0 {
		s = strings.TrimRight(s[:i], " :")
	}
	return boundString(s, 120)
}

// weakReasons says why a certificate at position i of its chain is weak.
// A self-signed certificate after the first is a root the peer sent
// along: clients trust their own copy, so it is not judged.
func weakReasons(c *Certificate, i int) []string {
	if c.Unparsable || (i > 0 && c.SelfSigned) {
		return nil
	}
	var rs []string
	if c.SelfSigned {
		rs = append(rs, "self-signed")
	}
	if c.weakSig {
		rs = append(rs, c.SignatureAlgorithm+" signature")
	}
	switch c.PublicKeyAlgorithm {
	case "RSA", "RSA-PSS", "DSA":
		if c.PublicKeyBits > 0 && c.PublicKeyBits < 2048 {
			rs = append(rs, c.PublicKeyAlgorithm+" "+strconv.Itoa(c.PublicKeyBits)+"-bit key")
		}
	case "EC":
		if c.PublicKeyBits > 0 && c.PublicKeyBits < 224 {
			rs = append(rs, "EC "+strconv.Itoa(c.PublicKeyBits)+"-bit key")
		}
	}
	if c.Expired {
		rs = append(rs, "expired")
	}
	if c.NotYetValid {
		rs = append(rs, "not yet valid")
	}
	return rs
}

// certCache holds the facts of recently seen certificates by the SHA-256
// of their DER: a server presents the same chain on every connection, and
// parsing it is the dearest part of a handshake. It is bounded; when full
// the oldest entry makes room. Like a Dissector, it serves one goroutine.
type certCache struct {
	m    map[[sha256.Size]byte]Certificate
	ring [][sha256.Size]byte
	next int
}

// certCacheSize bounds the certificates remembered per dissector.
const certCacheSize = 512

func newCertCache() *certCache {
	return &certCache{m: make(map[[sha256.Size]byte]Certificate)}
}

// facts returns certificateFacts(der, at), parsing der only when it was
// not seen recently. Only the validity depends on the time.
func (cc *certCache) facts(der []byte, at time.Time) Certificate {
	if cc == nil {
		return certificateFacts(der, at)
	}
	k := sha256.Sum256(der)
	if c, ok := cc.m[k]; ok {
		setValidity(&c, at)
		return c
	}
	c := certificateFacts(der, at)
	if len(cc.ring) < certCacheSize {
		cc.ring = append(cc.ring, k)
	} else {
		delete(cc.m, cc.ring[cc.next])
		cc.ring[cc.next] = k
		cc.next = (cc.next + 1) % certCacheSize
	}
	cc.m[k] = c
	return c
}
