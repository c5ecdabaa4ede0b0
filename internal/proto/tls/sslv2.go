package tls

import (
	"github.com/heir-emd/heir/internal/proto"
)

// SSL 2.0 message types (the record header is two bytes, high bit set).
const (
	v2ClientHello = 1
	v2ServerHello = 4
	v2MinHello    = 9 // type, version and three lengths
)

// probeSSLv2 recognises an SSL 2.0 format ClientHello, which old clients
// send so that SSL 2.0 servers understand them too, and an SSL 2.0
// ServerHello. The lengths inside must add up exactly.
func probeSSLv2(dir proto.Dir, data []byte) proto.Verdict {
	if len(data) < 3 {
		return proto.Unsure
	}
	n := int(data[0]&0x7f)<<8 | int(data[1])
	if n < v2MinHello {
		return proto.No
	}
	switch data[2] {
	case v2ClientHello:
		if len(data) < 11 {
			return proto.Unsure
		}
		v := be16(data[3:])
		if v != verSSL2 && (v>>8 != 3 || v&0xff > 3) {
			return proto.No
		}
		cs, sid, chal := int(be16(data[5:])), int(be16(data[7:])), int(be16(data[9:]))
		if cs == 0 || cs%3 != 0 || (sid != 0 && sid != 16) || chal < 16 || chal > 32 || 9+cs+sid+chal != n {
			return proto.No
		}
		return verdict(dir, proto.ToServer)
	case v2ServerHello:
		if len(data) < 13 {
			return proto.Unsure
		}
		if be16(data[5:]) != verSSL2 {
			return proto.No
		}
		cert, cs, conn := int(be16(data[7:])), int(be16(data[9:])), int(be16(data[11:]))
		if cs%3 != 0 || conn < 16 || conn > 32 || 11+cert+cs+conn != n {
			return proto.No
		}
		return verdict(dir, proto.ToClient)
	}
	return proto.No
}

// sslv2 reads a first message in SSL 2.0 format. It returns how many
// bytes it used, or wait when the message is not complete yet.
func (s *session) sslv2(dir proto.Dir, data []byte, m proto.Meta) (n int, wait bool) {
	if len(data) < 2 {
		return 0, true
	}
	l := int(data[0]&0x7f)<<8 | int(data[1])
	if len(data) < 2+l {
		return 0, true
	}
	s.started[dir] = true
	msg := data[2 : 2+l]
	if len(msg) == 0 {
		s.lose(dir)
		return 2 + l, false
	}
	switch {
	case msg[0] == v2ClientHello && dir == proto.ToServer:
		if s.v2ClientHello(msg) {
			s.sides[dir].hello = true
			s.emitClientHello(m, true)
		}
	case msg[0] == v2ServerHello && dir == proto.ToClient:
		s.v2ServerHello(msg, m)
	default:
		s.lose(dir)
	}
	return 2 + l, false
}

// v2ClientHello reads an SSL 2.0 CLIENT-HELLO into s.ch. Three-byte
// cipher kinds whose first byte is zero are TLS suites; the others are
// SSL 2.0 kinds, counted but not named.
func (s *session) v2ClientHello(msg []byte) bool {
	r := reader{b: msg[1:]}
	v := r.u16()
	cs, sid, chal := int(r.u16()), int(r.u16()), int(r.u16())
	specs := r.bytes(cs)
	r.bytes(sid)
	r.bytes(chal)
	if r.bad || cs%3 != 0 {
		return false
	}
	s.ch = clientHello{version: v}
	s.v2suites = s.v2suites[:0]
	for i := 0; i+2 < len(specs); i += 3 {
		if specs[i] == 0 {
			s.v2suites = append(s.v2suites, specs[i+1], specs[i+2])
		} else {
			// Keep SSL 2.0 kinds countable without a TLS name.
			s.v2suites = append(s.v2suites, 0xff, 0xff)
		}
	}
	s.ch.ciphers = s.v2suites
	return true
}

// v2ServerHello reads an SSL 2.0 SERVER-HELLO: the server speaks only
// SSL 2.0, and everything after it is encrypted.
func (s *session) v2ServerHello(msg []byte, m proto.Meta) {
	r := reader{b: msg[1:]}
	r.u8() // session id hit
	certType := r.u8()
	v := r.u16()
	certLen, cs, connLen := int(r.u16()), int(r.u16()), int(r.u16())
	cert := r.bytes(certLen)
	specs := r.bytes(cs)
	r.bytes(connLen)
	sd := &s.sides[proto.ToClient]
	sd.hello, sd.ccs = true, true
	// The client's next message (CLIENT-MASTER-KEY) is SSL 2.0 too, and
	// tells nothing more.
	s.sides[proto.ToServer].ccs = true
	if r.bad {
		return
	}
	d := &ServerHello{Version: VersionName(v), SSLv2: true}
	if len(specs) >= 3 {
		d.CipherSuite = sslv2SuiteName(uint32(specs[0])<<16 | uint32(specs[1])<<8 | uint32(specs[2]))
		d.WeakCipher = weakSuiteReasons(d.CipherSuite)
	}
	s.emitServer(m, d, v)
	if certType == 1 && len(cert) > 0 { // X.509
		s.emitChain(proto.ToClient, [][]byte{cert}, 0, m)
	}
}
