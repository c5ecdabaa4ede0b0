package tls

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// This file reads the outer structure of an X.509 certificate with a
// small, lenient DER walker, so that certificates crypto/x509 refuses
// (negative serials, unknown curves, odd strings, as old medical devices
// produce) still yield their names, dates, algorithms and key size.

// DER tags used by certificates.
const (
	tagInteger         = 0x02
	tagBitString       = 0x03
	tagOID             = 0x06
	tagUTF8String      = 0x0c
	tagPrintableString = 0x13
	tagT61String       = 0x14
	tagIA5String       = 0x16
	tagUTCTime         = 0x17
	tagGeneralizedTime = 0x18
	tagUniversalString = 0x1c
	tagBMPString       = 0x1e
	tagSequence        = 0x30
	tagSet             = 0x31
	tagVersion         = 0xa0 // [0] EXPLICIT in TBSCertificate
)

// readTLV reads one element with a low tag number and a definite length.
func readTLV(b []byte) (tag byte, content, rest []byte, ok bool) {
	if len(b) < 2 || b[0]&0x1f == 0x1f {
		return 0, nil, nil, false
	}
	tag = b[0]
	n := int(b[1])
	b = b[2:]
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 3 || len(b) < k {
			return 0, nil, nil, false
		}
		n = 0
		for _, c := range b[:k] {
			n = n<<8 | int(c)
		}
		b = b[k:]
	}
	if n > len(b) {
		return 0, nil, nil, false
	}
	return tag, b[:n:n], b[n:], true
}

// expect reads one element that must have tag want.
func expect(b []byte, want byte) (content, rest []byte, ok bool) {
	tag, content, rest, ok := readTLV(b)
	if !ok || tag != want {
		return nil, nil, false
	}
	return content, rest, true
}

// rawCert holds what the DER walker found; slices point into the DER.
type rawCert struct {
	serial    []byte
	issuer    []byte // Name content
	subject   []byte
	notBefore time.Time
	notAfter  time.Time
	sigOID    string
	keyOID    string
	keyParams []byte // the AlgorithmIdentifier's parameters element
	key       []byte // subjectPublicKey bits
}

// parseRawCert walks Certificate ::= SEQUENCE { tbsCertificate,
// signatureAlgorithm, signature }. ok is false when even the outer
// structure is broken; fields found before the break are kept.
func parseRawCert(der []byte) (rc rawCert, ok bool) {
	c, _, ok := expect(der, tagSequence)
	if !ok {
		return rc, false
	}
	tbs, c, ok := expect(c, tagSequence)
	if !ok {
		return rc, false
	}
	if sig, _, ok := expect(c, tagSequence); ok {
		if oid, _, ok := expect(sig, tagOID); ok {
			rc.sigOID = oidString(oid)
		}
	}
	if tag, _, rest, ok := readTLV(tbs); ok && tag == tagVersion {
		tbs = rest
	}
	var steps = [...]func() bool{
		func() bool { rc.serial, tbs, ok = expect(tbs, tagInteger); return ok },
		func() bool { _, tbs, ok = expect(tbs, tagSequence); return ok },
		func() bool { rc.issuer, tbs, ok = expect(tbs, tagSequence); return ok },
		func() bool {
			var v []byte
			if v, tbs, ok = expect(tbs, tagSequence); !ok {
				return false
			}
			var nb, na time.Time
			nb, v, ok = readTime(v)
			if ok {
				na, _, ok = readTime(v)
			}
			if ok {
				rc.notBefore, rc.notAfter = nb, na
			}
			return true // bad dates do not hide the rest
		},
		func() bool { rc.subject, tbs, ok = expect(tbs, tagSequence); return ok },
		func() bool {
			var spki, alg []byte
			if spki, tbs, ok = expect(tbs, tagSequence); !ok {
				return false
			}
			if alg, spki, ok = expect(spki, tagSequence); !ok {
				return false
			}
			oid, params, ok := expect(alg, tagOID)
			if !ok {
				return false
			}
			rc.keyOID, rc.keyParams = oidString(oid), params
			if bits, _, ok := expect(spki, tagBitString); ok && len(bits) > 0 {
				rc.key = bits[1:]
			}
			return true
		},
	}
	for _, step := range steps {
		if !step() {
			return rc, false
		}
	}
	return rc, true
}

// readTime reads a UTCTime or GeneralizedTime.
func readTime(b []byte) (time.Time, []byte, bool) {
	tag, v, rest, ok := readTLV(b)
	if !ok {
		return time.Time{}, nil, false
	}
	s := string(v)
	switch tag {
	case tagUTCTime:
		if len(s) < 2 {
			return time.Time{}, nil, false
		}
		// RFC 5280 §4.1.2.5.1: two-digit years from 50 are 19xx.
		if s[0] >= '5' {
			s = "19" + s
		} else {
			s = "20" + s
		}
	case tagGeneralizedTime:
	default:
		return time.Time{}, nil, false
	}
	for _, layout := range []string{"20060102150405Z0700", "200601021504Z0700", "20060102150405.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), rest, true
		}
	}
	return time.Time{}, nil, false
}

// oidString renders an OBJECT IDENTIFIER's content in dotted form.
func oidString(b []byte) string {
	if len(b) == 0 || len(b) > 64 {
		return ""
	}
	var sb strings.Builder
	var v uint64
	first := true
	for i, c := range b {
		if v > 1<<56 {
			return ""
		}
		v = v<<7 | uint64(c&0x7f)
		if c&0x80 != 0 {
			if i == len(b)-1 {
				return ""
			}
			continue
		}
		if first {
			a := min(v/40, 2)
			sb.WriteString(strconv.FormatUint(a, 10))
			sb.WriteByte('.')
			sb.WriteString(strconv.FormatUint(v-40*a, 10))
			first = false
		} else {
			sb.WriteByte('.')
			sb.WriteString(strconv.FormatUint(v, 10))
		}
		v = 0
	}
	return sb.String()
}

// Attribute types of distinguished names, in the order and with the short
// names RFC 4514 uses.
var nameAttrs = [...]struct{ oid, short string }{
	{"2.5.4.3", "CN"},
	{"2.5.4.7", "L"},
	{"2.5.4.8", "ST"},
	{"2.5.4.10", "O"},
	{"2.5.4.11", "OU"},
	{"2.5.4.6", "C"},
	{"2.5.4.9", "STREET"},
	{"0.9.2342.19200300.100.1.25", "DC"},
	{"0.9.2342.19200300.100.1.1", "UID"},
	{"2.5.4.5", "SERIALNUMBER"},
}

// nameAttr is one attribute of a distinguished name.
type nameAttr struct{ short, value string }

// walkName returns the known attributes of a Name's content, in order,
// at most 32.
func walkName(b []byte) []nameAttr {
	var out []nameAttr
	for len(b) > 0 && len(out) < 32 {
		set, rest, ok := expect(b, tagSet)
		if !ok {
			break
		}
		b = rest
		for len(set) > 0 && len(out) < 32 {
			atv, r, ok := expect(set, tagSequence)
			if !ok {
				break
			}
			set = r
			oid, v, ok := expect(atv, tagOID)
			if !ok {
				continue
			}
			tag, val, _, ok := readTLV(v)
			if !ok {
				continue
			}
			o := oidString(oid)
			for _, a := range nameAttrs {
				if a.oid == o {
					out = append(out, nameAttr{a.short, boundString(decodeString(tag, val), maxFieldLen)})
					break
				}
			}
		}
	}
	return out
}

// decodeString turns an ASN.1 character string into UTF-8, leniently.
func decodeString(tag byte, b []byte) string {
	switch tag {
	case tagBMPString:
		if len(b)%2 != 0 {
			b = b[:len(b)-1]
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = be16(b[2*i:])
		}
		return string(utf16.Decode(u))
	case tagUniversalString:
		var sb strings.Builder
		for i := 0; i+3 < len(b); i += 4 {
			sb.WriteRune(rune(uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])))
		}
		return sb.String()
	case tagT61String:
		if !utf8.Valid(b) {
			// Treat as Latin-1, which is what T61 strings hold in practice.
			r := make([]rune, len(b))
			for i, c := range b {
				r[i] = rune(c)
			}
			return string(r)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// dnString renders attributes as RFC 4514 does (last RDN first).
func dnString(attrs []nameAttr) string {
	var sb strings.Builder
	for i := len(attrs) - 1; i >= 0; i-- {
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(attrs[i].short)
		sb.WriteByte('=')
		for _, r := range attrs[i].value {
			switch r {
			case ',', '+', '"', '\\', '<', '>', ';':
				sb.WriteByte('\\')
			}
			sb.WriteRune(r)
		}
	}
	return boundString(sb.String(), maxDNLen)
}

func firstAttr(attrs []nameAttr, short string) string {
	for _, a := range attrs {
		if a.short == short {
			return a.value
		}
	}
	return ""
}

// intBits is the bit length of a DER INTEGER's content (sign byte aside).
func intBits(b []byte) int {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0
	}
	n := (len(b) - 1) * 8
	for c := b[0]; c != 0; c >>= 1 {
		n++
	}
	return n
}

// boundString cuts s to at most n bytes on a rune boundary.
func boundString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
