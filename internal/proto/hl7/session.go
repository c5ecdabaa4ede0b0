package hl7

import (
	"bytes"
	"time"

	"github.com/heir-emd/heir/internal/event"
	"github.com/heir-emd/heir/internal/proto"
)

// Observation kinds.
const (
	KindMessage = "message"
	KindAck     = "ack"
	KindSummary = "session-summary"
)

type framing uint8

const (
	framingUnknown framing = iota
	framingMLLP
	framingNone
)

func (f framing) String() string {
	if f == framingNone {
		return "none"
	}
	return "mllp"
}

// Bounds of what one message's state keeps.
const (
	maxSegNames = 32 // distinct segment names listed; more are counted as dropped
	maxPHI      = 16 // distinct patient-data segment names listed
	maxFacts    = 64 // facts remembered per flow to emit each once; more are not emitted
	maxPHITexts = 16 // distinct cleartext-phi weakness texts per flow
)

type segCount struct {
	name [3]byte
	n    int
}

// msgState is what a direction has learnt of the message in progress.
type msgState struct {
	active bool // a header segment (MSH, FHS, BHS) began it
	hasMSH bool
	batch  bool
	enc    encoding

	sendApp, sendFac, recvApp, recvFac string
	code, event, structure             string
	ctrl, proc, version                string

	hasMSA, hasERR   bool
	ackCode, ackCtrl string

	segs       [maxSegNames]segCount
	nsegs      int
	segTotal   int
	segDropped int
	phi        [maxPHI][3]byte
	phiKind    [maxPHI]uint8
	nphi       int
}

func (m *msgState) count(name [3]byte) {
	m.segTotal++
	for i := range m.segs[:m.nsegs] {
		if m.segs[i].name == name {
			m.segs[i].n++
			return
		}
	}
	if m.nsegs == len(m.segs) {
		m.segDropped++
		return
	}
	m.segs[m.nsegs] = segCount{name: name, n: 1}
	m.nsegs++
}

func (m *msgState) addPHI(name [3]byte, kind int) {
	for _, p := range m.phi[:m.nphi] {
		if p == name {
			return
		}
	}
	if m.nphi < len(m.phi) {
		m.phi[m.nphi] = name
		m.phiKind[m.nphi] = uint8(kind)
		m.nphi++
	}
}

// stream is one direction's parsing state.
type stream struct {
	framing framing
	inFrame bool // MLLP: after a start block; unframed: always once begun
	skipSeg bool // the head of the current segment was parsed; skip to its end
	inBatch bool // the current frame began with FHS or BHS
	bytes   int  // bytes of the current message (or of the frame before one)
	msg     msgState
}

type pendingMsg struct {
	ctrl string
	typ  string
	code string
	dir  proto.Dir
	time time.Time
}

type factKey struct {
	server bool
	attr   event.Attr
	value  string
	conf   float64
}

type session struct {
	lim  Limits
	conn *proto.Conn
	out  proto.Sink
	dirs [2]stream

	strs     strcache
	scratch  []byte
	facts    []factKey
	phiTexts []string
	pending  []pendingMsg

	first, last time.Time
	lastFrame   uint64
	messages    int
	types       map[string]int
	typesDrop   int
	acks        int
	ackCodes    map[string]int
	oversized   int
	truncated   int
	malformed   int
	junk        uint64
	gaps        int
}

func newSession(lim Limits, c *proto.Conn, out proto.Sink) *session {
	return &session{lim: lim, conn: c, out: out}
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

// Feed implements proto.Session.
func (s *session) Feed(dir proto.Dir, data []byte, m proto.Meta) (int, bool) {
	dir &= 1
	st := &s.dirs[dir]
	s.touch(m)
	i := 0
	for i < len(data) {
		if !st.inFrame {
			if st.framing == framingUnknown {
				if data[i] == 'M' {
					n := min(len(data)-i, len(rawStart))
					if bytes.Equal(data[i:i+n], rawStart[:n]) {
						if n < len(rawStart) {
							return i, false
						}
						st.framing = framingNone
						st.inFrame = true
						continue
					}
				}
				st.framing = framingMLLP
			}
			if st.framing == framingNone {
				st.inFrame = true
				continue
			}
			j := bytes.IndexByte(data[i:], startBlock)
			if j < 0 {
				s.countJunk(data[i:])
				return len(data), false
			}
			s.countJunk(data[i : i+j])
			i += j + 1
			st.startFrame()
			continue
		}
		if st.skipSeg {
			j := indexTerm(data[i:])
			if j < 0 {
				s.advance(dir, st, len(data)-i, m)
				return len(data), false
			}
			st.skipSeg = false
			i += j
			s.advance(dir, st, j, m)
			continue
		}
		switch data[i] {
		case '\r', '\n':
			i++
			s.advance(dir, st, 1, m)
			continue
		case endBlock:
			i++
			s.finish(dir, st, m, false)
			st.framing = framingMLLP
			st.inFrame = false
			st.inBatch = false
			continue
		case startBlock:
			i++
			if st.msg.active {
				s.finish(dir, st, m, true)
			}
			st.framing = framingMLLP
			st.startFrame()
			continue
		}
		rest := data[i:]
		seg, adv := rest, len(rest)
		if j := indexTerm(rest); j >= 0 {
			seg, adv = rest[:j], j
		} else if len(rest) < s.lim.SegmentHead {
			// Wait for the whole segment: the engine holds it.
			return i, false
		} else {
			st.skipSeg = true
		}
		// Only the head counts, whether or not the rest had arrived, so
		// that how the stream was cut never changes what is reported.
		seg = seg[:min(len(seg), s.lim.SegmentHead)]
		s.segment(dir, st, seg, m)
		i += adv
		s.advance(dir, st, adv, m)
	}
	return i, false
}

// indexTerm finds the end of a segment: a carriage return (or the line
// feed some senders use), or a framing byte.
func indexTerm(b []byte) int {
	for i, c := range b {
		if c == '\r' || c == '\n' || c == endBlock || c == startBlock {
			return i
		}
	}
	return -1
}

func (st *stream) startFrame() {
	st.inFrame = true
	st.skipSeg = false
	st.inBatch = false
	st.bytes = 1
}

// countJunk counts bytes outside any frame, except line ends (the CR that
// closes an MLLP frame, or blank lines between unframed messages).
func (s *session) countJunk(b []byte) {
	for _, c := range b {
		if c != '\r' && c != '\n' {
			s.junk++
		}
	}
}

// advance accounts n bytes to the current message and enforces the size
// bound: an oversize message is reported and the stream resynchronised.
func (s *session) advance(dir proto.Dir, st *stream, n int, m proto.Meta) {
	st.bytes += n
	if st.bytes <= s.lim.MaxMessage {
		return
	}
	if st.msg.hasMSH {
		s.oversized++
		s.emit(dir, st, m, false, true)
	} else {
		// A long frame that never began a message: not HL7 we can read.
		s.malformed++
	}
	st.msg = msgState{}
	st.bytes = 0
	st.inBatch = false
	if st.framing == framingNone {
		// No frame to resynchronise on: skip to the next segment and
		// wait for the next MSH.
		st.skipSeg = true
		return
	}
	st.inFrame = false
	st.skipSeg = false
}

// segment handles one segment (or the head of a long one).
func (s *session) segment(dir proto.Dir, st *stream, seg []byte, m proto.Meta) {
	if len(seg) < 3 || !isSegName(seg[:3]) {
		s.malformed++
		return
	}
	var name [3]byte
	copy(name[:], seg)
	switch string(name[:]) {
	case "MSH", "FHS", "BHS":
		var enc encoding
		if !parseEncoding(seg, &enc) {
			s.malformed++
			return
		}
		if name[0] != 'M' {
			st.inBatch = true
			if !st.msg.active {
				st.msg = msgState{active: true, enc: enc}
			}
			return
		}
		if st.msg.active {
			s.finish(dir, st, m, false)
		}
		if st.framing == framingNone {
			// Unframed messages end only where the next begins; an
			// answer from the peer ends the one it answers.
			if o := &s.dirs[dir^1]; o.framing == framingNone && o.msg.hasMSH {
				s.finish(dir^1, o, m, false)
			}
		}
		st.msg = msgState{active: true, hasMSH: true, batch: st.inBatch, enc: enc}
		st.bytes = 0
		st.msg.header(seg, &s.strs)
		st.msg.count(name)
		return
	case "BTS", "FTS":
		return
	}
	msg := &st.msg
	if !msg.active {
		// A segment outside any message: the frame is not HL7 as we
		// know it, or a capture began mid-message.
		s.malformed++
		return
	}
	msg.count(name)
	switch string(name[:]) {
	case "MSA":
		msg.hasMSA = true
		msg.ackCode = s.strs.get(component(field(seg, msg.enc.field, 1, false), msg.enc.comp, 1))
		msg.ackCtrl = text(component(field(seg, msg.enc.field, 2, false), msg.enc.comp, 1))
	case "ERR":
		msg.hasERR = true
	}
	if k := phiKind(name, seg, &msg.enc); k != 0 {
		msg.addPHI(name, k)
	}
}

// header reads the MSH fields the detail reports.
func (m *msgState) header(seg []byte, strs *strcache) {
	f := func(n int) []byte { return field(seg, m.enc.field, n, true) }
	c1 := func(n int) string { return strs.get(component(f(n), m.enc.comp, 1)) }
	m.sendApp, m.sendFac = c1(3), c1(4)
	m.recvApp, m.recvFac = c1(5), c1(6)
	typ := f(9)
	m.code = strs.get(component(typ, m.enc.comp, 1))
	m.event = strs.get(component(typ, m.enc.comp, 2))
	m.structure = strs.get(component(typ, m.enc.comp, 3))
	m.ctrl = text(f(10))
	m.proc = c1(11)
	m.version = c1(12)
}

// finish ends the message in progress in st and reports it.
func (s *session) finish(dir proto.Dir, st *stream, m proto.Meta, truncated bool) {
	if st.msg.hasMSH {
		s.emit(dir, st, m, truncated, false)
	}
	st.msg = msgState{}
	st.bytes = 0
}

// msgType joins a message code and trigger event as "ADT^A01".
func (s *session) msgType(code, ev string) string {
	if ev == "" {
		return code
	}
	s.scratch = append(append(append(s.scratch[:0], code...), '^'), ev...)
	return s.strs.get(s.scratch)
}

func appValue(app, fac string) string {
	if fac == "" {
		return app
	}
	return app + "^" + fac
}

// emit reports the message in st.
func (s *session) emit(dir proto.Dir, st *stream, m proto.Meta, truncated, oversize bool) {
	msg := &st.msg
	isAck := msg.code == "ACK" || msg.code == "MCF"
	kind := KindMessage
	if isAck {
		kind = KindAck
	}
	typ := s.msgType(msg.code, msg.event)
	d := &Detail{
		Direction:            dirName(dir),
		Framing:              st.framing.String(),
		FieldSeparator:       string(msg.enc.field),
		EncodingCharacters:   string(msg.enc.chars[:msg.enc.n]),
		SendingApplication:   msg.sendApp,
		SendingFacility:      msg.sendFac,
		ReceivingApplication: msg.recvApp,
		ReceivingFacility:    msg.recvFac,
		MessageType:          typ,
		MessageCode:          msg.code,
		TriggerEvent:         msg.event,
		MessageStructure:     msg.structure,
		ControlID:            msg.ctrl,
		ProcessingID:         msg.proc,
		Version:              msg.version,
		SegmentCount:         msg.segTotal,
		SegmentsDropped:      msg.segDropped,
		Size:                 st.bytes,
		Batch:                msg.batch,
		Truncated:            truncated,
		Oversize:             oversize,
		ErrSegment:           msg.hasERR,
	}
	d.Segments = make([]SegmentCount, msg.nsegs)
	for i, sc := range msg.segs[:msg.nsegs] {
		d.Segments[i] = SegmentCount{Name: s.strs.get(sc.name[:]), Count: sc.n}
	}
	identified := false
	for _, k := range msg.phiKind[:msg.nphi] {
		if k == 1 {
			identified = true
		}
	}
	if identified {
		d.PHISegments = make([]string, msg.nphi)
		for i, p := range msg.phi[:msg.nphi] {
			d.PHISegments[i] = s.strs.get(p[:])
		}
	}
	ackedCode := ""
	if msg.hasMSA {
		d.AckCode, d.AckControlID = msg.ackCode, msg.ackCtrl
		if p, ok := s.takePending(dir.Reverse(), msg.ackCtrl); ok {
			d.AckedType = p.typ
			ackedCode = p.code
			if lat := m.Time.Sub(p.time); lat >= 0 {
				d.AckLatencyMS = float64(lat.Microseconds()) / 1000
			}
		}
	}
	o := s.conn.Observation(dir, kind, m)
	o.Detail = d
	s.addFacts(o, dir, msg, isAck, ackedCode)
	if identified {
		w := s.scratch[:0]
		for i, p := range d.PHISegments {
			if i > 0 {
				w = append(w, ", "...)
			}
			w = append(w, p...)
		}
		w = append(append(w, " segments in "...), typ...)
		s.scratch = w
		if s.newPHIText(w) {
			o.Weaknesses = append(o.Weaknesses, event.Weakness{Kind: event.WeakCleartextPHI, About: event.AboutSrc, Detail: s.phiTexts[len(s.phiTexts)-1]})
		}
	}
	if !isAck && msg.ctrl != "" {
		s.addPending(pendingMsg{ctrl: msg.ctrl, typ: typ, code: msg.code, dir: dir, time: m.Time})
	}
	s.count(isAck, typ, msg.ackCode, truncated)
	s.out.Observe(o)
}

func dirName(d proto.Dir) string {
	if d == proto.ToClient {
		return "to_client"
	}
	return "to_server"
}

func (s *session) count(isAck bool, typ, ackCode string, truncated bool) {
	if truncated {
		s.truncated++
	}
	if isAck {
		s.acks++
		if ackCode != "" {
			if s.ackCodes == nil {
				s.ackCodes = map[string]int{}
			}
			if _, ok := s.ackCodes[ackCode]; ok || len(s.ackCodes) < s.lim.MaxTypes {
				s.ackCodes[ackCode]++
			}
		}
		return
	}
	s.messages++
	if s.types == nil {
		s.types = map[string]int{}
	}
	if _, ok := s.types[typ]; ok || len(s.types) < s.lim.MaxTypes {
		s.types[typ]++
	} else {
		s.typesDrop++
	}
}

func (s *session) addPending(p pendingMsg) {
	if len(s.pending) >= s.lim.MaxPending {
		copy(s.pending, s.pending[1:])
		s.pending = s.pending[:len(s.pending)-1]
	}
	s.pending = append(s.pending, p)
}

func (s *session) takePending(dir proto.Dir, ctrl string) (pendingMsg, bool) {
	if ctrl == "" {
		return pendingMsg{}, false
	}
	for i, p := range s.pending {
		if p.dir == dir && p.ctrl == ctrl {
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			return p, true
		}
	}
	return pendingMsg{}, false
}

// newPHIText records weakness text w and says whether it is new to the
// flow; the flow keeps at most maxPHITexts, and reports no more after.
func (s *session) newPHIText(w []byte) bool {
	for _, t := range s.phiTexts {
		if t == string(w) {
			return false
		}
	}
	if len(s.phiTexts) >= maxPHITexts {
		return false
	}
	s.phiTexts = append(s.phiTexts, string(w))
	return true
}

// strcache keeps the strings a flow repeats (application names, message
// types, versions, segment names) so that each message does not allocate
// them again. When full, the oldest entry is replaced.
type strcache struct {
	s       [32]string
	n, next int
}

func (c *strcache) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	for _, v := range c.s[:c.n] {
		if v == string(b) {
			return v
		}
	}
	v := text(b)
	if v != string(b) {
		// Cleaned or cut: rare, not worth a slot.
		return v
	}
	c.s[c.next] = v
	c.next = (c.next + 1) % len(c.s)
	if c.n < len(c.s) {
		c.n++
	}
	return v
}

// addFacts adds to o the facts the message reveals that this flow has not
// reported yet.
func (s *session) addFacts(o *event.Observation, dir proto.Dir, msg *msgState, isAck bool, ackedCode string) {
	add := func(about event.About, attr event.Attr, value string, conf float64) {
		if value == "" {
			return
		}
		// Which endpoint: the sender is the server when data flows to
		// the client.
		server := (dir == proto.ToClient) == (about == event.AboutSrc)
		k := factKey{server: server, attr: attr, value: value, conf: conf}
		for i, f := range s.facts {
			if f.server == k.server && f.attr == k.attr && f.value == k.value {
				if f.conf >= conf {
					return
				}
				// Said again with more authority (by the endpoint
				// itself): worth reporting once more.
				s.facts[i].conf = conf
				o.Facts = append(o.Facts, event.Fact{About: about, Attr: attr, Value: value, Confidence: conf})
				return
			}
		}
		if len(s.facts) >= maxFacts {
			return
		}
		s.facts = append(s.facts, k)
		o.Facts = append(o.Facts, event.Fact{About: about, Attr: attr, Value: value, Confidence: conf})
	}
	// MSH-3/4 are the sender's own statement; MSH-5/6 only what the
	// sender believes its peer is called.
	add(event.AboutSrc, event.AttrHL7App, appValue(msg.sendApp, msg.sendFac), 0.9)
	add(event.AboutDst, event.AttrHL7App, appValue(msg.recvApp, msg.recvFac), 0.7)
	if dir == proto.ToClient {
		add(event.AboutSrc, event.AttrServer, "hl7", 0.9)
		if isAck && ackedCode != "" {
			add(event.AboutSrc, event.AttrServer, "hl7:"+ackedCode, 0.9)
		}
	}
	if !isAck {
		add(event.AboutSrc, event.AttrClient, "hl7", 0.9)
		if msg.code != "" {
			add(event.AboutSrc, event.AttrClient, "hl7:"+msg.code, 0.9)
		}
	}
}

// Gap implements proto.Session: the message in progress is reported as
// truncated and the direction resynchronises on the next start block (or,
// unframed, on the next MSH segment).
func (s *session) Gap(dir proto.Dir, n int) {
	dir &= 1
	st := &s.dirs[dir]
	s.gaps++
	if st.msg.hasMSH {
		s.emit(dir, st, proto.Meta{Time: s.last, Frame: s.lastFrame}, true, false)
	}
	st.msg = msgState{}
	st.bytes = 0
	st.inBatch = false
	if st.framing == framingNone {
		st.skipSeg = true
		return
	}
	st.inFrame = false
	st.skipSeg = false
}

// End implements proto.Session: unframed messages end here; framed ones
// still open are reported as truncated; then the flow's summary.
func (s *session) End(m proto.Meta) {
	if m.Time.IsZero() {
		m.Time = s.last
	}
	for d := range s.dirs {
		st := &s.dirs[d]
		if st.msg.hasMSH {
			s.emit(proto.Dir(d), st, m, st.framing != framingNone, false)
		}
		st.msg = msgState{}
	}
	if s.messages+s.acks == 0 {
		return
	}
	det := &Detail{
		Messages:      s.messages,
		MessageTypes:  s.types,
		TypesDropped:  s.typesDrop,
		Acks:          s.acks,
		AckCodes:      s.ackCodes,
		Unacked:       len(s.pending),
		Oversized:     s.oversized,
		TruncatedMsgs: s.truncated,
		Malformed:     s.malformed,
		JunkBytes:     s.junk,
		Gaps:          s.gaps,
		DurationS:     s.last.Sub(s.first).Seconds(),
	}
	o := s.conn.Observation(proto.ToServer, KindSummary, m)
	o.Detail = det
	s.out.Observe(o)
}
