package tls

import (
	"github.com/heir-emd/heir/internal/proto"
)

// Record content types.
const (
	recCCS       = 20
	recAlert     = 21
	recHandshake = 22
	recAppData   = 23
	recHeartbeat = 24
	recACK       = 26 // DTLS 1.3
)

// maxRecord is the largest record body allowed: 2^14 plus the expansion
// TLS 1.2 permits for compression and encryption.
const maxRecord = 1<<14 + 2048

// Dissector recognises TLS (and SSL 3.0, and the SSL 2.0 hello format)
// on TCP.
type Dissector struct{ certs *certCache }

// New returns the TLS dissector.
func New() *Dissector { return &Dissector{certs: newCertCache()} }

func (*Dissector) Name() string               { return "tls" }
func (*Dissector) Transport() proto.Transport { return proto.TCP }

// Ports are the usual TLS services: HTTPS, LDAPS, IMAPS, POP3S, SMTPS,
// DICOM over TLS (2762), MQTT over TLS (8883) and syslog over TLS (6514).
func (*Dissector) Ports() []uint16 {
	return []uint16{443, 8443, 636, 993, 995, 465, 2762, 8883, 6514}
}

// Probe accepts a stream that starts with a handshake record carrying a
// ClientHello (or, from the other side, a ServerHello), or with an SSL 2.0
// format hello.
func (*Dissector) Probe(_ *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	if len(data) == 0 {
		return proto.Unsure
	}
	if data[0]&0x80 != 0 {
		return probeSSLv2(dir, data)
	}
	if data[0] != recHandshake {
		return proto.No
	}
	if len(data) >= 2 && data[1] != 3 {
		return proto.No
	}
	if len(data) >= 3 && data[2] > 4 {
		return proto.No
	}
	if len(data) >= 5 {
		if n := int(be16(data[3:])); n == 0 || n > maxRecord {
			return proto.No
		}
	}
	if len(data) < 6 {
		return proto.Unsure
	}
	if len(data) >= 9 && be24(data[6:]) > maxMessage {
		return proto.No
	}
	switch data[5] {
	case hsClientHello:
		if len(data) >= 10 && data[9] != 3 {
			return proto.No // client_version must be SSL 3.0 or later
		}
		return verdict(dir, proto.ToServer)
	case hsServerHello:
		if len(data) >= 10 && data[9] != 3 {
			return proto.No
		}
		return verdict(dir, proto.ToClient)
	}
	return proto.No
}

// verdict says Yes when the message was seen in the direction its sender
// uses, else YesReversed.
func verdict(dir, want proto.Dir) proto.Verdict {
	if dir == want {
		return proto.Yes
	}
	return proto.YesReversed
}

// New starts a session.
func (d *Dissector) New(c *proto.Conn, out proto.Sink) proto.Session {
	s := &session{}
	s.init(c, out, d.Name(), false, d.certs)
	return s
}

// session decodes one TLS flow: records from each direction's stream,
// handshake messages reassembled across records.
type session struct {
	conv
	started  [2]bool   // a record was read: SSL 2.0 format no longer possible
	partial  [2][]byte // a handshake message split across records
	v2suites []byte    // an SSL 2.0 hello's suites, as two-byte codes
}

// Feed reads whole records; it waits for a handshake, alert or
// ChangeCipherSpec record to be complete, and skips encrypted records
// unseen.
func (s *session) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	sd := &s.sides[dir]
	if sd.dead || s.finished() {
		return len(data), s.finished()
	}
	if len(data) == 0 {
		return 0, false
	}
	off := 0
	if !s.started[dir] && data[0]&0x80 != 0 {
		n, wait := s.sslv2(dir, data, m)
		if wait {
			return 0, false
		}
		if sd.dead || s.finished() {
			return len(data), s.finished()
		}
		off = n
	}
	for off < len(data) {
		if len(data)-off < 5 {
			break
		}
		h := data[off:]
		typ, n := h[0], int(be16(h[3:]))
		if typ < recCCS || typ > recHeartbeat || h[1] != 3 || h[2] > 4 || n > maxRecord {
			s.lose(dir)
			return len(data), s.finished()
		}
		s.started[dir] = true
		end := off + 5 + n
		if typ == recAppData || typ == recHeartbeat || sd.ccs {
			// Encrypted: skip it, even beyond what we were given.
			if typ == recAppData {
				sd.appData = true
			}
			off = end
			if s.finished() {
				return off, true
			}
			continue
		}
		if end > len(data) {
			break
		}
		body := data[off+5 : end]
		off = end
		switch typ {
		case recCCS:
			s.changeCipherSpec(dir)
		case recAlert:
			s.alert(dir, body, m)
		case recHandshake:
			s.handshake(dir, body, m)
		}
		if sd.dead || s.finished() {
			return max(off, len(data)), s.finished()
		}
	}
	return off, false
}

// handshake adds a handshake record's body to dir's message stream and
// handles every message it completes. A message inside one record (the
// usual case) is read in place; only a split one is copied.
func (s *session) handshake(dir proto.Dir, body []byte, m proto.Meta) {
	p := &s.partial[dir]
	if len(*p) == 0 {
		rest := s.messages(dir, body, m)
		if len(rest) > 0 {
			*p = append((*p)[:0], rest...)
		}
		return
	}
	*p = append(*p, body...)
	rest := s.messages(dir, *p, m)
	*p = (*p)[:copy(*p, rest)]
}

// messages handles the complete messages at the start of b and returns
// the incomplete rest.
func (s *session) messages(dir proto.Dir, b []byte, m proto.Meta) []byte {
	for len(b) >= 4 {
		n := be24(b[1:])
		if n > maxMessage {
			s.lose(dir)
			return nil
		}
		if len(b) < 4+n {
			break
		}
		s.message(dir, b[0], b[4:4+n], m)
		b = b[4+n:]
		if s.sides[dir].dead || s.sides[dir].ccs {
			return nil // TLS 1.3: what follows the ServerHello is not ours to read
		}
	}
	return b
}

// lose gives up on dir: its bytes are no longer understood.
func (s *session) lose(dir proto.Dir) {
	s.sides[dir].dead = true
	s.partial[dir] = nil
}

// Gap loses sync with dir: record boundaries are unknown after a hole,
// and guessing them would misread encrypted bytes as messages.
func (s *session) Gap(dir proto.Dir, n int) { s.lose(dir) }

// End has nothing to flush: every observation is emitted when its message
// completes.
func (s *session) End(proto.Meta) {}
