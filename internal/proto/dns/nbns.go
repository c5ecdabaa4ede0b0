package dns

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// NBNSName is the protocol name of the NetBIOS name service dissector.
const NBNSName = "nbns"

// NBNS is the dissector of the NetBIOS name service (RFC 1002, UDP 137):
// Windows hosts and many embedded devices register, refresh and answer
// for their NetBIOS names there, by broadcast, every few minutes. It uses
// DNS's message format with encoded names, and is parsed by hand here:
// its node-status type (0x21) is DNS's SRV, which a DNS decoder would
// misread.
type NBNS struct{}

// NewNBNS returns the NetBIOS name service dissector.
func NewNBNS() *NBNS { return &NBNS{} }

func (d *NBNS) Name() string               { return NBNSName }
func (d *NBNS) Transport() proto.Transport { return proto.UDP }
func (d *NBNS) Ports() []uint16            { return []uint16{137} }

// NBNS opcodes (RFC 1002 section 4.2.1.1).
var nbOpcodes = [16]string{0: "query", 5: "registration", 6: "release", 7: "wack", 8: "refresh", 9: "refresh"}

// Probe accepts a message with a known opcode whose first name (question,
// or record for a response without questions) is a NetBIOS-encoded name.
func (d *NBNS) Probe(c *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	var m nbMsg
	if !m.parse(data) || len(m.names) == 0 {
		return proto.No
	}
	return proto.Yes
}

func (d *NBNS) New(c *proto.Conn, out proto.Sink) proto.Session {
	return &nbnsSession{conn: c, out: out}
}

// Bounds on one message: names kept from a node status answer, and
// records read.
const (
	maxNBNames   = 16
	maxNBRecords = 16
)

type nbName struct {
	name   string
	suffix byte
	typ    uint16
	group  bool
	addrs  []netip.Addr
}

type nbMsg struct {
	id       uint16
	response bool
	opcode   byte
	rcode    byte
	names    []nbName // questions first, then records
	status   []NBNSEntry
	unitID   string
}

// parse reads a whole message; false when it is not NBNS.
func (m *nbMsg) parse(b []byte) bool {
	if len(b) < headerLen {
		return false
	}
	m.id = binary.BigEndian.Uint16(b)
	m.response = b[2]&0x80 != 0
	m.opcode = b[2] >> 3 & 0xf
	m.rcode = b[3] & 0xf
	if nbOpcodes[m.opcode] == "" {
		return false
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	rr := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:])) + int(binary.BigEndian.Uint16(b[10:]))
	if qd+rr == 0 || qd > 1 {
		return false
	}
	off := headerLen
	for i := 0; i < qd; i++ {
		n, next, ok := nbReadName(b, off)
		if !ok || next+4 > len(b) {
			return false
		}
		n.typ = binary.BigEndian.Uint16(b[next:])
		m.names = append(m.names, n)
		off = next + 4
	}
	for i := 0; i < rr && i < maxNBRecords; i++ {
		n, next, ok := nbReadName(b, off)
		if !ok || next+10 > len(b) {
			return len(m.names) > 0
		}
		n.typ = binary.BigEndian.Uint16(b[next:])
		rdl := int(binary.BigEndian.Uint16(b[next+8:]))
		rd := b[next+10 : min(next+10+rdl, len(b))]
		switch n.typ {
		case 0x20: // NB: entries of flags (G bit 0x8000) and an IPv4 address
			for j := 0; j+6 <= len(rd) && j < 6*8; j += 6 {
				n.group = rd[j]&0x80 != 0
				n.addrs = append(n.addrs, netip.AddrFrom4([4]byte(rd[j+2:j+6])))
			}
		case 0x21: // NBSTAT: count, then 18-byte names, then the unit id
			if len(rd) > 0 {
				cnt := int(rd[0])
				p := 1
				for j := 0; j < cnt && p+18 <= len(rd); j++ {
					if len(m.status) < maxNBNames {
						m.status = append(m.status, NBNSEntry{
							Name:   nbText(rd[p : p+15]),
							Suffix: hex2(rd[p+15]),
							Group:  rd[p+16]&0x80 != 0,
						})
					}
					p += 18
				}
				if p+6 <= len(rd) {
					m.unitID = hexColon(rd[p : p+6])
				}
			}
		}
		m.names = append(m.names, n)
		off = next + 10 + rdl
		if off > len(b) {
			break
		}
	}
	return true
}

// nbReadName reads an encoded NetBIOS name at off, or a compression
// pointer to one (registrations point their record at the question);
// pointers are followed once, so they cannot loop.
func nbReadName(b []byte, off int) (nbName, int, bool) {
	next := -1
	if off+2 <= len(b) && b[off]&0xc0 == 0xc0 {
		next = off + 2
		off = int(binary.BigEndian.Uint16(b[off:]) & 0x3fff)
	}
	if off+34 > len(b) || b[off] != 32 {
		return nbName{}, 0, false
	}
	if !netbiosEncoded(b[off+1 : off+33]) {
		return nbName{}, 0, false
	}
	var raw [16]byte
	for i := range raw {
		hi, lo := b[off+1+2*i]-'A', b[off+2+2*i]-'A'
		if hi > 15 || lo > 15 {
			// A damaged character in an otherwise NetBIOS-encoded name
			// (netbiosEncoded tolerates a few): shown as '?'.
			raw[i] = '?'
			continue
		}
		raw[i] = hi<<4 | lo
	}
	p := off + 33
	for steps := 0; ; steps++ {
		if p >= len(b) || steps > 16 || b[p]&0xc0 != 0 {
			return nbName{}, 0, false
		}
		l := int(b[p])
		p++
		if l == 0 {
			break
		}
		p += l
	}
	if next < 0 {
		next = p
	}
	return nbName{name: nbText(raw[:15]), suffix: raw[15]}, next, true
}

// nbText makes a NetBIOS name printable, without the padding (spaces, or
// NULs after the wildcard "*").
func nbText(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}

func hex2(c byte) string {
	const hx = "0123456789abcdef"
	return string([]byte{hx[c>>4], hx[c&15]})
}

func hexColon(b []byte) string {
	out := make([]string, len(b))
	for i, c := range b {
		out[i] = hex2(c)
	}
	return strings.Join(out, ":")
}

// NBNSDetail is the detail of every nbns observation.
type NBNSDetail struct {
	// Opcode is "query", "registration", "release", "wack" or "refresh".
	Opcode   string `json:"opcode"`
	Response bool   `json:"response,omitempty"`
	Rcode    int    `json:"rcode,omitempty"`
	// Name and Suffix are the name the message is about (the question,
	// or the first record) and its service byte in hex ("00"
	// workstation, "20" file server, "1c" domain controllers …).
	Name   string `json:"name"`
	Suffix string `json:"suffix"`
	// Type is "NB" (address) or "NBSTAT" (node status).
	Type string `json:"type"`
	// Group says the name is a group (workgroup or domain) name.
	Group bool `json:"group,omitempty"`
	// Addresses are the IPv4 addresses NB records give the name.
	Addresses []string `json:"addresses,omitempty"`
	// Names are the names a node status answer lists; UnitID the MAC
	// address it reports.
	Names  []NBNSEntry `json:"names,omitempty"`
	UnitID string      `json:"unit_id,omitempty"`
}

// NBNSEntry is one name of a node status answer.
type NBNSEntry struct {
	Name   string `json:"name"`
	Suffix string `json:"suffix"`
	Group  bool   `json:"group,omitempty"`
}

type nbnsSession struct {
	conn *proto.Conn
	out  proto.Sink
	seen map[uint64]struct{}
	told map[string]struct{}
}

// Feed reports each distinct message once per flow: hosts repeat the
// same broadcasts every few seconds.
func (s *nbnsSession) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	var msg nbMsg
	if !msg.parse(data) || len(msg.names) == 0 {
		return len(data), false
	}
	h := uint64(fnvOffset)
	h = hashU16(h, uint16(data[2])<<8|uint16(data[3]))
	h = hashName(h, data[headerLen:])
	if s.seen == nil {
		s.seen = map[uint64]struct{}{}
	}
	if _, ok := s.seen[h]; ok {
		return len(data), false
	}
	if len(s.seen) >= maxSeen {
		clear(s.seen)
	}
	s.seen[h] = struct{}{}
	first := msg.names[0]
	d := &NBNSDetail{Opcode: nbOpcodes[msg.opcode], Response: msg.response, Rcode: int(msg.rcode),
		Name: first.name, Suffix: hex2(first.suffix), Type: "NB", Names: msg.status, UnitID: msg.unitID}
	if first.typ == 0x21 {
		d.Type = "NBSTAT"
	}
	src, _ := s.conn.Ends(dir)
	var fs []event.Fact
	for _, n := range msg.names {
		for _, a := range n.addrs {
			if len(d.Addresses) < 8 {
				d.Addresses = append(d.Addresses, a.String())
			}
			d.Group = d.Group || n.group
			// A name its owner registers, refreshes or confirms for
			// its own address names the sender.
			if a == src.IP && msg.opcode != 6 && msg.rcode == 0 && (msg.response || msg.opcode != 0) {
				fs = s.nameFact(fs, n.name, n.suffix, n.group)
			}
		}
	}
	if msg.response && msg.rcode == 0 {
		for _, n := range msg.status {
			fs = s.nameFact(fs, n.Name, unhex(n.Suffix), n.Group)
		}
	}
	o := s.conn.Observation(dir, nbKind(&msg, d.Type), m)
	o.Detail = d
	o.Facts = fs
	s.out.Observe(o)
	return len(data), false
}

// nameFact turns one of the sender's own names into a fact: a unique
// workstation or server name is its host name, a group workstation name
// its workgroup or domain.
func (s *nbnsSession) nameFact(fs []event.Fact, name string, suffix byte, group bool) []event.Fact {
	if name == "" || strings.HasPrefix(name, "*") || strings.HasPrefix(name, "\x01") {
		return fs
	}
	attr, conf := event.AttrHostname, 0.8
	switch {
	case !group && (suffix == 0x00 || suffix == 0x20):
	case group && suffix == 0x00:
		attr, conf = event.AttrDomain, 0.6
	default:
		return fs
	}
	k := string(attr) + ":" + name
	if s.told == nil {
		s.told = map[string]struct{}{}
	}
	if _, ok := s.told[k]; ok || len(s.told) >= maxSeen {
		return fs
	}
	s.told[k] = struct{}{}
	return append(fs, event.Fact{About: event.AboutSrc, Attr: attr, Value: name, Confidence: conf})
}

func unhex(s string) byte {
	var v byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | (c - '0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | (c - 'a' + 10)
		}
	}
	return v
}

func nbKind(m *nbMsg, typ string) string {
	switch {
	case typ == "NBSTAT" && m.response:
		return "node-status"
	case m.response:
		return "response"
	}
	return nbOpcodes[m.opcode]
}

func (s *nbnsSession) Gap(proto.Dir, int) {}
func (s *nbnsSession) End(proto.Meta)     {}
