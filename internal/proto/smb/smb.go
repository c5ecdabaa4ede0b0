// Package smb dissects the start of SMB sessions (TCP 445, and 139 behind
// a NetBIOS session request): the dialect negotiation, which shows SMBv1
// still in use, and the session setup, whose clear-text parts name the
// user, the client's workstation and domain, and — in SMB1 — both ends'
// operating systems, the best identification of old Windows-based medical
// workstations. Everything after the session setup is skipped.
//
// The package depends only on proto and event: gopacket has no SMB
// decoder, so messages are parsed here, every length checked against the
// message that holds it.
package smb

import (
	"encoding/binary"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Name is the protocol name carried in observations.
const Name = "smb"

// NetBIOS session service message types (RFC 1002 section 4.3).
const (
	nbMessage         = 0x00
	nbRequest         = 0x81
	nbPositive        = 0x82
	nbNegative        = 0x83
	nbRetarget        = 0x84
	nbKeepAlive       = 0x85
	nbHeaderLen       = 4
	protocolIDLen     = 4
	smb1HeaderLen     = 32
	smb2HeaderLen     = 64
	statusMoreProcess = 0xc0000016
)

// maxMessage is the largest message the session waits for whole: a
// session setup carrying a Kerberos ticket with a large PAC stays well
// below it. Larger messages are skipped unseen.
const maxMessage = 128 << 10

// maxMessages bounds how many messages a session reads before giving up
// on seeing the session setup finish.
const maxMessages = 48

// Protocol identifiers after the NetBIOS header.
var (
	idSMB1      = [4]byte{0xff, 'S', 'M', 'B'}
	idSMB2      = [4]byte{0xfe, 'S', 'M', 'B'}
	idTransform = [4]byte{0xfd, 'S', 'M', 'B'}
	idCompress  = [4]byte{0xfc, 'S', 'M', 'B'}
)

// Dissector recognises SMB by content.
type Dissector struct{}

// New returns the SMB dissector.
func New() *Dissector { return &Dissector{} }

func (d *Dissector) Name() string               { return Name }
func (d *Dissector) Transport() proto.Transport { return proto.TCP }
func (d *Dissector) Ports() []uint16            { return []uint16{445, 139} }

// Probe accepts a NetBIOS session message holding an SMB1, SMB2,
// transform or compression header, or a NetBIOS session request with two
// well-encoded names. SMB headers say whether they are a response, which
// corrects the engine's guess of client and server.
func (d *Dissector) Probe(c *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	if len(data) < nbHeaderLen {
		if len(data) > 0 && data[0] != nbMessage && data[0] != nbRequest {
			return proto.No
		}
		return proto.Unsure
	}
	switch data[0] {
	case nbRequest:
		if dir != proto.ToServer {
			return proto.No
		}
		if len(data) < nbHeaderLen+68 {
			return proto.Unsure
		}
		if _, _, ok := netbiosName(data[nbHeaderLen:]); !ok {
			return proto.No
		}
		return proto.Yes
	case nbMessage:
	default:
		return proto.No
	}
	if len(data) < nbHeaderLen+protocolIDLen {
		return proto.Unsure
	}
	msg := data[nbHeaderLen:]
	var reply bool
	switch [4]byte(msg[:4]) {
	case idSMB1:
		if len(msg) < smb1HeaderLen {
			return proto.Unsure
		}
		reply = msg[9]&0x80 != 0
	case idSMB2:
		if len(msg) < smb2HeaderLen {
			return proto.Unsure
		}
		if binary.LittleEndian.Uint16(msg[4:]) != smb2HeaderLen {
			return proto.No
		}
		reply = binary.LittleEndian.Uint32(msg[16:])&1 != 0
	case idTransform, idCompress:
		return proto.Yes
	default:
		return proto.No
	}
	if reply == (dir == proto.ToServer) {
		return proto.YesReversed
	}
	return proto.Yes
}

func (d *Dissector) New(c *proto.Conn, out proto.Sink) proto.Session {
	return &session{conn: c, out: out}
}

type session struct {
	conn *proto.Conn
	out  proto.Sink

	msgs int
	done bool

	// negotiation
	neg        *Negotiate
	negTold    bool
	smb1Offer  bool // an SMB1 NEGOTIATE was seen
	encryptPwd bool // the SMB1 server asked for encrypted passwords
	negSeen    bool // the server's answer was seen

	// session setup
	setup     *SessionSetup
	setupTold bool
	lastMeta  proto.Meta

	nbt                    *SessionRequest
	toldClient, toldServer bool
	// serverSpoke is set once the server answered in SMB.
	serverSpoke bool
}

func (s *session) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	off := 0
	for !s.done {
		rest := data[off:]
		if len(rest) < nbHeaderLen {
			return off, false
		}
		typ := rest[0]
		var n int
		switch typ {
		case nbMessage:
			// Direct TCP (port 445) uses 24 bits of length.
			n = int(rest[1])<<16 | int(rest[2])<<8 | int(rest[3])
		case nbRequest, nbPositive, nbNegative, nbRetarget, nbKeepAlive:
			n = int(rest[1]&1)<<16 | int(rest[2])<<8 | int(rest[3])
		default:
			// Not NetBIOS framing: the stream is out of step.
			s.finish(m)
			return len(data), true
		}
		whole := len(rest) >= nbHeaderLen+n
		if !whole {
			if typ != nbMessage || n > maxMessage || !s.wants(rest[nbHeaderLen:]) {
				// Skip what we need not read, or cannot hold.
				if typ == nbMessage && len(rest) >= nbHeaderLen+smb2HeaderLen {
					s.message(dir, rest[nbHeaderLen:], m)
				}
				return off + nbHeaderLen + n, s.done
			}
			return off, false
		}
		body := rest[nbHeaderLen : nbHeaderLen+n]
		switch typ {
		case nbMessage:
			s.message(dir, body, m)
		case nbRequest:
			s.sessionRequest(dir, body, m)
		}
		off += nbHeaderLen + n
	}
	return max(off, len(data)), true
}

// wants says whether a message still arriving is one the session must
// read whole; peek is what has arrived of it.
func (s *session) wants(peek []byte) bool {
	if len(peek) < 16 {
		return true // cannot tell yet
	}
	switch [4]byte(peek[:4]) {
	case idSMB1:
		return peek[4] == smb1Negotiate || peek[4] == smb1SessionSetup
	case idSMB2:
		c := binary.LittleEndian.Uint16(peek[12:])
		return c == smb2Negotiate || c == smb2SessionSetup
	}
	return false
}

func (s *session) Gap(dir proto.Dir, n int) {
	// Message boundaries are lost; report what was learnt.
	s.finish(s.lastMeta)
}

func (s *session) End(m proto.Meta) { s.finish(m) }

// message handles one SMB message (possibly only its start, for messages
// that are skipped).
func (s *session) message(dir proto.Dir, msg []byte, m proto.Meta) {
	s.lastMeta = m
	if s.msgs++; s.msgs > maxMessages || len(msg) < protocolIDLen {
		s.finish(m)
		return
	}
	switch [4]byte(msg[:4]) {
	case idSMB1, idSMB2, idTransform, idCompress:
		if dir == proto.ToClient {
			s.serverSpoke = true
		}
	}
	switch [4]byte(msg[:4]) {
	case idSMB1:
		s.smb1(dir, msg, m)
	case idSMB2:
		s.smb2(dir, msg, m)
	case idTransform, idCompress:
		s.other(dir, "smb3", "encrypted", false, m)
	default:
		s.finish(m)
	}
}

// other handles any message but a negotiation or session setup. Seen
// first, it means the capture joined an established session: one
// "message" observation says SMB is spoken and in which version. Seen
// later, the session setup is over (or was missed).
func (s *session) other(dir proto.Dir, version, command string, reply bool, m proto.Meta) {
	if s.neg != nil || s.setup != nil {
		s.finish(m)
		return
	}
	o := s.conn.Observation(dir, "message", m)
	o.Detail = &Message{Version: version, Command: command, Midstream: true}
	o.Facts = s.roleFacts(dir, nil)
	if version == "smb1" {
		o.Weaknesses = []event.Weakness{{Kind: event.WeakSMBv1, About: serverAbout(dir), Detail: "SMBv1 in use"}}
	}
	s.out.Observe(o)
	s.done = true
}

// serverAbout names the server relative to an observation of data sent
// in dir.
func serverAbout(dir proto.Dir) event.About {
	if dir == proto.ToClient {
		return event.AboutSrc
	}
	return event.AboutDst
}

// roleFacts appends, once per flow and side, that the client speaks SMB
// and that the server serves it. The server fact waits for the server to
// answer in SMB: scanners send SMB negotiates to ports that serve
// something else.
func (s *session) roleFacts(dir proto.Dir, fs []event.Fact) []event.Fact {
	if !s.toldClient {
		s.toldClient = true
		cli := event.AboutSrc
		if dir == proto.ToClient {
			cli = event.AboutDst
		}
		fs = append(fs, event.Fact{About: cli, Attr: event.AttrClient, Value: Name, Confidence: 0.9})
	}
	if s.serverSpoke && !s.toldServer {
		s.toldServer = true
		fs = append(fs, event.Fact{About: serverAbout(dir), Attr: event.AttrServer, Value: Name, Confidence: 0.9})
	}
	return fs
}

// finish reports what is still untold and ends the session.
func (s *session) finish(m proto.Meta) {
	if s.done {
		return
	}
	s.done = true
	s.tellNegotiate(m)
	s.tellSetup(m)
}

// Message is the detail of a "message" observation: SMB seen in a
// session whose start was not captured.
type Message struct {
	// Version is "smb1", "smb2" (SMB 2 or 3 header) or "smb3"
	// (encrypted or compressed transform).
	Version string `json:"version"`
	// Command is the first message's command ("create", "read" …).
	Command   string `json:"command"`
	Midstream bool   `json:"midstream"`
}
