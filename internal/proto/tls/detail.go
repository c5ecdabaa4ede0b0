package tls

import "time"

// Observation kinds.
const (
	KindClientHello = "client-hello"
	KindServerHello = "server-hello"
	KindCertificate = "certificate"
	KindAlert       = "alert"
)

// ClientHello is the detail of a "client-hello" observation: what the
// client offered. Documented in docs/proto/tls.md.
type ClientHello struct {
	// Version is the legacy_version field (TLS 1.3 clients put TLS 1.2
	// there); MaxVersion the highest version offered, from
	// supported_versions when present.
	Version           string   `json:"version"`
	MaxVersion        string   `json:"max_version"`
	SupportedVersions []string `json:"supported_versions,omitempty"`
	SNI               string   `json:"sni,omitempty"`
	ALPN              []string `json:"alpn,omitempty"`
	CipherSuites      int      `json:"cipher_suites"`
	// WeakCipherSuites counts offered suites of the weak list.
	WeakCipherSuites int  `json:"weak_cipher_suites,omitempty"`
	Extensions       int  `json:"extensions"`
	PSK              bool `json:"psk,omitempty"`
	// JA3 is the canonical JA3 string, JA3Hash its MD5; JA3Truncated says
	// the string was cut at 4 KiB (the hash covers all of it).
	JA3          string `json:"ja3,omitempty"`
	JA3Hash      string `json:"ja3_hash,omitempty"`
	JA3Truncated bool   `json:"ja3_truncated,omitempty"`
	// SSLv2Format says the hello came in the SSL 2.0 record format (old
	// clients wanting to reach SSLv2 servers); it has no JA3.
	SSLv2Format bool `json:"sslv2_format,omitempty"`
	// Malformed says the extensions did not parse to their end;
	// ExtensionsTruncated that more than 128 were sent and the rest
	// ignored.
	Malformed           bool `json:"malformed,omitempty"`
	ExtensionsTruncated bool `json:"extensions_truncated,omitempty"`
}

// ServerHello is the detail of a "server-hello" observation: what the
// server chose.
type ServerHello struct {
	// Version is the negotiated version: supported_versions when present,
	// else the legacy field, which LegacyVersion repeats when it differs.
	Version       string `json:"version"`
	LegacyVersion string `json:"legacy_version,omitempty"`
	CipherSuite   string `json:"cipher_suite"`
	CipherSuiteID uint16 `json:"cipher_suite_id"`
	// WeakCipher lists why the suite is weak ("RC4", "EXPORT" …).
	WeakCipher  []string `json:"weak_cipher,omitempty"`
	Compression uint8    `json:"compression,omitempty"`
	ALPN        string   `json:"alpn,omitempty"`
	// Resumed says the server resumed an earlier session (echoed session
	// id in TLS ≤ 1.2, pre_shared_key in TLS 1.3): no certificate follows.
	Resumed bool `json:"resumed,omitempty"`
	// HelloRetry says a HelloRetryRequest preceded this hello.
	HelloRetry bool   `json:"hello_retry,omitempty"`
	JA3S       string `json:"ja3s,omitempty"`
	JA3SHash   string `json:"ja3s_hash,omitempty"`
	SSLv2      bool   `json:"sslv2,omitempty"`
}

// CertificateChain is the detail of a "certificate" observation: the
// chain one side presented, leaf first.
type CertificateChain struct {
	Certificates []Certificate `json:"certificates"`
	// Omitted counts certificates beyond the tenth, not read.
	Omitted int `json:"omitted,omitempty"`
}

// Certificate is what one X.509 certificate says.
type Certificate struct {
	Subject            string    `json:"subject,omitempty"`
	SubjectCN          string    `json:"subject_cn,omitempty"`
	SubjectO           string    `json:"subject_o,omitempty"`
	Issuer             string    `json:"issuer,omitempty"`
	IssuerCN           string    `json:"issuer_cn,omitempty"`
	IssuerO            string    `json:"issuer_o,omitempty"`
	Serial             string    `json:"serial,omitempty"`
	SignatureAlgorithm string    `json:"signature_algorithm,omitempty"`
	PublicKeyAlgorithm string    `json:"public_key_algorithm,omitempty"`
	PublicKeyBits      int       `json:"public_key_bits,omitempty"`
	Curve              string    `json:"curve,omitempty"`
	NotBefore          time.Time `json:"not_before,omitzero"`
	NotAfter           time.Time `json:"not_after,omitzero"`
	// Expired and NotYetValid are judged at capture time.
	Expired     bool `json:"expired,omitempty"`
	NotYetValid bool `json:"not_yet_valid,omitempty"`
	// SelfSigned: issuer equals subject and the signature verifies with
	// the certificate's own key (SelfSignatureChecked), or could not be
	// checked (an algorithm or key size Go refuses, or no parsable key).
	SelfSigned           bool `json:"self_signed,omitempty"`
	SelfSignatureChecked bool `json:"self_signature_checked,omitempty"`
	// SANs are the first 20 subject alternative names; SANCount, when
	// set, is how many there were.
	SANs     []string `json:"sans,omitempty"`
	SANCount int      `json:"san_count,omitempty"`
	SHA1     string   `json:"sha1"`
	SHA256   string   `json:"sha256"`
	// Weak lists the reasons this certificate is weak, as in the
	// observation's weakness.
	Weak []string `json:"weak,omitempty"`
	// ParseError is crypto/x509's complaint when it refused the
	// certificate and the fields came from a lenient DER walk;
	// Unparsable says even that failed.
	ParseError string `json:"parse_error,omitempty"`
	Unparsable bool   `json:"unparsable,omitempty"`

	weakSig bool
}

// Alert is the detail of an "alert" observation, sent in cleartext
// before encryption started.
type Alert struct {
	Level       string `json:"level"` // "warning", "fatal" or the number
	Description string `json:"description"`
	Code        uint8  `json:"code"`
}
