package tls

import (
	"github.com/heir-emd/heir/internal/proto"
)

// DTLS header sizes (RFC 6347 §4.1 and §4.2.2).
const (
	dtlsRecordHeader = 13 // type, version, epoch, sequence number, length
	dtlsHSHeader     = 12 // type, length, message_seq, fragment offset and length
)

// DTLSDissector recognises DTLS 1.0 and 1.2 (and OpenSSL's pre-standard
// 0x0100) on UDP. Each datagram carries whole records; handshake
// messages may be fragmented across records and datagrams.
type DTLSDissector struct{ certs *certCache }

// NewDTLS returns the DTLS dissector.
func NewDTLS() *DTLSDissector { return &DTLSDissector{certs: newCertCache()} }

func (*DTLSDissector) Name() string               { return "dtls" }
func (*DTLSDissector) Transport() proto.Transport { return proto.UDP }

// Ports are HTTPS/QUIC-adjacent VPNs (443, 4433), CoAP over DTLS (5684),
// syslog over DTLS (6514), TURN over DTLS (5349) and RD Gateway (3391).
func (*DTLSDissector) Ports() []uint16 { return []uint16{443, 4433, 5684, 6514, 5349, 3391} }

func dtlsVersion(v uint16) bool {
	return v == verDTLS10 || v == verDTLS12 || v == verDTLSBad
}

// Probe accepts a datagram whose first record is an epoch-0 handshake
// record holding a ClientHello, HelloVerifyRequest or ServerHello.
func (*DTLSDissector) Probe(_ *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	if len(data) < dtlsRecordHeader+dtlsHSHeader || data[0] != recHandshake || !dtlsVersion(be16(data[1:])) {
		return proto.No
	}
	if be16(data[3:]) != 0 {
		return proto.No // epoch 0: not yet encrypted
	}
	n := int(be16(data[11:]))
	if n < dtlsHSHeader || dtlsRecordHeader+n > len(data) {
		return proto.No
	}
	hs := data[dtlsRecordHeader:]
	total, off, flen := be24(hs[1:]), be24(hs[6:]), be24(hs[9:])
	if total > maxMessage || off+flen > total || dtlsHSHeader+flen > n {
		return proto.No
	}
	switch hs[0] {
	case hsClientHello:
		return verdict(dir, proto.ToServer)
	case hsServerHello, hsHelloVerifyRequest:
		return verdict(dir, proto.ToClient)
	}
	return proto.No
}

// New starts a session.
func (d *DTLSDissector) New(c *proto.Conn, out proto.Sink) proto.Session {
	s := &dtlsSession{}
	s.init(c, out, d.Name(), true, d.certs)
	for i := range s.frags {
		s.frags[i].seq = -1
	}
	return s
}

// dtlsSession decodes one DTLS flow.
type dtlsSession struct {
	conv
	frags [2]fragments
}

// fragments reassembles one direction's handshake messages. Messages are
// handled in message_seq order; a retransmitted one (seq below next) is
// ignored, and fragments are only accepted in order, which is how
// implementations send them.
type fragments struct {
	next  int // lowest message_seq not yet handled
	seq   int // message being assembled, -1 for none
	typ   byte
	total int
	buf   []byte
}

// Feed reads the records of one datagram.
func (s *dtlsSession) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	sd := &s.sides[dir]
	size := len(data)
	for len(data) >= dtlsRecordHeader && !s.finished() {
		if data[0]&0xe0 == 0x20 {
			// DTLS 1.3 unified header: an encrypted record.
			sd.ccs = true
			break
		}
		typ, epoch, n := data[0], be16(data[3:]), int(be16(data[11:]))
		if typ < recCCS || (typ > recHeartbeat && typ != recACK) || data[1] == 0 || dtlsRecordHeader+n > len(data) {
			break // not a record we understand: drop the rest of the datagram
		}
		body := data[dtlsRecordHeader : dtlsRecordHeader+n]
		data = data[dtlsRecordHeader+n:]
		if epoch != 0 {
			sd.ccs = true
		}
		switch {
		case typ == recAppData:
			sd.appData = true
		case typ == recCCS:
			s.changeCipherSpec(dir)
		case sd.ccs:
		case typ == recAlert:
			s.alert(dir, body, m)
		case typ == recHandshake:
			s.handshake(dir, body, m)
		}
	}
	return size, s.finished()
}

// handshake reads the handshake fragments of one record.
func (s *dtlsSession) handshake(dir proto.Dir, b []byte, m proto.Meta) {
	f := &s.frags[dir]
	for len(b) >= dtlsHSHeader && !s.sides[dir].ccs {
		typ, total, seq := b[0], be24(b[1:]), int(be16(b[4:]))
		off, n := be24(b[6:]), be24(b[9:])
		if dtlsHSHeader+n > len(b) {
			return
		}
		frag := b[dtlsHSHeader : dtlsHSHeader+n]
		b = b[dtlsHSHeader+n:]
		if seq < f.next || total > maxMessage || off+n > total {
			continue
		}
		if off == 0 && n == total {
			s.message(dir, typ, frag, m)
			f.next, f.seq = seq+1, -1
			continue
		}
		if f.seq != seq {
			f.seq, f.typ, f.total, f.buf = seq, typ, total, f.buf[:0]
		}
		if typ != f.typ || total != f.total || off > len(f.buf) {
			continue // inconsistent, or a hole: wait for the retransmission
		}
		if end := off + n; end > len(f.buf) {
			f.buf = append(f.buf, frag[len(f.buf)-off:]...)
		}
		if len(f.buf) == f.total {
			s.message(dir, f.typ, f.buf, m)
			f.next, f.seq, f.buf = seq+1, -1, f.buf[:0]
		}
	}
}

// Gap does not happen on UDP.
func (s *dtlsSession) Gap(proto.Dir, int) {}

// End has nothing to flush.
func (s *dtlsSession) End(proto.Meta) {}
