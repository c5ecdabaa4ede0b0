// Package mqtt dissects MQTT 3.1, 3.1.1 and 5 over TCP: connections
// (client id, credentials present, keep-alive, will), the broker's answer,
// publications (topic, QoS, flags, payload length — the payload itself is
// only glanced at for patient-identifying keys, then skipped), subscriptions
// and their grants. Publications are counted per topic into a per-flow
// summary instead of one observation each, so a flood stays a handful of
// events.
//
// It never keeps a password: a DefaultChecker, if given, sees it once and it
// is forgotten. The package depends only on proto and event.
package mqtt

import (
	"github.com/heir-emd/heir/internal/proto"
)

// DefaultChecker says whether a user name and password pair is a known
// default credential.
type DefaultChecker interface {
	IsDefault(user, password string) bool
}

// Limits bound what a session holds and reports.
type Limits struct {
	// MaxTopics is how many distinct topics a flow counts separately;
	// publications to further topics are counted together.
	MaxTopics int
	// PayloadPeek is how many leading bytes of each PUBLISH payload are
	// checked for patient-identifying keys; the rest is skipped unseen.
	PayloadPeek int
	// PublishHead bounds the topic and properties read from a PUBLISH.
	PublishHead int
	// MaxPacket bounds the bytes read of any other packet; a longer one is
	// read from its start and the rest skipped.
	MaxPacket int
	// MaxControlObs is how many observations other than publications
	// (subscribe, suback …) one flow emits; further ones are only counted.
	MaxControlObs int
}

// DefaultLimits are the limits New uses.
var DefaultLimits = Limits{
	MaxTopics:     64,
	PayloadPeek:   4 << 10,
	PublishHead:   16 << 10,
	MaxPacket:     64 << 10,
	MaxControlObs: 32,
}

// Dissector recognises MQTT.
type Dissector struct {
	lim Limits
	dc  DefaultChecker
}

// New returns the MQTT dissector; dc (nil: no check) is asked whether a
// CONNECT's user name and password are a known default.
func New(dc DefaultChecker) *Dissector { return NewWithLimits(dc, DefaultLimits) }

// NewWithLimits is New with limits; zero fields take the defaults.
func NewWithLimits(dc DefaultChecker, lim Limits) *Dissector {
	d := DefaultLimits
	if lim.MaxTopics > 0 {
		d.MaxTopics = lim.MaxTopics
	}
	if lim.PayloadPeek > 0 {
		d.PayloadPeek = lim.PayloadPeek
	}
	if lim.PublishHead > 0 {
		d.PublishHead = lim.PublishHead
	}
	if lim.MaxPacket > 0 {
		d.MaxPacket = lim.MaxPacket
	}
	if lim.MaxControlObs > 0 {
		d.MaxControlObs = lim.MaxControlObs
	}
	return &Dissector{lim: d, dc: dc}
}

// Name implements proto.Dissector.
func (d *Dissector) Name() string { return "mqtt" }

// Transport implements proto.Dissector.
func (d *Dissector) Transport() proto.Transport { return proto.TCP }

// Ports implements proto.Dissector: MQTT and MQTT over TLS (whose cleartext
// is never seen; listing it only orders the probes).
func (d *Dissector) Ports() []uint16 { return []uint16{1883, 8883} }

// Probe implements proto.Dissector.
//
// A stream that starts with a CONNECT naming the protocol ("MQTT" level 4
// or 5, "MQIsdp" level 3) is MQTT, sent by the client; one that starts with
// a well-formed CONNACK was sent by the server. A stream seen from its
// middle is accepted only on strong evidence: its bytes parse as a chain of
// well-formed packets (valid type and flags, shortest length encoding,
// lengths consistent with the type, valid topic strings) — at least two
// whole packets of which one is distinctive (a PUBLISH with a valid topic, a
// SUBSCRIBE, an UNSUBSCRIBE, a SUBACK), or at least four whole packets —
// and nothing in it is malformed. Packets only a client sends (PINGREQ,
// SUBSCRIBE …) or only a server sends (PINGRESP, SUBACK …) then tell the
// direction; without them the engine's guess stands.
func (d *Dissector) Probe(_ *proto.Conn, dir proto.Dir, data []byte) proto.Verdict {
	if len(data) == 0 {
		return proto.Unsure
	}
	switch data[0] {
	case typConnect << 4:
		switch connectStart(data) {
		case hdrOK:
			return side(dir, proto.ToServer)
		case hdrPartial:
			return proto.Unsure
		}
		return proto.No
	case typConnack << 4:
		c := chain(data, 8)
		switch {
		case c.bad:
			return proto.No
		case c.complete == 0:
			return proto.Unsure
		}
		return side(dir, proto.ToClient)
	}
	c := chain(data, 64)
	switch {
	case c.bad, c.clientOnly > 0 && c.serverOnly > 0:
		return proto.No
	case !(c.complete >= 2 && c.distinctive > 0) && c.complete < 4:
		return proto.Unsure
	case c.clientOnly > 0:
		return side(dir, proto.ToServer)
	case c.serverOnly > 0:
		return side(dir, proto.ToClient)
	}
	return proto.Yes
}

// side is Yes when data seen travelling in dir was sent the way want says,
// YesReversed when the engine had the roles the wrong way round.
func side(dir, want proto.Dir) proto.Verdict {
	if dir == want {
		return proto.Yes
	}
	return proto.YesReversed
}

// New implements proto.Dissector.
func (d *Dissector) New(c *proto.Conn, out proto.Sink) proto.Session {
	return newSession(d, c, out)
}

type hdrVerdict uint8

const (
	hdrBad hdrVerdict = iota
	hdrPartial
	hdrOK
)

// connectStart checks the start of a CONNECT: fixed header, protocol name
// and level, and the reserved connect flag.
func connectStart(b []byte) hdrVerdict {
	rl, hl, st := remainingLength(b[1:], false)
	switch st {
	case lenShort:
		return hdrPartial
	case lenBad:
		return hdrBad
	}
	return connectHeader(b[1+hl:], rl)
}

// connectHeader checks the variable header at the start of a CONNECT body
// of remaining length rl.
func connectHeader(body []byte, rl int) hdrVerdict {
	var want string
	var levels string
	switch {
	case len(body) < 2:
		return hdrPartial
	case body[0] == 0 && body[1] == 4:
		want, levels = "\x00\x04MQTT", "\x04\x05"
	case body[0] == 0 && body[1] == 6:
		want, levels = "\x00\x06MQIsdp", "\x03"
	default:
		return hdrBad
	}
	// name, level, flags, keep-alive
	if rl < len(want)+4 {
		return hdrBad
	}
	n := min(len(body), len(want))
	if string(body[:n]) != want[:n] {
		return hdrBad
	}
	if len(body) < len(want)+2 {
		return hdrPartial
	}
	level, flags := body[len(want)], body[len(want)+1]
	if level != levels[0] && (len(levels) < 2 || level != levels[1]) {
		return hdrBad
	}
	if flags&1 != 0 {
		return hdrBad
	}
	return hdrOK
}

// chainResult describes how far bytes parse as MQTT packets.
type chainResult struct {
	complete    int
	distinctive int
	clientOnly  int
	serverOnly  int
	used        int // bytes of the whole packets
	bad         bool
}

// chain parses up to max packets from the start of b and checks each is
// plausible; a trailing incomplete packet is checked as far as it goes.
func chain(b []byte, max int) chainResult {
	var r chainResult
	for len(b) > 0 && r.complete < max {
		if len(b) < 2 {
			if !validFlags(b[0]>>4, b[0]&0xf) {
				r.bad = true
			}
			return r
		}
		typ, flags := b[0]>>4, b[0]&0xf
		if !validFlags(typ, flags) {
			r.bad = true
			return r
		}
		rl, hl, st := remainingLength(b[1:], true)
		if st == lenShort {
			return r
		}
		if st == lenBad {
			r.bad = true
			return r
		}
		body := b[1+hl:]
		whole := len(body) >= rl
		if whole {
			body = body[:rl]
		}
		ok, distinct := plausible(typ, flags, body, rl, whole)
		if !ok {
			r.bad = true
			return r
		}
		if !whole {
			return r
		}
		r.complete++
		r.used += 1 + hl + rl
		if distinct {
			r.distinctive++
		}
		switch typ {
		case typConnect, typSubscribe, typUnsubscribe, typPingreq:
			r.clientOnly++
		case typConnack, typSuback, typUnsuback, typPingresp:
			r.serverOnly++
		}
		b = b[1+hl+rl:]
	}
	return r
}

// plausible says whether body (the first bytes of a packet of remaining
// length rl; all of it when whole) fits its type, and whether the packet
// is distinctive enough to count as evidence.
func plausible(typ, flags byte, body []byte, rl int, whole bool) (ok, distinct bool) {
	switch typ {
	case typConnect:
		return connectHeader(body, rl) != hdrBad, true
	case typConnack:
		return connackBody(body, rl, whole), true
	case typPublish:
		return publishBody(flags, body, rl)
	case typPuback, typPubrec, typPubrel, typPubcomp:
		if rl < 2 {
			return false, false
		}
		if len(body) >= 2 && body[0] == 0 && body[1] == 0 {
			return false, false // packet id 0 is not allowed
		}
		return true, false
	case typSubscribe, typUnsubscribe:
		return subscribeBody(typ, body, rl, whole), true
	case typSuback:
		return subackBody(body, rl, whole), true
	case typUnsuback:
		if rl < 2 || (len(body) >= 2 && body[0] == 0 && body[1] == 0) {
			return false, false
		}
		return true, false
	case typPingreq, typPingresp:
		return rl == 0, false
	case typDisconnect:
		return true, false
	case typAuth:
		if rl == 0 {
			return true, false
		}
		if len(body) > 0 {
			c := body[0]
			return c == 0 || c == 0x18 || c == 0x19, false
		}
		return true, false
	}
	return false, false
}

// connackBody checks a CONNACK: acknowledge flags 0 or 1, then a 3.1.1
// return code (0–5) with nothing after, or an MQTT 5 reason code and
// properties filling the rest.
func connackBody(body []byte, rl int, whole bool) bool {
	if rl < 2 {
		return false
	}
	if len(body) >= 1 && body[0] > 1 {
		return false
	}
	if len(body) < 2 {
		return true
	}
	if rl == 2 {
		return body[1] <= 5 || isV5ConnackCode(body[1])
	}
	if !isV5ConnackCode(body[1]) {
		return false
	}
	if !whole {
		return true
	}
	n, k, st := remainingLength(body[2:], true)
	return st == lenOK && 2+k+n == rl
}

func isV5ConnackCode(c byte) bool {
	switch c {
	case 0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C,
		0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F:
		return true
	}
	return false
}

// publishBody checks a PUBLISH's topic (non-empty, valid, no wildcards)
// and packet id against its remaining length.
func publishBody(flags byte, body []byte, rl int) (bool, bool) {
	qos := flags >> 1 & 3
	need := 2
	if qos > 0 {
		need += 2
	}
	if rl < need || len(body) < 2 {
		return rl >= need, false
	}
	tl := int(body[0])<<8 | int(body[1])
	if tl == 0 || tl+need > rl {
		return false, false
	}
	if len(body) < 2+tl {
		return validTopic(body[2:], false), false
	}
	if !validTopic(body[2:2+tl], false) {
		return false, false
	}
	if qos > 0 && len(body) >= 2+tl+2 && body[2+tl] == 0 && body[3+tl] == 0 {
		return false, false
	}
	return true, true
}

// subscribeBody checks a SUBSCRIBE or UNSUBSCRIBE: a packet id, then (as
// 3.1.1 or, failing that, as MQTT 5 with properties) topic filters.
func subscribeBody(typ byte, body []byte, rl int, whole bool) bool {
	if rl < 5 {
		return false
	}
	if !whole {
		return true
	}
	return filterList(typ, body, false) || filterList(typ, body, true)
}

func filterList(typ byte, body []byte, v5 bool) bool {
	r := reader{b: body}
	if r.u16() == 0 {
		return false
	}
	if v5 {
		r.skipProps()
	}
	n := 0
	for r.left() > 0 && !r.bad {
		f := r.str()
		if r.bad || len(f) == 0 || !validTopic(f, true) {
			return false
		}
		if typ == typSubscribe {
			o := r.u8()
			if (!v5 && o > 2) || (v5 && (o&3 == 3 || o&0xc0 != 0)) {
				return false
			}
		}
		n++
	}
	return !r.bad && n > 0
}

// subackBody checks a SUBACK's packet id and return codes (3.1.1: 0, 1, 2
// or 0x80; MQTT 5 reason codes after properties).
func subackBody(body []byte, rl int, whole bool) bool {
	if rl < 3 {
		return false
	}
	if len(body) >= 2 && body[0] == 0 && body[1] == 0 {
		return false
	}
	if !whole {
		return true
	}
	v3 := true
	for _, c := range body[2:] {
		if c > 2 && c != 0x80 {
			v3 = false
			break
		}
	}
	if v3 {
		return true
	}
	r := reader{b: body, off: 2}
	r.skipProps()
	if r.bad || r.left() == 0 {
		return false
	}
	for _, c := range r.b[r.off:] {
		if c > 2 && c < 0x80 {
			return false
		}
	}
	return true
}
