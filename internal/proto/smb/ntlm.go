package smb

import (
	"bytes"
	"encoding/binary"
)

var (
	ntlmSignature = []byte("NTLMSSP\x00")
	// The Kerberos mechanism OIDs, DER-encoded: 1.2.840.113554.1.2.2
	// and Microsoft's 1.2.840.48018.1.2.2.
	oidKerberos   = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}
	oidMSKerberos = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02}
)

// NTLMSSP negotiate flags ([MS-NLMP] 2.2.2.5).
const (
	ntlmUnicode = 0x00000001
	ntlmVersion = 0x02000000
)

// securityBlob reads what a session setup's security blob says in clear.
// The blob is SPNEGO (ASN.1) around NTLMSSP or Kerberos; rather than
// decoding the ASN.1, the NTLMSSP message is found by its signature,
// which is how the blob's NTLM token begins.
func (s *session) securityBlob(ss *SessionSetup, blob []byte, fromServer bool) {
	if i := bytes.Index(blob, ntlmSignature); i >= 0 {
		ss.Mechanism = "ntlmssp"
		ntlm(ss, blob[i:])
		return
	}
	if fromServer || len(blob) == 0 {
		return
	}
	if bytes.Contains(blob, oidKerberos) || bytes.Contains(blob, oidMSKerberos) {
		if ss.Mechanism == "" {
			ss.Mechanism = "kerberos"
		}
		return
	}
	if ss.Mechanism == "" {
		ss.Mechanism = "spnego"
	}
}

// ntlm reads one NTLMSSP message ([MS-NLMP] 2.2.1); m starts at its
// signature. Payload fields are (length, max length, offset from m).
func ntlm(ss *SessionSetup, m []byte) {
	if len(m) < 12 {
		return
	}
	field := func(at int) ([]byte, bool) {
		if at+8 > len(m) {
			return nil, false
		}
		l := int(binary.LittleEndian.Uint16(m[at:]))
		off := int(binary.LittleEndian.Uint32(m[at+4:]))
		return slice(m, off, l)
	}
	str := func(b []byte, unicode bool) string {
		if unicode {
			return utf16le(b)
		}
		return oem(b)
	}
	switch binary.LittleEndian.Uint32(m[8:]) {
	case 2: // CHALLENGE: target name 12, flags 20, target info 40, version 48
		if len(m) < 32 {
			return
		}
		flags := binary.LittleEndian.Uint32(m[20:])
		if flags&ntlmVersion != 0 && len(m) >= 56 {
			ss.ServerVersion = version(m[48:56])
		}
		if info, ok := field(40); ok {
			avPairs(ss, info)
		}
	case 3: // AUTHENTICATE: LM 12, NT 20, domain 28, user 36, workstation 44, flags 60, version 64
		if len(m) < 64 {
			return
		}
		flags := binary.LittleEndian.Uint32(m[60:])
		uni := flags&ntlmUnicode != 0
		nt, _ := field(20)
		lm, _ := field(12)
		if d, ok := field(28); ok {
			ss.Domain = str(d, uni)
		}
		if u, ok := field(36); ok {
			ss.User = str(u, uni)
		}
		if w, ok := field(44); ok {
			ss.Workstation = str(w, uni)
		}
		switch {
		case len(nt) == 24:
			ss.NTLMVersion = "v1"
		case len(nt) > 24:
			ss.NTLMVersion = "v2"
		}
		ss.Anonymous = ss.User == "" && len(nt) == 0 && len(lm) <= 1
		if flags&ntlmVersion != 0 && len(m) >= 72 {
			ss.ClientVersion = version(m[64:72])
		}
	case 1: // NEGOTIATE: flags 12, version 32 (domain and workstation rarely sent)
		if len(m) >= 40 && binary.LittleEndian.Uint32(m[12:])&ntlmVersion != 0 {
			ss.ClientVersion = version(m[32:40])
		}
	}
}

// avPairs reads the CHALLENGE's target information ([MS-NLMP] 2.2.2.1).
func avPairs(ss *SessionSetup, b []byte) {
	for i := 0; i < 32 && len(b) >= 4; i++ {
		id := binary.LittleEndian.Uint16(b)
		l := int(binary.LittleEndian.Uint16(b[2:]))
		if id == 0 || 4+l > len(b) {
			return
		}
		v := b[4 : 4+l]
		switch id {
		case 1:
			ss.ServerNetBIOSName = utf16le(v)
		case 2:
			ss.ServerNetBIOSDomain = utf16le(v)
		case 3:
			ss.ServerDNSName = utf16le(v)
		case 4:
			ss.ServerDNSDomain = utf16le(v)
		}
		b = b[4+l:]
	}
}

// version formats an NTLM VERSION structure: major.minor.build.
func version(v []byte) string {
	if v[0] == 0 {
		return ""
	}
	return itoa(int(v[0])) + "." + itoa(int(v[1])) + "." + itoa(int(binary.LittleEndian.Uint16(v[2:])))
}
