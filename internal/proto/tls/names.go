package tls

import (
	"sort"
	"strconv"
	"strings"
)

// suiteName is one row of the cipher-suite table.
type suiteName struct {
	id   uint16
	name string
}

// SuiteName returns the IANA name of a cipher suite, or its code point as
// "0xC0FF" when the table does not know it.
func SuiteName(id uint16) string {
	i := sort.Search(len(suiteNames), func(i int) bool { return suiteNames[i].id >= id })
	if i < len(suiteNames) && suiteNames[i].id == id {
		return suiteNames[i].name
	}
	return hex16(id)
}

// sslv2Suites names the SSL 2.0 cipher kinds (three-byte codes), which
// only an SSLv2 server hello can select.
var sslv2Suites = [...]struct {
	id   uint32
	name string
}{
	{0x010080, "SSL2_RC4_128_WITH_MD5"},
	{0x020080, "SSL2_RC4_128_EXPORT40_WITH_MD5"},
	{0x030080, "SSL2_RC2_128_CBC_WITH_MD5"},
	{0x040080, "SSL2_RC2_128_CBC_EXPORT40_WITH_MD5"},
	{0x050080, "SSL2_IDEA_128_CBC_WITH_MD5"},
	{0x060040, "SSL2_DES_64_CBC_WITH_MD5"},
	{0x0700C0, "SSL2_DES_192_EDE3_CBC_WITH_MD5"},
}

func sslv2SuiteName(id uint32) string {
	for _, s := range sslv2Suites {
		if s.id == id {
			return s.name
		}
	}
	return "0x" + strings.ToUpper(strconv.FormatUint(uint64(id), 16))
}

// weakSuiteReasons lists why a cipher suite is weak, judged from the
// words of its name: NULL (no encryption), EXPORT (40- and 56-bit keys),
// anon (no authentication), RC4, RC2, DES and 3DES (broken or 64-bit-block
// ciphers), and an MD5 MAC. Suites of unknown name are not judged.
func weakSuiteReasons(name string) []string {
	var rs []string
	for _, w := range weakWords {
		if w.match(name) {
			rs = append(rs, w.reason)
		}
	}
	return rs
}

// weakSuite is weakSuiteReasons(name) != nil without allocating.
func weakSuite(name string) bool {
	for _, w := range weakWords {
		if w.match(name) {
			return true
		}
	}
	return false
}

var weakWords = [...]struct {
	reason string
	match  func(string) bool
}{
	{"NULL", func(n string) bool { return strings.Contains(n, "NULL") }},
	{"EXPORT", func(n string) bool { return strings.Contains(n, "EXPORT") }},
	{"anon", func(n string) bool { return strings.Contains(n, "_anon_") }},
	{"RC4", func(n string) bool { return strings.Contains(n, "_RC4_") }},
	{"RC2", func(n string) bool { return strings.Contains(n, "_RC2_") }},
	{"3DES", func(n string) bool { return strings.Contains(n, "3DES") || strings.Contains(n, "EDE3") }},
	{"DES", func(n string) bool {
		return (strings.Contains(n, "_DES_") || strings.Contains(n, "_DES40_")) && !strings.Contains(n, "EDE")
	}},
	{"MD5", func(n string) bool { return strings.HasSuffix(n, "_MD5") }},
}

// isGREASE says whether v is one of the reserved GREASE values (RFC 8701),
// which clients sprinkle into lists to keep servers tolerant and which
// JA3 leaves out.
func isGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

// Protocol versions on the wire.
const (
	verSSL2    = 0x0002
	verSSL3    = 0x0300
	verTLS10   = 0x0301
	verTLS11   = 0x0302
	verTLS12   = 0x0303
	verTLS13   = 0x0304
	verDTLSBad = 0x0100 // OpenSSL's pre-standard DTLS (DTLS1_BAD_VER)
	verDTLS10  = 0xfeff
	verDTLS12  = 0xfefd
	verDTLS13  = 0xfefc
)

// rank orders versions by strength across TLS and DTLS (DTLS 1.0 is
// TLS 1.1 with datagram changes, DTLS 1.2 is TLS 1.2): 5 and above is
// TLS 1.2 or better; 0 is unknown.
func rank(v uint16) int {
	switch v {
	case verSSL2:
		return 1
	case verSSL3:
		return 2
	case verTLS10, verDTLSBad:
		return 3
	case verTLS11, verDTLS10:
		return 4
	case verTLS12, verDTLS12:
		return 5
	case verTLS13, verDTLS13:
		return 6
	}
	if v>>8 == 0x7f { // TLS 1.3 drafts
		return 6
	}
	return 0
}

// obsolete says whether v is below TLS 1.2 (or DTLS 1.2).
func obsolete(v uint16) bool {
	r := rank(v)
	return r > 0 && r < 5
}

// VersionName returns the usual short name of a protocol version
// ("TLSv1.2", "SSLv3", "DTLSv1.0"), or "0x0305" when unknown.
func VersionName(v uint16) string {
	switch v {
	case verSSL2:
		return "SSLv2"
	case verSSL3:
		return "SSLv3"
	case verTLS10:
		return "TLSv1.0"
	case verTLS11:
		return "TLSv1.1"
	case verTLS12:
		return "TLSv1.2"
	case verTLS13:
		return "TLSv1.3"
	case verDTLSBad:
		return "DTLSv1.0-pre"
	case verDTLS10:
		return "DTLSv1.0"
	case verDTLS12:
		return "DTLSv1.2"
	case verDTLS13:
		return "DTLSv1.3"
	}
	if v>>8 == 0x7f {
		return "TLSv1.3-draft" + strconv.Itoa(int(v&0xff))
	}
	return hex16(v)
}

// humanVersion is VersionName in the form weakness texts use ("TLS 1.0").
func humanVersion(v uint16) string {
	switch v {
	case verSSL2:
		return "SSL 2.0"
	case verSSL3:
		return "SSL 3.0"
	case verDTLSBad:
		return "pre-standard DTLS 1.0 (0x0100)"
	}
	n := VersionName(v)
	for _, p := range []string{"DTLS", "TLS", "SSL"} {
		if rest, ok := strings.CutPrefix(n, p+"v"); ok {
			return p + " " + rest
		}
	}
	return n
}

func hex16(v uint16) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{'0', 'x', digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf]})
}

// alertNames are the TLS alert descriptions of the IANA registry.
var alertNames = [...]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
	21: "decryption_failed", 22: "record_overflow", 30: "decompression_failure",
	40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
	43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
	46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
	49: "access_denied", 50: "decode_error", 51: "decrypt_error",
	60: "export_restriction", 70: "protocol_version", 71: "insufficient_security",
	80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
	100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension",
	111: "certificate_unobtainable", 112: "unrecognized_name",
	113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
	115: "unknown_psk_identity", 116: "certificate_required",
	120: "no_application_protocol", 121: "ech_required",
}

func alertName(d uint8) string {
	if int(d) < len(alertNames) && alertNames[d] != "" {
		return alertNames[d]
	}
	return "unknown(" + strconv.Itoa(int(d)) + ")"
}
