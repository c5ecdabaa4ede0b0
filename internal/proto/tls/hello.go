package tls

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strconv"
)

// Handshake message types (RFC 8446 §4, RFC 5246 §7.4, RFC 6347 §4.2.2).
const (
	hsClientHello        = 1
	hsServerHello        = 2
	hsHelloVerifyRequest = 3
	hsCertificate        = 11
	hsServerKeyExchange  = 12
	hsCertificateRequest = 13
	hsServerHelloDone    = 14
	hsClientKeyExchange  = 16
)

// Extension types this package reads.
const (
	extServerName        = 0
	extSupportedGroups   = 10
	extECPointFormats    = 11
	extALPN              = 16
	extPreSharedKey      = 41
	extSupportedVersions = 43
	maxExtensions        = 128 // beyond this a hello is hostile or broken
	maxALPN              = 16
	maxNameLen           = 255
	maxJA3Kept           = 4096
	helloRandomLen       = 32
	maxSessionID         = 32
)

var errShort = errors.New("truncated hello")

// clientHello is a parsed ClientHello. Its slices point into the message
// it was parsed from and are valid only as long as that buffer is.
type clientHello struct {
	version   uint16
	sessionID []byte
	ciphers   []byte // two bytes per suite
	exts      []byte // the raw extensions block
	nExt      int
	sni       []byte
	alpn      []byte // the raw ProtocolNameList
	versions  []byte // supported_versions list, two bytes each
	groups    []byte // supported_groups list, two bytes each
	points    []byte // ec_point_formats, one byte each
	psk       bool
	// truncated says extensions beyond maxExtensions were not read;
	// malformed that the extensions block did not parse to its end.
	truncated, malformed bool
}

// parseClientHello parses the body of a ClientHello handshake message.
// dtls says the message is DTLS's, which carries a cookie after the
// session id.
func parseClientHello(b []byte, dtls bool, h *clientHello) error {
	*h = clientHello{}
	r := reader{b: b}
	h.version = r.u16()
	r.bytes(helloRandomLen)
	h.sessionID = r.vec8()
	if dtls {
		r.vec8()
	}
	h.ciphers = r.vec16()
	r.vec8() // compression methods
	if r.bad || len(h.ciphers)%2 != 0 || len(h.sessionID) > maxSessionID {
		return errShort
	}
	if r.empty() {
		return nil // SSLv3 and early TLS hellos may have no extensions
	}
	h.exts = r.vec16()
	if r.bad {
		h.malformed = true
		return nil
	}
	e := reader{b: h.exts}
	for !e.empty() {
		if h.nExt == maxExtensions {
			h.truncated = true
			break
		}
		typ := e.u16()
		data := e.vec16()
		if e.bad {
			h.malformed = true
			break
		}
		h.nExt++
		switch typ {
		case extServerName:
			h.sni = firstHostName(data)
		case extALPN:
			d := reader{b: data}
			h.alpn = d.vec16()
		case extSupportedVersions:
			d := reader{b: data}
			h.versions = d.vec8()
			if len(h.versions)%2 != 0 {
				h.versions = h.versions[:len(h.versions)-1]
			}
		case extSupportedGroups:
			d := reader{b: data}
			h.groups = d.vec16()
			if len(h.groups)%2 != 0 {
				h.groups = h.groups[:len(h.groups)-1]
			}
		case extECPointFormats:
			d := reader{b: data}
			h.points = d.vec8()
		case extPreSharedKey:
			h.psk = true
		}
	}
	return nil
}

// firstHostName returns the first host_name of a server_name extension.
func firstHostName(b []byte) []byte {
	r := reader{b: b}
	list := reader{b: r.vec16()}
	for i := 0; i < 8 && !list.empty(); i++ {
		typ := list.u8()
		name := list.vec16()
		if list.bad {
			return nil
		}
		if typ == 0 {
			return name
		}
	}
	return nil
}

// maxVersion is the highest version the client offers: from
// supported_versions when present (TLS 1.3 clients keep 0x0303 in the
// legacy field), else the legacy field.
func (h *clientHello) maxVersion() uint16 {
	best, bestRank := h.version, rank(h.version)
	if len(h.versions) == 0 {
		return best
	}
	found := false
	for i := 0; i+1 < len(h.versions); i += 2 {
		v := be16(h.versions[i:])
		if isGREASE(v) {
			continue
		}
		if r := rank(v); !found || r > bestRank {
			best, bestRank, found = v, r, true
		}
	}
	return best
}

// ja3 appends the JA3 string of the hello to dst: the decimal legacy
// version, cipher suites, extension types, supported groups and point
// formats, lists joined by "-" and fields by ",", GREASE values left out
// (github.com/salesforce/ja3, the published definition).
func (h *clientHello) ja3(dst []byte) []byte {
	dst = strconv.AppendUint(dst, uint64(h.version), 10)
	dst = append(dst, ',')
	dst = appendList16(dst, h.ciphers)
	dst = append(dst, ',')
	first := true
	e := reader{b: h.exts}
	for n := 0; n < maxExtensions && !e.empty(); n++ {
		typ := e.u16()
		e.vec16()
		if e.bad {
			break
		}
		if isGREASE(typ) {
			continue
		}
		if !first {
			dst = append(dst, '-')
		}
		first = false
		dst = strconv.AppendUint(dst, uint64(typ), 10)
	}
	dst = append(dst, ',')
	dst = appendList16(dst, h.groups)
	dst = append(dst, ',')
	for i, p := range h.points {
		if i > 0 {
			dst = append(dst, '-')
		}
		dst = strconv.AppendUint(dst, uint64(p), 10)
	}
	return dst
}

func appendList16(dst, list []byte) []byte {
	first := true
	for i := 0; i+1 < len(list); i += 2 {
		v := be16(list[i:])
		if isGREASE(v) {
			continue
		}
		if !first {
			dst = append(dst, '-')
		}
		first = false
		dst = strconv.AppendUint(dst, uint64(v), 10)
	}
	return dst
}

// md5Hex returns the lower-case hex MD5 of s, as JA3 publishes it.
func md5Hex(s []byte) string {
	sum := md5.Sum(s)
	return hex.EncodeToString(sum[:])
}

// serverHello is a parsed ServerHello; slices point into the message.
type serverHello struct {
	version     uint16
	random      []byte
	sessionID   []byte
	cipher      uint16
	compression uint8
	exts        []byte
	selected    uint16 // supported_versions, 0 if absent
	alpn        []byte
	psk         bool
}

// helloRetryRandom marks a ServerHello that is a HelloRetryRequest
// (RFC 8446 §4.1.3: SHA-256 of "HelloRetryRequest").
var helloRetryRandom = [helloRandomLen]byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

func parseServerHello(b []byte, h *serverHello) error {
	*h = serverHello{}
	r := reader{b: b}
	h.version = r.u16()
	h.random = r.bytes(helloRandomLen)
	h.sessionID = r.vec8()
	h.cipher = r.u16()
	h.compression = r.u8()
	if r.bad || len(h.sessionID) > maxSessionID {
		return errShort
	}
	if r.empty() {
		return nil
	}
	h.exts = r.vec16()
	if r.bad {
		// Version and suite are known; a broken extensions block only
		// costs the JA3S.
		h.exts = nil
		return nil
	}
	e := reader{b: h.exts}
	for n := 0; n < maxExtensions && !e.empty(); n++ {
		typ := e.u16()
		data := e.vec16()
		if e.bad {
			break
		}
		switch typ {
		case extSupportedVersions:
			if len(data) == 2 {
				h.selected = be16(data)
			}
		case extALPN:
			d := reader{b: data}
			list := reader{b: d.vec16()}
			h.alpn = list.vec8()
		case extPreSharedKey:
			h.psk = true
		}
	}
	return nil
}

// negotiated is the version the server chose.
func (h *serverHello) negotiated() uint16 {
	if h.selected != 0 {
		return h.selected
	}
	return h.version
}

func (h *serverHello) helloRetry() bool {
	return string(h.random) == string(helloRetryRandom[:])
}

// ja3s appends the JA3S string: version, chosen suite, extension types.
func (h *serverHello) ja3s(dst []byte) []byte {
	dst = strconv.AppendUint(dst, uint64(h.version), 10)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, uint64(h.cipher), 10)
	dst = append(dst, ',')
	first := true
	e := reader{b: h.exts}
	for n := 0; n < maxExtensions && !e.empty(); n++ {
		typ := e.u16()
		e.vec16()
		if e.bad {
			break
		}
		if isGREASE(typ) {
			continue
		}
		if !first {
			dst = append(dst, '-')
		}
		first = false
		dst = strconv.AppendUint(dst, uint64(typ), 10)
	}
	return dst
}

// cleanName returns b as a string if it is a plausible protocol name or
// host name (printable ASCII, bounded), else "".
func cleanName(b []byte) string {
	if len(b) == 0 || len(b) > maxNameLen {
		return ""
	}
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return ""
		}
	}
	return string(b)
}

// alpnList returns the protocol names of a ProtocolNameList.
func alpnList(b []byte) []string {
	var out []string
	r := reader{b: b}
	for !r.empty() && len(out) < maxALPN {
		p := r.vec8()
		if r.bad {
			break
		}
		if s := cleanName(p); s != "" {
			out = append(out, s)
		}
	}
	return out
}
