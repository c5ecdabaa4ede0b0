package smb

import (
	"encoding/binary"

	"github.com/heir-emd/heir/internal/proto"
)

// SMB2 commands read here ([MS-SMB2] 2.2.1).
const (
	smb2Negotiate    = 0
	smb2SessionSetup = 1
)

const (
	smb2FlagResponse   = 0x1
	smb2SignEnabled    = 0x1
	smb2SignRequired   = 0x2
	smb2SessionGuest   = 0x1
	smb2SessionNull    = 0x2
	smb2SessionEncrypt = 0x4
	dialectWildcard    = 0x02ff
	dialect311         = 0x0311
	maxContexts        = 16
)

func (s *session) smb2(dir proto.Dir, msg []byte, mt proto.Meta) {
	if len(msg) < smb2HeaderLen || binary.LittleEndian.Uint16(msg[4:]) != smb2HeaderLen {
		s.finish(mt)
		return
	}
	cmd := binary.LittleEndian.Uint16(msg[12:])
	reply := binary.LittleEndian.Uint32(msg[16:])&smb2FlagResponse != 0
	status := binary.LittleEndian.Uint32(msg[8:])
	body := msg[smb2HeaderLen:]
	switch cmd {
	case smb2Negotiate:
		if reply {
			s.smb2NegotiateResponse(msg, body, mt)
		} else {
			s.smb2NegotiateRequest(msg, body)
		}
	case smb2SessionSetup:
		if reply {
			s.smb2SetupResponse(msg, body, status, mt)
		} else {
			s.smb2SetupRequest(msg, body)
		}
	default:
		s.other(dir, "smb2", smb2CommandName(cmd), reply, mt)
	}
}

func (s *session) smb2NegotiateRequest(msg, body []byte) {
	n := s.negotiation()
	if len(body) < 36 {
		return
	}
	count := int(binary.LittleEndian.Uint16(body[2:]))
	n.ClientSigning = signing(true, binary.LittleEndian.Uint16(body[4:])&smb2SignRequired != 0)
	n.Dialects = n.Dialects[:0]
	has311 := false
	for i := 0; i < count && i < maxDialects && 36+2*i+2 <= len(body); i++ {
		d := binary.LittleEndian.Uint16(body[36+2*i:])
		n.Dialects = append(n.Dialects, dialectName(d))
		has311 = has311 || d == dialect311
	}
	n.OnlySMB1 = false
	if has311 {
		off := int(binary.LittleEndian.Uint32(body[28:]))
		cnt := int(binary.LittleEndian.Uint16(body[32:]))
		s.contexts(n, msg, off, cnt)
	}
}

func (s *session) smb2NegotiateResponse(msg, body []byte, mt proto.Meta) {
	n := s.negotiation()
	if len(body) < 64 {
		return
	}
	d := binary.LittleEndian.Uint16(body[4:])
	if d == dialectWildcard {
		// The answer to an SMB1 NEGOTIATE offering "SMB 2.???": the
		// client will negotiate again in SMB2.
		n.Upgraded = true
		return
	}
	s.negSeen = true
	n.meta = mt
	n.Upgraded = n.Upgraded || s.smb1Offer
	n.Dialect = dialectName(d)
	n.Version = "smb2"
	if d >= 0x0300 {
		n.Version = "smb3"
	}
	n.smb1Chosen = false
	n.OnlySMB1 = false
	sec := binary.LittleEndian.Uint16(body[2:])
	n.Signing = signing(sec&smb2SignEnabled != 0, sec&smb2SignRequired != 0)
	n.Note = signingNote(n.Signing)
	n.ServerGUID = guid(body[8:24])
	if d == dialect311 {
		// The server's choice replaces the client's offer.
		n.Ciphers, n.SigningAlgorithms = nil, nil
		cnt := int(binary.LittleEndian.Uint16(body[6:]))
		off := int(binary.LittleEndian.Uint32(body[60:]))
		s.contexts(n, msg, off, cnt)
	}
}

// contexts reads SMB 3.1.1 negotiate contexts ([MS-SMB2] 2.2.3.1): each a
// type, a data length, 4 reserved bytes and the data, 8-byte aligned from
// the header; off is from the header's start.
func (s *session) contexts(n *Negotiate, msg []byte, off, cnt int) {
	for i := 0; i < cnt && i < maxContexts; i++ {
		if off < smb2HeaderLen || off+8 > len(msg) {
			return
		}
		typ := binary.LittleEndian.Uint16(msg[off:])
		l := int(binary.LittleEndian.Uint16(msg[off+2:]))
		if off+8+l > len(msg) {
			return
		}
		data := msg[off+8 : off+8+l]
		switch typ {
		case 2: // ENCRYPTION_CAPABILITIES: count, cipher ids
			n.Ciphers = ids(data, cipherName)
		case 8: // SIGNING_CAPABILITIES: count, algorithm ids
			n.SigningAlgorithms = ids(data, signingAlgName)
		case 5: // NETNAME_NEGOTIATE_CONTEXT_ID: the server's name
			n.ServerName = utf16le(data)
		}
		off += 8 + l
		off = (off + 7) &^ 7
	}
}

func ids(data []byte, name func(uint16) string) []string {
	if len(data) < 2 {
		return nil
	}
	c := int(binary.LittleEndian.Uint16(data))
	var out []string
	for i := 0; i < c && i < 8 && 2+2*i+2 <= len(data); i++ {
		out = append(out, name(binary.LittleEndian.Uint16(data[2+2*i:])))
	}
	return out
}

func (s *session) smb2SetupRequest(msg, body []byte) {
	ss := s.sessionSetup("smb2")
	if len(body) < 24 {
		return
	}
	off := int(binary.LittleEndian.Uint16(body[12:]))
	l := int(binary.LittleEndian.Uint16(body[14:]))
	if blob, ok := slice(msg, off, l); ok {
		s.securityBlob(ss, blob, false)
	}
}

func (s *session) smb2SetupResponse(msg, body []byte, status uint32, mt proto.Meta) {
	ss := s.sessionSetup("smb2")
	if len(body) >= 8 {
		flags := binary.LittleEndian.Uint16(body[2:])
		ss.Guest = ss.Guest || flags&smb2SessionGuest != 0
		ss.Anonymous = ss.Anonymous || flags&smb2SessionNull != 0
		ss.Encrypted = ss.Encrypted || flags&smb2SessionEncrypt != 0
		off := int(binary.LittleEndian.Uint16(body[4:]))
		l := int(binary.LittleEndian.Uint16(body[6:]))
		if blob, ok := slice(msg, off, l); ok {
			s.securityBlob(ss, blob, true)
		}
	}
	if status == statusMoreProcess {
		return
	}
	ss.Status = statusName(status)
	ss.meta = mt
	s.finish(mt)
}

// slice returns msg[off:off+l] when it lies inside msg.
func slice(msg []byte, off, l int) ([]byte, bool) {
	if off < 0 || l < 0 || off > len(msg) || l > len(msg)-off {
		return nil, false
	}
	return msg[off : off+l], true
}

func dialectName(d uint16) string {
	switch d {
	case 0x0202:
		return "2.0.2"
	case 0x0210:
		return "2.1"
	case 0x0222:
		return "2.2.2"
	case 0x0224:
		return "2.2.4"
	case 0x0300:
		return "3.0"
	case 0x0302:
		return "3.0.2"
	case 0x0310:
		return "3.1"
	case 0x0311:
		return "3.1.1"
	case dialectWildcard:
		return "2.???"
	}
	return "0x" + string([]byte{hexDigits[d>>12], hexDigits[d>>8&15], hexDigits[d>>4&15], hexDigits[d&15]})
}

func cipherName(c uint16) string {
	switch c {
	case 1:
		return "AES-128-CCM"
	case 2:
		return "AES-128-GCM"
	case 3:
		return "AES-256-CCM"
	case 4:
		return "AES-256-GCM"
	}
	return "cipher-" + itoa(int(c))
}

func signingAlgName(c uint16) string {
	switch c {
	case 0:
		return "HMAC-SHA256"
	case 1:
		return "AES-CMAC"
	case 2:
		return "AES-GMAC"
	}
	return "signing-" + itoa(int(c))
}

func smb2CommandName(c uint16) string {
	names := [...]string{"negotiate", "session-setup", "logoff", "tree-connect", "tree-disconnect", "create",
		"close", "flush", "read", "write", "lock", "ioctl", "cancel", "echo", "query-directory",
		"change-notify", "query-info", "set-info", "oplock-break"}
	if int(c) < len(names) {
		return names[c]
	}
	return "command-" + itoa(int(c))
}
