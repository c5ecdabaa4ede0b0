package mqtt

import (
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Bounds of what a flow keeps beyond Limits.
const (
	maxFilters  = 16 // filters or codes listed per (UN)SUBSCRIBE/(UN)SUBACK
	maxFacts    = 96 // facts remembered to emit each once (topics included)
	maxPHITexts = 16 // distinct cleartext-phi texts per flow
)

type topicEntry struct {
	topic      string
	fromClient bool
	count      int
	bytes      uint64
	first      time.Time
	last       time.Time
}

type factKey struct {
	server bool
	attr   event.Attr
	value  string
}

type session struct {
	lim  Limits
	dc   DefaultChecker
	conn *proto.Conn
	out  proto.Sink

	lost [2]bool // direction desynchronised; waiting for a packet boundary

	level      byte // protocol level from CONNECT; 0 unknown (read as 3.1.1)
	rolesKnown bool
	swapped    bool // the engine's client is the broker

	clientID                 string
	connectSeen, connackSeen bool
	passPresent, userPresent bool
	defaultCreds             bool
	username                 string
	serverSpoke              bool

	topics        []topicEntry
	topicsDropped int
	pubs          [2]int // [0] from the client, [1] from the broker
	payload       uint64
	firstPub      time.Time
	lastPub       time.Time

	bytes      [2]uint64 // by engine direction
	first      time.Time
	last       time.Time
	lastFrame  uint64
	packets    [16]int
	malformed  int
	desyncs    int
	gaps       int
	controlObs int
	obsDropped int

	facts    []factKey
	phiTexts []string
	keys     [maxPHIKeys]string
	scratch  []byte
}

func newSession(d *Dissector, c *proto.Conn, out proto.Sink) *session {
	s := &session{lim: d.lim, dc: d.dc, conn: c, out: out}
	// Until a packet shows who is who (a flow seen from its middle), guess
	// that an endpoint on an ephemeral port (32768 and up, as Linux and
	// Windows pick them) facing one below is the client. Only directions
	// in details follow the guess; role facts wait for evidence.
	if c.Server.Port >= 32768 && c.Client.Port < 32768 {
		s.swapped = true
	}
	return s
}

func (s *session) touch(m proto.Meta) {
	if s.first.IsZero() {
		s.first = m.Time
	}
	if m.Time.After(s.last) {
		s.last = m.Time
	}
	s.lastFrame = m.Frame
}

// fromClient says whether data travelling in engine direction dir was sent
// by the MQTT client.
func (s *session) fromClient(dir proto.Dir) bool { return (dir == proto.ToServer) != s.swapped }

// learnRole fixes client and broker from a packet only one of them sends.
func (s *session) learnRole(dir proto.Dir, clientSent bool) {
	if s.rolesKnown {
		return
	}
	s.rolesKnown = true
	s.swapped = (dir == proto.ToServer) != clientSent
}

func (s *session) dirName(dir proto.Dir) string {
	if s.fromClient(dir) {
		return "to_server"
	}
	return "to_client"
}

// Feed implements proto.Session. It reads whole packets (waiting for the
// engine to gather them) up to a bound per packet type; the rest of a
// longer packet, such as a PUBLISH payload, is skipped unseen.
func (s *session) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	dir &= 1
	s.touch(m)
	if s.lost[dir] {
		if !resyncAt(data) {
			s.bytes[dir] += uint64(len(data))
			return len(data), false
		}
		s.lost[dir] = false
	}
	i := 0
	for i < len(data) {
		b := data[i:]
		typ, flags := b[0]>>4, b[0]&0xf
		if !validFlags(typ, flags) {
			s.desync(dir)
			i = len(data)
			break
		}
		rl, hl, st := remainingLength(b[1:], false)
		if st == lenShort {
			break
		}
		if st == lenBad {
			s.desync(dir)
			i = len(data)
			break
		}
		peek := s.lim.MaxPacket
		if typ == typPublish {
			peek = s.lim.PublishHead + s.lim.PayloadPeek
		}
		need := 1 + hl + min(rl, peek)
		if len(b) < need {
			break
		}
		s.packet(dir, typ, flags, b[1+hl:need], rl, m)
		i += 1 + hl + rl
	}
	s.bytes[dir] += uint64(i)
	return i, false
}

// resyncAt says whether data, the first bytes after a loss, start at a
// packet boundary: whole well-formed packets, two of them or exactly all
// of data.
func resyncAt(data []byte) bool {
	c := chain(data, 8)
	return !c.bad && (c.complete >= 2 || (c.complete == 1 && c.used == len(data)))
}

// desync gives up on dir's framing until a packet boundary shows again.
func (s *session) desync(dir proto.Dir) {
	s.lost[dir] = true
	s.desyncs++
}

// packet handles one packet; body is all of it or its first bytes when it
// is longer than the bound for its type.
func (s *session) packet(dir proto.Dir, typ, flags byte, body []byte, rl int, m proto.Meta) {
	s.packets[typ]++
	switch typ {
	case typConnect:
		s.learnRole(dir, true)
		s.connect(dir, body, rl, m)
	case typConnack:
		s.learnRole(dir, false)
		s.connack(dir, body, m)
	case typPublish:
		s.publish(dir, flags, body, rl, m)
	case typSubscribe, typUnsubscribe:
		s.learnRole(dir, true)
		s.subscribe(dir, typ, body, m)
	case typSuback, typUnsuback:
		s.learnRole(dir, false)
		s.suback(dir, typ, body, m)
	case typPingreq:
		s.learnRole(dir, true)
	case typPingresp:
		s.learnRole(dir, false)
	case typDisconnect:
		s.disconnect(dir, body, m)
	}
	if s.rolesKnown && !s.fromClient(dir) {
		s.serverSpoke = true
	}
}

func (s *session) connect(dir proto.Dir, body []byte, rl int, m proto.Meta) {
	r := reader{b: body}
	name := r.str()
	level := r.u8()
	flags := r.u8()
	keepAlive := r.u16()
	if r.bad || (level != 3 && level != 4 && level != 5) {
		s.malformed++
		return
	}
	s.level = level
	if level == 5 {
		r.skipProps()
	}
	cid := r.str()
	d := &Connect{
		Direction:     s.dirName(dir),
		ProtocolName:  text(name),
		ProtocolLevel: int(level),
		ClientID:      text(cid),
		CleanSession:  flags&0x02 != 0,
		KeepAliveS:    keepAlive,
		Will:          flags&0x04 != 0,
	}
	if d.Will {
		if level == 5 {
			r.skipProps()
		}
		d.WillTopic = text(r.str())
		d.WillQoS = int(flags >> 3 & 3)
		d.WillRetain = flags&0x20 != 0
		r.skip(r.u16())
	}
	d.UsernamePresent = flags&0x80 != 0
	d.PasswordPresent = flags&0x40 != 0
	var user, pass []byte
	if d.UsernamePresent {
		user = r.str()
		d.Username = text(user)
	}
	if d.PasswordPresent {
		pass = r.str()
	}
	switch {
	case r.bad && len(body) < rl:
		d.Truncated = true
	case r.bad:
		s.malformed++
	}
	// The password is compared once and forgotten.
	isDefault := d.PasswordPresent && !r.bad && s.dc != nil && s.dc.IsDefault(string(user), string(pass))
	pass = nil

	s.connectSeen = true
	s.clientID = d.ClientID
	s.userPresent, s.passPresent = d.UsernamePresent, d.PasswordPresent
	s.username = d.Username
	s.defaultCreds = isDefault

	o := s.conn.Observation(dir, KindConnect, m)
	o.Detail = d
	s.roleFacts(o, dir)
	if sw := clientSoftware(cid); sw != "" {
		s.fact(o, dir, event.AboutSrc, event.AttrSoftware, sw, 0.6)
	}
	if d.PasswordPresent {
		w := "user name and password in cleartext"
		if !d.UsernamePresent {
			w = "password in cleartext"
		}
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakCleartextCredentials, About: event.AboutDst, Detail: w})
	}
	s.emitControl(o)
}

func (s *session) connack(dir proto.Dir, body []byte, m proto.Meta) {
	r := reader{b: body}
	flags := r.u8()
	code := r.u8()
	if r.bad {
		s.malformed++
		return
	}
	s.connackSeen = true
	d := &Connack{
		Direction:      s.dirName(dir),
		SessionPresent: flags&1 != 0,
		ReturnCode:     int(code),
		Accepted:       code == 0,
	}
	o := s.conn.Observation(dir, KindConnack, m)
	o.Detail = d
	s.roleFacts(o, dir)
	if d.Accepted && s.connectSeen {
		switch {
		case !s.userPresent && !s.passPresent:
			o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakUnauthenticated, About: event.AboutSrc,
				Detail: "broker accepted a CONNECT without user name or password"})
		case !s.passPresent:
			o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakUnauthenticated, About: event.AboutSrc,
				Detail: "broker accepted a CONNECT with a user name but no password"})
		}
		if s.defaultCreds {
			o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakDefaultCredentials, About: event.AboutSrc,
				Detail: "broker accepted a known default user name and password (user " + s.username + ")"})
			s.defaultCreds = false
		}
	}
	s.emitControl(o)
}

func (s *session) publish(dir proto.Dir, flags byte, body []byte, rl int, m proto.Meta) {
	qos := int(flags >> 1 & 3)
	r := reader{b: body}
	topic := r.str()
	pid := 0
	if qos > 0 {
		pid = r.u16()
	}
	if s.level == 5 {
		r.skipProps()
	}
	if r.bad {
		s.malformed++
		return
	}
	payloadLen := rl - r.off
	payload := body[r.off:]
	payload = payload[:min(len(payload), s.lim.PayloadPeek)]

	client := s.fromClient(dir)
	idx := 1
	if client {
		idx = 0
	}
	s.pubs[idx]++
	s.payload += uint64(payloadLen)
	if s.firstPub.IsZero() {
		s.firstPub = m.Time
	}
	s.lastPub = m.Time
	isNew, n := s.countTopic(topic, client, payloadLen, m.Time)

	// Devices publish the same message shapes over and over: scanning the
	// first publishes of each topic and a sample after them finds the
	// patient keys a topic carries without reading every payload of a flood.
	nk := 0
	if n <= phiScanFirst || n%phiScanEvery == 0 {
		nk = phiKeys(payload, &s.keys)
	}
	var w string
	if nk > 0 {
		b := append(s.scratch[:0], "patient keys "...)
		for i, k := range s.keys[:nk] {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, k...)
		}
		b = append(b, " in PUBLISH payload"...)
		s.scratch = b
		w = s.newPHIText(b)
	}
	if !isNew && w == "" {
		return
	}
	d := &Publish{
		Direction:  s.dirName(dir),
		Topic:      text(topic),
		QoS:        qos,
		Retain:     flags&1 != 0,
		Dup:        flags&8 != 0,
		PacketID:   pid,
		PayloadLen: payloadLen,
	}
	if nk > 0 {
		d.PHIKeys = append([]string(nil), s.keys[:nk]...)
	}
	o := s.conn.Observation(dir, KindPublish, m)
	o.Detail = d
	s.roleFacts(o, dir)
	if s.rolesKnown && client {
		s.fact(o, dir, event.AboutSrc, event.AttrClient, "mqtt:publish", 0.9)
		if isNew && d.Topic != "" {
			s.fact(o, dir, event.AboutSrc, event.AttrMQTTTopic, d.Topic, 0.9)
		}
	}
	if w != "" {
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakCleartextPHI, About: event.AboutSrc, Detail: w})
	}
	s.out.Observe(o)
}

// PHI keys are looked for in the first phiScanFirst publishes of a topic
// and in every phiScanEvery-th after them.
const (
	phiScanFirst = 16
	phiScanEvery = 64
)

// countTopic counts a publication and says whether it is the first to
// this topic in this direction (among the topics the flow keeps), and how
// many the topic has had, this one included (0 when the topic is not kept).
func (s *session) countTopic(topic []byte, client bool, n int, t time.Time) (bool, uint64) {
	for i := range s.topics {
		e := &s.topics[i]
		if e.fromClient == client && e.topic == string(topic) {
			e.count++
			e.bytes += uint64(n)
			e.last = t
			return false, uint64(e.count)
		}
	}
	if len(s.topics) >= s.lim.MaxTopics {
		s.topicsDropped++
		return false, 0
	}
	s.topics = append(s.topics, topicEntry{topic: text(topic), fromClient: client, count: 1, bytes: uint64(n), first: t, last: t})
	return true, 1
}

// newPHIText returns w as a string if the flow has not reported it yet
// (and has room to remember it), else "".
func (s *session) newPHIText(w []byte) string {
	for _, t := range s.phiTexts {
		if t == string(w) {
			return ""
		}
	}
	if len(s.phiTexts) >= maxPHITexts {
		return ""
	}
	s.phiTexts = append(s.phiTexts, string(w))
	return s.phiTexts[len(s.phiTexts)-1]
}

func (s *session) subscribe(dir proto.Dir, typ byte, body []byte, m proto.Meta) {
	r := reader{b: body}
	d := &Subscribe{Direction: s.dirName(dir), PacketID: r.u16()}
	if s.level == 5 {
		r.skipProps()
	}
	for r.left() > 0 && !r.bad {
		f := r.str()
		qos := 0
		if typ == typSubscribe {
			qos = int(r.u8() & 3)
		}
		if r.bad {
			break
		}
		if len(d.Filters) < maxFilters {
			d.Filters = append(d.Filters, Filter{Topic: text(f), QoS: qos})
		} else {
			d.FiltersDropped++
		}
	}
	if r.bad && len(d.Filters) == 0 {
		s.malformed++
		return
	}
	kind := KindSubscribe
	if typ == typUnsubscribe {
		kind = KindUnsubscribe
	}
	o := s.conn.Observation(dir, kind, m)
	o.Detail = d
	s.roleFacts(o, dir)
	if typ == typSubscribe {
		s.fact(o, dir, event.AboutSrc, event.AttrClient, "mqtt:subscribe", 0.9)
	}
	s.emitControl(o)
}

func (s *session) suback(dir proto.Dir, typ byte, body []byte, m proto.Meta) {
	r := reader{b: body}
	d := &Suback{Direction: s.dirName(dir), PacketID: r.u16()}
	if r.bad {
		s.malformed++
		return
	}
	if s.level == 5 {
		r.skipProps()
	}
	for r.left() > 0 && !r.bad {
		c := int(r.u8())
		if len(d.Codes) < maxFilters {
			d.Codes = append(d.Codes, c)
		} else {
			d.CodesDropped++
		}
	}
	kind := KindSuback
	if typ == typUnsuback {
		kind = KindUnsuback
	}
	o := s.conn.Observation(dir, kind, m)
	o.Detail = d
	s.roleFacts(o, dir)
	s.emitControl(o)
}

func (s *session) disconnect(dir proto.Dir, body []byte, m proto.Meta) {
	d := &Disconnect{Direction: s.dirName(dir)}
	if len(body) > 0 {
		d.ReasonCode = int(body[0])
	}
	o := s.conn.Observation(dir, KindDisconnect, m)
	o.Detail = d
	s.roleFacts(o, dir)
	s.emitControl(o)
}

// emitControl hands over an observation other than a publication, up to
// the flow's bound; later ones are only counted.
func (s *session) emitControl(o *event.Observation) {
	if s.controlObs >= s.lim.MaxControlObs {
		s.obsDropped++
		return
	}
	s.controlObs++
	s.out.Observe(o)
}

// roleFacts marks the sender as MQTT client or broker, once each per flow,
// when the flow has shown which is which.
func (s *session) roleFacts(o *event.Observation, dir proto.Dir) {
	if !s.rolesKnown {
		return
	}
	if s.fromClient(dir) {
		s.fact(o, dir, event.AboutSrc, event.AttrClient, "mqtt", 0.9)
	} else {
		s.fact(o, dir, event.AboutSrc, event.AttrServer, "mqtt", 0.9)
	}
}

// fact adds a fact to o unless the flow reported it already.
func (s *session) fact(o *event.Observation, dir proto.Dir, about event.About, attr event.Attr, value string, conf float64) {
	if value == "" {
		return
	}
	server := s.fromClient(dir) != (about == event.AboutSrc)
	k := factKey{server: server, attr: attr, value: value}
	for _, f := range s.facts {
		if f == k {
			return
		}
	}
	if len(s.facts) >= maxFacts {
		return
	}
	s.facts = append(s.facts, k)
	o.Facts = append(o.Facts, event.Fact{About: about, Attr: attr, Value: value, Confidence: conf})
}

// Gap implements proto.Session: MQTT has no marker to find the next packet
// by, so the direction waits for data that starts at a packet boundary
// (see resyncAt).
func (s *session) Gap(dir proto.Dir, n int) {
	s.gaps++
	s.lost[dir&1] = true
}

// End implements proto.Session: the flow's summary.
func (s *session) End(m proto.Meta) {
	total := 0
	for _, n := range s.packets {
		total += n
	}
	if total == 0 {
		return
	}
	if m.Time.IsZero() {
		m.Time = s.last
	}
	d := &Summary{
		ClientID:            s.clientID,
		ProtocolLevel:       int(s.level),
		Publishes:           s.pubs[0],
		Deliveries:          s.pubs[1],
		TopicsDropped:       s.topicsDropped,
		PayloadBytes:        s.payload,
		PublishRatePerS:     rate(s.pubs[0]+s.pubs[1], s.firstPub, s.lastPub),
		Packets:             map[string]int{},
		DurationS:           s.last.Sub(s.first).Seconds(),
		RolesGuessed:        !s.rolesKnown,
		Malformed:           s.malformed,
		Desyncs:             s.desyncs,
		Gaps:                s.gaps,
		ObservationsDropped: s.obsDropped,
	}
	toServer := proto.ToServer
	if s.swapped {
		toServer = proto.ToClient
	}
	d.BytesToServer, d.BytesToClient = s.bytes[toServer], s.bytes[toServer^1]
	for t, n := range s.packets {
		if n > 0 {
			d.Packets[typeName(byte(t))] = n
		}
	}
	for _, e := range s.topics {
		dir := "deliver"
		if e.fromClient {
			dir = "publish"
		}
		d.Topics = append(d.Topics, TopicStats{Topic: e.topic, Direction: dir, Count: e.count, PayloadBytes: e.bytes,
			First: e.first.UTC(), Last: e.last.UTC(), RatePerS: rate(e.count, e.first, e.last)})
	}
	o := s.conn.Observation(toServer, KindSummary, m)
	o.Detail = d
	if s.defaultCreds && !s.connackSeen && !s.serverSpoke {
		// Only the client's side was captured: the broker's answer is
		// unknown, but the credential was offered to it.
		o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakDefaultCredentials, About: event.AboutDst,
			Detail: "known default user name and password offered (user " + s.username + "); acceptance not seen"})
	}
	s.out.Observe(o)
}

// rate is the mean rate of n events between first and last.
func rate(n int, first, last time.Time) float64 {
	d := last.Sub(first).Seconds()
	if n < 2 || d <= 0 {
		return 0
	}
	return float64(n-1) / d
}
