package smb

import (
	"encoding/binary"

	"github.com/heir-emd/heir/internal/proto"
)

// SMB1 commands read here ([MS-CIFS] 2.2.2.1).
const (
	smb1Negotiate    = 0x72
	smb1SessionSetup = 0x73
)

// SMB1 header fields ([MS-CIFS] 2.2.3.1).
const (
	smb1FlagReply      = 0x80
	smb1Flags2Unicode  = 0x8000
	smb1Flags2NTStatus = 0x4000
	smb1CapExtSecurity = 0x80000000
	smb1SecEncryptPwd  = 0x02
	smb1SecSignEnabled = 0x04
	smb1SecSignReq     = 0x08
	maxDialects        = 32
)

// smb1Msg is an SMB1 message cut into its parts.
type smb1Msg struct {
	raw     []byte
	cmd     byte
	reply   bool
	unicode bool
	status  uint32 // NT status, or 0/1 from a DOS error class
	words   []byte
	bytes   []byte
	// bytesOff is the offset of bytes from the header start: Unicode
	// strings are aligned to two bytes from there.
	bytesOff int
}

func parseSMB1(msg []byte) (smb1Msg, bool) {
	if len(msg) < smb1HeaderLen+1 {
		return smb1Msg{}, false
	}
	m := smb1Msg{raw: msg, cmd: msg[4], reply: msg[9]&smb1FlagReply != 0}
	flags2 := binary.LittleEndian.Uint16(msg[10:])
	m.unicode = flags2&smb1Flags2Unicode != 0
	if flags2&smb1Flags2NTStatus != 0 {
		m.status = binary.LittleEndian.Uint32(msg[5:])
	} else if msg[5] != 0 {
		m.status = 0xc0000001 // some DOS error
	}
	wc := int(msg[smb1HeaderLen])
	off := smb1HeaderLen + 1
	if off+2*wc+2 > len(msg) {
		// An error answer may carry neither words nor bytes.
		m.words = msg[off:min(off+2*wc, len(msg))]
		return m, true
	}
	m.words = msg[off : off+2*wc]
	off += 2 * wc
	bc := int(binary.LittleEndian.Uint16(msg[off:]))
	off += 2
	m.bytesOff = off
	m.bytes = msg[off:min(off+bc, len(msg))]
	return m, true
}

// strings reads consecutive NUL-terminated strings from the bytes
// section starting at offset at. Session setup aligns Unicode strings to
// two bytes from the header; the NEGOTIATE response does not ([MS-CIFS]
// 2.2.4.52.2 leaves DomainName unpadded, as Windows sends it).
func (m *smb1Msg) strings(at, n int, align bool) []string {
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if align && m.unicode && (m.bytesOff+at)%2 == 1 {
			at++
		}
		if at >= len(m.bytes) {
			out = append(out, "")
			continue
		}
		s, k := cstring(m.bytes[at:], m.unicode)
		out = append(out, s)
		at += k
	}
	return out
}

func (s *session) smb1(dir proto.Dir, msg []byte, mt proto.Meta) {
	m, ok := parseSMB1(msg)
	if !ok {
		s.finish(mt)
		return
	}
	switch m.cmd {
	case smb1Negotiate:
		if m.reply {
			s.smb1NegotiateResponse(&m, mt)
		} else {
			s.smb1NegotiateRequest(&m)
		}
	case smb1SessionSetup:
		if m.reply {
			s.smb1SetupResponse(&m, mt)
		} else {
			s.smb1SetupRequest(&m)
		}
	default:
		s.other(dir, "smb1", smb1CommandName(m.cmd), m.reply, mt)
	}
}

func (s *session) smb1NegotiateRequest(m *smb1Msg) {
	n := s.negotiation()
	s.smb1Offer = true
	n.SMB1Dialects = n.SMB1Dialects[:0]
	b := m.bytes
	smb2 := false
	for len(b) > 1 && b[0] == 0x02 && len(n.SMB1Dialects) < maxDialects {
		d, k := cstring(b[1:], false)
		n.SMB1Dialects = append(n.SMB1Dialects, d)
		if len(d) >= 5 && d[:5] == "SMB 2" {
			smb2 = true
		}
		b = b[1+k:]
	}
	n.OnlySMB1 = len(n.SMB1Dialects) > 0 && !smb2
}

func (s *session) smb1NegotiateResponse(m *smb1Msg, mt proto.Meta) {
	n := s.negotiation()
	s.negSeen = true
	n.meta = mt
	if len(m.words) < 2 {
		return
	}
	idx := int(binary.LittleEndian.Uint16(m.words))
	if idx < len(n.SMB1Dialects) {
		n.Dialect = n.SMB1Dialects[idx]
	} else if idx != 0xffff {
		n.Dialect = "dialect #" + itoa(idx)
	}
	if idx != 0xffff {
		n.Version = "smb1"
		n.smb1Chosen = true
	}
	if len(m.words) < 34 {
		return // a pre-NT dialect
	}
	// NT LM 0.12: SecurityMode, …, Capabilities at 19, ChallengeLength at 33.
	sec := m.words[2]
	s.encryptPwd = sec&smb1SecEncryptPwd != 0
	n.Signing = signing(sec&smb1SecSignEnabled != 0, sec&smb1SecSignReq != 0)
	n.Note = signingNote(n.Signing)
	caps := binary.LittleEndian.Uint32(m.words[19:])
	if caps&smb1CapExtSecurity != 0 {
		if len(m.bytes) >= 16 {
			n.ServerGUID = guid(m.bytes[:16])
		}
		return
	}
	ch := int(m.words[33])
	if ch <= len(m.bytes) {
		ss := m.strings(ch, 2, false)
		n.Domain, n.ServerHost = ss[0], ss[1]
	}
}

func (s *session) smb1SetupRequest(m *smb1Msg) {
	ss := s.sessionSetup("smb1")
	w := m.words
	switch len(w) {
	case 24: // extended security: SecurityBlobLength at 14
		bl := int(binary.LittleEndian.Uint16(w[14:]))
		blob := m.bytes[:min(bl, len(m.bytes))]
		s.securityBlob(ss, blob, false)
		strs := m.strings(len(blob), 2, true)
		ss.ClientOS, ss.ClientLanMan = strs[0], strs[1]
	case 26: // NT LM 0.12 with passwords: OEM and Unicode lengths at 14 and 16
		ss.Mechanism = "password"
		oemLen := int(binary.LittleEndian.Uint16(w[14:]))
		uniLen := int(binary.LittleEndian.Uint16(w[16:]))
		if oemLen+uniLen > len(m.bytes) {
			return
		}
		strs := m.strings(oemLen+uniLen, 4, true)
		ss.User, ss.Domain, ss.ClientOS, ss.ClientLanMan = strs[0], strs[1], strs[2], strs[3]
		ss.Anonymous = ss.User == "" && empty(m.bytes[:oemLen+uniLen])
		if uniLen == 0 && oemLen > 0 && !empty(m.bytes[:oemLen]) && s.negSeen && !s.encryptPwd {
			ss.cleartextPwd = true
		}
		if uniLen == 24 {
			ss.NTLMVersion = "v1"
		} else if uniLen > 24 {
			ss.NTLMVersion = "v2"
		}
	case 20: // LAN Manager 2.1: PasswordLength at 14, strings in OEM
		ss.Mechanism = "password"
		pl := int(binary.LittleEndian.Uint16(w[14:]))
		if pl > len(m.bytes) {
			return
		}
		m.unicode = false
		strs := m.strings(pl, 4, true)
		ss.User, ss.Domain, ss.ClientOS, ss.ClientLanMan = strs[0], strs[1], strs[2], strs[3]
		ss.Anonymous = ss.User == "" && empty(m.bytes[:pl])
		if pl > 0 && !empty(m.bytes[:pl]) && s.negSeen && !s.encryptPwd {
			ss.cleartextPwd = true
		}
	}
}

func (s *session) smb1SetupResponse(m *smb1Msg, mt proto.Meta) {
	ss := s.sessionSetup("smb1")
	if len(m.words) >= 6 {
		ss.Guest = binary.LittleEndian.Uint16(m.words[4:])&1 != 0
	}
	at := 0
	if len(m.words) == 8 { // extended security: SecurityBlobLength at 6
		bl := int(binary.LittleEndian.Uint16(m.words[6:]))
		blob := m.bytes[:min(bl, len(m.bytes))]
		s.securityBlob(ss, blob, true)
		at = len(blob)
	}
	if len(m.words) >= 6 {
		strs := m.strings(at, 3, true)
		ss.ServerOS, ss.ServerLanMan, ss.ServerDomain = strs[0], strs[1], strs[2]
	}
	if m.status == statusMoreProcess {
		return
	}
	ss.Status = statusName(m.status)
	ss.meta = mt
	s.finish(mt)
}

// empty says whether a password field is absent in substance: all NULs.
func empty(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func signing(enabled, required bool) string {
	switch {
	case required:
		return "required"
	case enabled:
		return "enabled"
	}
	return "disabled"
}

func signingNote(sig string) string {
	switch sig {
	case "enabled":
		return "signing not required: messages can be relayed or altered"
	case "disabled":
		return "signing disabled: messages can be relayed or altered"
	}
	return ""
}

func smb1CommandName(c byte) string {
	switch c {
	case 0x04:
		return "close"
	case 0x24:
		return "locking"
	case 0x25:
		return "trans"
	case 0x2e:
		return "read"
	case 0x2f:
		return "write"
	case 0x32:
		return "trans2"
	case 0x71:
		return "tree-disconnect"
	case 0x74:
		return "logoff"
	case 0x75:
		return "tree-connect"
	case 0xa0:
		return "nt-trans"
	case 0xa2:
		return "nt-create"
	}
	return "command-0x" + string([]byte{hexDigits[c>>4], hexDigits[c&15]})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// guid formats a GUID in its registry form from its little-endian wire
// layout.
func guid(b []byte) string {
	order := [16]int{3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15}
	out := make([]byte, 0, 36)
	for i, j := range order {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexDigits[b[j]>>4], hexDigits[b[j]&15])
	}
	return string(out)
}
