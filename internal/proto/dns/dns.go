// Package dns dissects DNS over UDP and TCP, and its link-local cousins
// mDNS (UDP 5353) and LLMNR (UDP 5355). Unicast DNS tells which device
// resolves names through which server and what it looks up; mDNS and LLMNR
// responses carry the names devices give themselves, one of the few places
// an unmanaged medical device states its host name.
//
// Messages are decoded with gopacket's DNS layer, reused through a pool.
// On a busy resolver the package keeps its output small: one observation
// per query/response pair (matched by id and question), one per distinct
// announcement on multicast flows, and a per-flow summary when a flow
// carried more than one exchange. The package depends only on proto, event
// and gopacket.
package dns

import (
	"encoding/binary"
	"sync"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/heir-emd/heir/internal/proto"
)

// Name is the protocol name carried in observations.
const Name = "dns"

const headerLen = 12

// Well-known ports of the variants.
const (
	portDNS   = 53
	portMDNS  = 5353
	portLLMNR = 5355
)

// decoders reuses gopacket DNS structs (their record slices and name
// buffer) across messages. A pool rather than one struct keeps a dissector
// safe if two engines ever share it.
type decoders struct{ pool sync.Pool }

func newDecoders() *decoders {
	return &decoders{pool: sync.Pool{New: func() any { return new(layers.DNS) }}}
}

// decode decodes msg into a pooled struct and calls fn with it and
// gopacket's error; gopacket keeps the records it decoded before an error,
// so fn sees a partial message when counts lie or the capture was cut.
// The struct is only valid during fn.
func (d *decoders) decode(msg []byte, fn func(m *layers.DNS, err error)) {
	m := d.pool.Get().(*layers.DNS)
	defer func() {
		if cap(m.Answers) > 1024 || cap(m.Questions) > 1024 || cap(m.Additionals) > 1024 || cap(m.Authorities) > 1024 {
			// A hostile message can grow the slices to 64k records;
			// do not keep that in the pool.
			return
		}
		d.pool.Put(m)
	}()
	var err error
	func() {
		defer func() {
			// gopacket is third-party code fed hostile input: a panic
			// in it must cost one message, not the sensor.
			if r := recover(); r != nil {
				err = errPanic
				m.Questions, m.Answers, m.Authorities, m.Additionals = m.Questions[:0], m.Answers[:0], m.Authorities[:0], m.Additionals[:0]
			}
		}()
		err = m.DecodeFromBytes(msg, gopacket.NilDecodeFeedback)
	}()
	fn(m, err)
}

type decodeError string

func (e decodeError) Error() string { return string(e) }

const errPanic = decodeError("decoder panicked")

// plausible checks the header: a known opcode, a response code in the
// assigned range, and questions the message could hold (each takes at
// least 5 bytes). Record counts are not held against the length: captures
// cut at the snap length keep the header of a long answer.
func plausible(msg []byte) bool {
	if len(msg) < headerLen || !plausibleHeader(msg) {
		return false
	}
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	rr := int(binary.BigEndian.Uint16(msg[6:])) + int(binary.BigEndian.Uint16(msg[8:])) + int(binary.BigEndian.Uint16(msg[10:]))
	if msg[2]&0x80 == 0 && qd == 0 {
		return false // a query asks something
	}
	return (qd > 0 || rr > 0) && 5*qd <= len(msg)-headerLen
}

// plausibleHeader applies the header checks that do not need the rest of
// the message.
func plausibleHeader(h []byte) bool {
	op := h[2] >> 3 & 0xf
	rcode := h[3] & 0xf
	if h[2]&0x80 == 0 && rcode != 0 {
		return false // only responses carry a response code
	}
	return (op <= 2 || op == 4 || op == 5) && rcode <= 10
}

// recognise decides whether msg, a whole message, is DNS: the header is
// plausible and the first question (or, without questions, the first
// record) decodes with a known class. It returns whether msg is a
// response.
func (d *decoders) recognise(msg []byte) (ok, response bool) {
	if !plausible(msg) {
		return false, false
	}
	d.decode(msg, func(m *layers.DNS, err error) {
		response = m.QR
		switch {
		case len(m.Questions) > 0:
			q := &m.Questions[0]
			ok = knownClass(uint16(q.Class)) && !netbiosName(q.Name)
		case m.QDCount == 0 && len(m.Answers) > 0:
			ok = knownClass(uint16(m.Answers[0].Class))
		}
	})
	return ok, response
}

// knownClass accepts IN, CH, HS and ANY, with mDNS's unicast-response or
// cache-flush bit.
func knownClass(c uint16) bool {
	switch c & 0x7fff {
	case 1, 3, 4, 255:
		return true
	}
	return false
}

// netbiosName says whether a question name is NetBIOS's first-level
// encoding (a 32-character label): NetBIOS name service shares DNS's
// format but is another protocol.
func netbiosName(n []byte) bool {
	if len(n) < 32 || (len(n) > 32 && n[32] != '.') {
		return false
	}
	return netbiosEncoded(n[:32])
}

// netbiosEncoded says whether 32 bytes are NetBIOS first-level encoding:
// letters A–P. A few other bytes are tolerated, so that a damaged NetBIOS
// packet is still told apart from DNS, whose labels are never written in
// that alphabet.
func netbiosEncoded(label []byte) bool {
	if len(label) != 32 {
		return false
	}
	bad := 0
	for _, c := range label {
		if c < 'A' || c > 'P' {
			bad++
		}
	}
	return bad <= 8
}

// variant says which member of the family a flow speaks, from its ports:
// the message format is the same, what a message means is not.
type variant uint8

const (
	unicast variant = iota
	mdns
	llmnr
)

func (v variant) String() string {
	switch v {
	case mdns:
		return "mdns"
	case llmnr:
		return "llmnr"
	}
	return ""
}

func variantOf(c *proto.Conn) variant {
	switch {
	case c.Client.Port == portMDNS || c.Server.Port == portMDNS:
		return mdns
	case c.Client.Port == portLLMNR || c.Server.Port == portLLMNR:
		return llmnr
	}
	return unicast
}

// UDP is the dissector of DNS, mDNS and LLMNR over UDP.
type UDP struct{ dec *decoders }

// NewUDP returns the UDP dissector.
func NewUDP() *UDP { return &UDP{dec: newDecoders()} }

func (d *UDP) Name() string               { return Name }
func (d *UDP) Transport() proto.Transport { return proto.UDP }
func (d *UDP) Ports() []uint16            { return []uint16{portDNS, portMDNS, portLLMNR} }

// Probe recognises one datagram. A response travelling towards the
// engine's server means the engine guessed the roles wrong (a capture that
// starts with an answer), except on mDNS and LLMNR where answers go to a
// multicast group that is no client.
func (d *UDP) Probe(c *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	ok, resp := d.dec.recognise(data)
	if !ok {
		return proto.No
	}
	if resp && dir == proto.ToServer && variantOf(c) == unicast {
		return proto.YesReversed
	}
	return proto.Yes
}

func (d *UDP) New(c *proto.Conn, out proto.Sink) proto.Session {
	return &udpSession{s: newSession(d.dec, c, out)}
}

type udpSession struct{ s *session }

func (u *udpSession) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	u.s.message(dir, data, m)
	return len(data), false
}

func (u *udpSession) Gap(proto.Dir, int) {}
func (u *udpSession) End(m proto.Meta)   { u.s.end(m) }

// TCP is the dissector of DNS over TCP (RFC 1035 section 4.2.2: each
// message preceded by its 2-byte length).
type TCP struct{ dec *decoders }

// NewTCP returns the TCP dissector.
func NewTCP() *TCP { return &TCP{dec: newDecoders()} }

func (d *TCP) Name() string               { return Name }
func (d *TCP) Transport() proto.Transport { return proto.TCP }
func (d *TCP) Ports() []uint16            { return []uint16{portDNS} }

func (d *TCP) Probe(c *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	if len(data) < 2 {
		return proto.Unsure
	}
	n := int(binary.BigEndian.Uint16(data))
	if n < headerLen {
		return proto.No
	}
	msg := data[2:]
	if len(msg) < n {
		if len(msg) >= headerLen && !plausibleHeader(msg) {
			return proto.No
		}
		return proto.Unsure
	}
	ok, resp := d.dec.recognise(msg[:n])
	switch {
	case !ok:
		return proto.No
	case resp && dir == proto.ToServer:
		return proto.YesReversed
	}
	return proto.Yes
}

func (d *TCP) New(c *proto.Conn, out proto.Sink) proto.Session {
	return &tcpSession{s: newSession(d.dec, c, out)}
}

type tcpSession struct {
	s    *session
	lost [2]bool
}

func (t *tcpSession) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	if t.lost[dir] {
		// Message boundaries are gone after a gap: a length read from
		// the middle of a message would be garbage.
		return len(data), t.lost[0] && t.lost[1]
	}
	off := 0
	for len(data)-off >= 2 {
		n := int(binary.BigEndian.Uint16(data[off:]))
		if n < headerLen {
			t.s.stats.Malformed++
			t.lost[dir] = true
			return len(data), t.lost[0] && t.lost[1]
		}
		if len(data)-off-2 < n {
			break // wait for the rest; at most 64 KiB is held
		}
		t.s.message(dir, data[off+2:off+2+n], m)
		off += 2 + n
	}
	return off, false
}

func (t *tcpSession) Gap(dir proto.Dir, n int) { t.lost[dir] = true }
func (t *tcpSession) End(m proto.Meta)         { t.s.end(m) }
